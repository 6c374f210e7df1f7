"""Audio input policy shared by every entry point (files, arrays, HTTP uploads).

* Channels: multi-channel audio is **averaged** to mono (the original summed, changing levels).
* Sample rate: other rates are resampled with librosa's default (soxr high quality).
* Length: ``fit_length`` zero-pads at the end or crops the end (NSynth notes start at the onset).
* NaN/inf: rejected with a clear error, on reading and on writing; silence is fine.
* Float samples above full scale are scaled down to peak at 1.0 (said in a note); sample rates
  below ``MIN_SAMPLE_RATE`` and WAV files whose data chunk is cut short are refused.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch

from .errors import AudioInputError

log = logging.getLogger(__name__)


def to_mono(audio: np.ndarray, *, channels_last: bool = True) -> np.ndarray:
    """[N] or [N, C] (soundfile layout) → [N] by averaging channels."""
    if audio.ndim == 1:
        return audio
    if audio.ndim != 2:
        raise AudioInputError(f"audio must be 1-D or 2-D, got shape {audio.shape}")
    return audio.mean(axis=1 if channels_last else 0)


def check_finite(audio: np.ndarray | torch.Tensor, what: str = "audio") -> None:
    """Raise on NaN or ±inf. For float tensors via ``aminmax`` (which propagates NaN): one reduction
    without a boolean temporary, ~10× cheaper than ``isfinite(x).all()`` on a batch of notes."""
    if isinstance(audio, torch.Tensor):
        if not audio.is_floating_point() or audio.numel() == 0:
            return
        low, high = torch.aminmax(audio.detach())
        finite = torch.isfinite(low) & torch.isfinite(high)
    else:
        finite = np.isfinite(audio).all()
    if not bool(finite):
        raise AudioInputError(f"{what} contains NaN or infinite samples")


def resample(audio: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    if orig_sr == target_sr:
        return audio
    if orig_sr <= 0:
        raise AudioInputError(f"invalid sample rate {orig_sr}")
    import librosa

    return librosa.resample(np.ascontiguousarray(audio, dtype=np.float32), orig_sr=orig_sr, target_sr=target_sr)


def fit_length(audio: torch.Tensor, length: int) -> torch.Tensor:
    """Zero-pad or crop the last axis to ``length`` samples (at the end)."""
    n = audio.shape[-1]
    if n == length:
        return audio
    if n > length:
        return audio[..., :length]
    return torch.nn.functional.pad(audio, (0, length - n))


class AudioTooLongError(AudioInputError):
    """Audio longer than an entry point accepts (checked from the header, before decoding)."""


#: Lowest sample rate accepted from a file: below it a header is almost surely wrong (a 1 Hz file
#: would turn 10 samples into 10 s of audio).
MIN_SAMPLE_RATE = 1000
_OBJECT_REPR = re.compile(r"<[\w.]+ object at 0x[0-9a-fA-F]+>")


def _reason(exc: Exception, label: str) -> str:
    """soundfile's message without object reprs such as ``<_io.BytesIO object at 0x…>``."""
    text = getattr(exc, "error_string", None) or str(exc)
    return _OBJECT_REPR.sub(label, text)


def _header_checks(target: Any, label: str, max_seconds: float | None) -> None:
    """Refuse, from the header alone, implausible sample rates, audio longer than ``max_seconds``
    and WAV files whose data chunk is cut short."""
    import soundfile as sf

    from .wav_header import read_data_chunk

    info = sf.info(target)
    if hasattr(target, "seek"):
        target.seek(0)
    if info.samplerate < MIN_SAMPLE_RATE:
        raise AudioInputError(
            f"{label}: sample rate {info.samplerate} Hz is below {MIN_SAMPLE_RATE} Hz (is the header wrong?)"
        )
    if max_seconds is not None and info.frames / info.samplerate > max_seconds:
        raise AudioTooLongError(
            f"{label}: audio is {info.frames / info.samplerate:.1f} s long; the limit is {max_seconds:g} s"
        )
    if hasattr(target, "read"):
        chunk = read_data_chunk(target)
    else:
        with open(target, "rb") as handle:
            chunk = read_data_chunk(handle)
    if chunk is not None and chunk.truncated:
        rate = info.samplerate
        raise AudioInputError(
            f"{label}: WAV data is cut short: the header promises {chunk.declared_frames / rate:.2f} s "
            f"({chunk.declared_frames} frames) but the file holds {chunk.present_frames / rate:.2f} s "
            "(an incomplete download or copy?)"
        )


