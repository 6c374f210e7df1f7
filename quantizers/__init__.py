"""Quantizers: spectrogram → hierarchical integer codemaps (VQ-VAE-2, FSQ)."""
