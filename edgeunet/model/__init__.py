"""The UNet, its checkpoints, its losses (torch: the [train] extra)."""
