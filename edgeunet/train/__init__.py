"""The training loop, its config, and the pictures that show a model learn."""
