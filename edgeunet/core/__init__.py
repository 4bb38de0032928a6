"""Shared ground every stage stands on: errors, ModelSpec, atomic writes and hashes, images, pre/postprocessing,
metrics, tables, the ONNX file format, overlays. Imports nothing above it."""
