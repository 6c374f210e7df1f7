"""Audio-quality and codebook metrics (spectral distances, pitch accuracy, code usage)."""
