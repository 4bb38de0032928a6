"""Handing a model to servers (Triton, DeepStream) and checking the machine it runs on (doctor)."""
