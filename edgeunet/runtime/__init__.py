"""The backends table (registry), the Backend base class and its options, the torch / ONNX Runtime / TensorRT backends, and Segmenter (the Python API)."""
