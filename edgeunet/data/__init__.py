"""Folder datasets (images/ + masks/ by stem), splits, mask mapping, augmentation, synthetic data."""
