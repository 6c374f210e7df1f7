"""Audio ↔ spectrogram representations (STFT-IF, Mel-IF variants) and normalisers."""
