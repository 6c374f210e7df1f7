"""Audio ↔ spectrogram representations (STFT-IF, Mel-IF variants) and normalisers.

Plugins (entry points): ``stft-if`` (stft_if.StftIF), ``mel-if`` / ``gansynth-mel-if`` / ``paper-mel-if``
(mel_if.MelIF, GansynthMelIF, PaperMelIF), normaliser ``affine`` (normalizer.AffineNormalizer).
Building blocks: mel_filterbank (magenta's matrix with a break frequency), stft_layout (magenta and
notono layouts, exact inverse STFT), phase (IF helpers), mel_inverse (pseudo-inverse, NNLS, Griffin-Lim),
sparse_matmul, chunking, checks (input policy and phase threshold), render (PNG images).
Nothing is imported here, so the registry stays lazy.
"""
