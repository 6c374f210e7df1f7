"""One training engine for every trainable plugin (single process or torchrun + DDP)."""
