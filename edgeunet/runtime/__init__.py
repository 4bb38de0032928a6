"""The Backend protocol, the torch / ONNX Runtime / TensorRT backends, and Segmenter (the Python API)."""
