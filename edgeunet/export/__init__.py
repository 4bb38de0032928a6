"""From a checkpoint to deployable files: ONNX export, inspect, INT8 calibration, fp16, build-engine."""