def read_audio(
    source: str | Path | BinaryIO, sample_rate: int, what: str | None = None, max_seconds: float | None = None
) -> tuple[torch.Tensor, list[str]]:
    """Read a file path or binary file object with soundfile → (mono float32 tensor [N] at
    ``sample_rate``, notes). ``notes`` says in one line each what was done to the audio beyond
    the policy above (e.g. float samples above full scale scaled down). Implausible sample rates,
    truncated WAV data and, with ``max_seconds``, longer audio are refused from the header before
    decoding (a small compressed file can hold hours of audio)."""
    import soundfile as sf

    label = what or str(source)
    target = source if hasattr(source, "read") else str(source)
    try:
        _header_checks(target, label, max_seconds)
        data, sr = sf.read(target, dtype="float32", always_2d=True)
    except AudioInputError:
        raise
    except Exception as exc:  # soundfile raises LibsndfileError/RuntimeError for corrupt files
        raise AudioInputError(f"{label}: cannot read audio ({type(exc).__name__}: {_reason(exc, label)})") from exc
    if data.size == 0:
        raise AudioInputError(f"{label}: audio is empty")
    mono = to_mono(data)
    check_finite(mono, label)
    notes = []
    peak = float(np.abs(mono).max())
    if peak > 1.0:
        mono = mono / peak
        notes.append(f"{label}: samples peak at {peak:.3g}× full scale; scaled down by {1 / peak:.3g} to peak at 1.0")
    return torch.from_numpy(np.ascontiguousarray(resample(mono, sr, sample_rate), dtype=np.float32)), notes


def load_audio(
    source: str | Path | BinaryIO, sample_rate: int, what: str | None = None, max_seconds: float | None = None
) -> torch.Tensor:
    """`read_audio` with its notes logged as warnings."""
    audio, notes = read_audio(source, sample_rate, what, max_seconds)
    for note in notes:
        log.warning("%s", note)
    return audio


def read_audio_bytes(
    data: bytes, sample_rate: int, what: str = "upload", max_seconds: float | None = None
) -> tuple[torch.Tensor, list[str]]:
    """`read_audio` for in-memory bytes (HTTP uploads: the notes go back to the client)."""
    import io

    return read_audio(io.BytesIO(data), sample_rate, what, max_seconds)


def decode_audio_bytes(
    data: bytes, sample_rate: int, what: str = "upload", max_seconds: float | None = None
) -> torch.Tensor:
    """Like ``load_audio`` for in-memory bytes."""
    import io

    return load_audio(io.BytesIO(data), sample_rate, what, max_seconds)


def prepare_batch(audio: torch.Tensor | np.ndarray, length: int | None = None) -> torch.Tensor:
    """Any [N] or [B, N] array → float32 tensor [B, N]; optional pad/crop to ``length``."""
    tensor = torch.as_tensor(audio, dtype=torch.float32)
    if tensor.dim() == 1:
        tensor = tensor.unsqueeze(0)
    if tensor.dim() != 2 or tensor.shape[-1] == 0:
        raise AudioInputError(f"audio batch must be [B, N] with N > 0, got {tuple(tensor.shape)}")
    check_finite(tensor)
    return fit_length(tensor, length) if length is not None else tensor


def _pcm_ready(audio: torch.Tensor | np.ndarray) -> np.ndarray:
    """float32 samples clipped to [-1, 1]; non-finite audio is refused (NaN would become a
    full-scale -32768 in every sample)."""
    data = np.asarray(torch.as_tensor(audio).detach().cpu(), dtype=np.float32)
    check_finite(data, "audio to write")
    return np.clip(data, -1.0, 1.0)


def write_wav(path: str | Path, audio: torch.Tensor | np.ndarray, sample_rate: int) -> None:
    """16-bit PCM WAV, written atomically; samples are clipped to [-1, 1]; NaN/inf is an
    `AudioInputError` and nothing is written."""
    import soundfile as sf

    from .atomic import atomic_path

    try:
        data = _pcm_ready(audio)
    except AudioInputError as exc:
        raise AudioInputError(f"{path}: {exc}; nothing written") from None
    with atomic_path(path) as tmp:
        sf.write(str(tmp), data, sample_rate, subtype="PCM_16", format="WAV")


def wav_bytes(audio: torch.Tensor | np.ndarray, sample_rate: int) -> bytes:
    """In-memory 16-bit PCM WAV (same policy as `write_wav`)."""
    import io

    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, _pcm_ready(audio), sample_rate, subtype="PCM_16", format="WAV")
    return buffer.getvalue()
