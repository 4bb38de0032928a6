"""Scoring a model file: evaluate, infer, and the accuracy gate every converted precision passes."""
