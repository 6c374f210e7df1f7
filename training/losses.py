"""Optional terms and transforms of the VQ-VAE objective.

* Multi-resolution STFT loss on decoded audio: spectral convergence plus L1 on log magnitudes,
  averaged over FFT sizes (hop = n_fft / 4, Hann window), the common recipe (DDSP/Parallel
  WaveGAN). It compares the decoded audio with the audio that went in, so the representation's own
  inverse is inside the loss.
* Level convergence: spectral convergence of the level channel in linear magnitude.
* ``cleaned_output``: the decoder output as the representation will use it (after its ``clean``,
  e.g. the paper's phase-threshold mask), back in normalised units.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from specinpaint.core.normalizer import Normalizer
from specinpaint.core.representation import Representation


def _magnitude(audio: torch.Tensor, n_fft: int) -> torch.Tensor:
    window = torch.hann_window(n_fft, device=audio.device, dtype=audio.dtype)
    spec = torch.stft(audio, n_fft, hop_length=n_fft // 4, window=window, center=True, return_complex=True)
    return spec.abs().clamp(min=1e-7)


def multi_resolution_stft_loss(
    prediction: torch.Tensor, target: torch.Tensor, fft_sizes: Sequence[int] = (512, 1024, 2048)
) -> torch.Tensor:
    """Audio [B, N] × [B, N] → scalar (fp32). FFT sizes longer than the signal are skipped."""
    prediction, target = prediction.float(), target.float()
    length = min(prediction.shape[-1], target.shape[-1])
    prediction, target = prediction[..., :length], target[..., :length]
    terms = []
    for n_fft in fft_sizes:
        if n_fft > length:
            continue
        pred, ref = _magnitude(prediction, n_fft), _magnitude(target, n_fft)
        convergence = torch.linalg.vector_norm(ref - pred, dim=(-2, -1)) / torch.linalg.vector_norm(ref, dim=(-2, -1))
        log_l1 = (ref.log() - pred.log()).abs().mean(dim=(-2, -1))
        terms.append((convergence + log_l1).mean())
    if not terms:
        return prediction.new_zeros(())
    return torch.stack(terms).mean()


def level_convergence_loss(prediction: torch.Tensor, target: torch.Tensor, power: bool) -> torch.Tensor:
    """Spectral convergence of the linear magnitudes behind a log level channel ``[B, F, T]``:
    ``‖exp(ŷ) − exp(y)‖ / ‖exp(y)‖`` per note, averaged (``power``: the channel is log power, so the
    magnitude is ``exp(y / 2)``).

    Why: a squared error on log levels treats a harmonic peak and the noise floor alike, and its
    blur lowers the peaks (the decoded note comes out quiet and its pitch fades). In linear
    magnitude the loud bins dominate, so this term keeps the harmonics and the level."""
    scale = 0.5 if power else 1.0
    pred, ref = (prediction.float() * scale).exp(), (target.float() * scale).exp()
    norm = torch.linalg.vector_norm(ref, dim=(-2, -1)).clamp_min(1e-7)
    return (torch.linalg.vector_norm(ref - pred, dim=(-2, -1)) / norm).mean()


def cleaned_output(recon: torch.Tensor, representation: Representation, normalizer: Normalizer) -> torch.Tensor:
    """``normalize(clean(denormalize(recon)))``: the normalised decoder output after the
    representation's ``clean``, which is defined on raw units (hence the round trip).

    For the paper's phase threshold this clamps the level to the threshold and sets IF to the value
    that means 0, wherever the decoded level is at or below the threshold; there the loss against a
    target that is masked too is zero and has no gradient (the original trained on the masked output,
    so the decoder was never asked to reproduce what the mask removes). In normalised units the mask
    is the same per-channel affine image of the raw one, so the loss keeps the project's units and
    channel weights. Differentiable; computed in float32."""
    return normalizer.normalize(representation.clean(normalizer.denormalize(recon.float())))
