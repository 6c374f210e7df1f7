"""Mel-IF encode + decode throughput: the batched torch representation against a per-note NumPy
implementation of magenta's recipe (float64, dense matrices, one note at a time) in the same run.

``extra_info``: ``notes``, ``batched_s`` / ``numpy_per_note_s`` and ``batched_speedup`` (goal ≥ 10× on
CPU) for the magenta-faithful ``pseudo`` inverse, also on one thread each (``batched_1thread_speedup``,
the like-for-like number on a shared machine), and again after ``torch.set_num_threads``
(``after_set_num_threads_vs_before``, ~1: see MelIF._encode_fast); ``griffin_lim_decode_s`` and
``griffin_lim_cost_vs_pseudo`` (what the better default inverse costs on top); ``stft_if_*`` for the
linear representation. Runs on CUDA when present (``bench_device``)."""

from __future__ import annotations

import contextlib

import numpy as np
import torch

from fakes.notes import note_batch
from specinpaint.representations.mel_filterbank import magenta_pseudo_inverse, mel_weight_matrix
from specinpaint.representations.mel_if import GansynthMelIF
from specinpaint.representations.stft_if import StftIF

N, N_FFT, HOP, FRAMES, EPS = 64000, 2048, 512, 128, 1e-6


def numpy_round_trip(audio: np.ndarray, matrix: np.ndarray, inverse: np.ndarray) -> np.ndarray:
    """magenta's Mel-IF encode and pseudo-inverse decode for ONE note, in float64 NumPy."""
    pad = HOP * (FRAMES - 1) + N_FFT - audio.shape[0]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)
    padded = np.concatenate([np.zeros(pad), audio.astype(np.float64)])
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP] * window
    stft = np.fft.rfft(frames, axis=1)[:, 1:]
    logmag = np.log(np.abs(stft) + EPS)
    phase = np.unwrap(np.angle(stft), axis=0)
    inst = np.concatenate([phase[:1], np.diff(phase, axis=0)]) / np.pi
    logmel = np.log(np.exp(2 * logmag) @ matrix + EPS)
    mel_phase = np.unwrap(np.cumsum(inst * np.pi, axis=0) @ matrix, axis=0)
    mel_if = np.concatenate([mel_phase[:1], np.diff(mel_phase, axis=0)]) / np.pi
    # decode
    magnitude = np.sqrt(np.exp(logmel) @ inverse + EPS)
    lin_phase = np.cumsum(mel_if * np.pi, axis=0) @ inverse
    spectrum = np.concatenate([np.zeros((FRAMES, 1)), magnitude * np.exp(1j * lin_phase)], axis=1)
    segments = np.fft.irfft(spectrum, n=N_FFT, axis=1) * window
    out = np.zeros(HOP * (FRAMES - 1) + N_FFT)
    for t in range(FRAMES):
        out[t * HOP:t * HOP + N_FFT] += segments[t]
    return out[pad:] / 1.5  # magenta's constant window normalisation (periodic Hann, 75 % overlap)


@contextlib.contextmanager
def single_thread():
    """torch and NumPy's BLAS on one thread each (threadpoolctl comes with librosa's scikit-learn)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            limits = contextlib.nullcontext()
        else:
            limits = threadpool_limits(1)
        with limits:
            yield
    finally:
        torch.set_num_threads(threads)


def test_mel_if_throughput(benchmark, pick_size, bench_device, timer, record_ratio):
    count = pick_size(tiny=4, small=64, full=64)
    notes = note_batch([36 + (i * 7) % 49 for i in range(count)])
    rep = GansynthMelIF(GansynthMelIF.Params(inverse="pseudo")).to(bench_device)
    batch = notes.to(bench_device)

    def batched():
        with torch.no_grad():
            return rep.decode(rep.encode(batch), N)

    out = benchmark.pedantic(batched, rounds=1 if count <= 4 else 3, iterations=1, warmup_rounds=1)
    assert out.shape == (count, N) and torch.isfinite(out).all()

    matrix = np.asarray(mel_weight_matrix())
    inverse = magenta_pseudo_inverse(matrix)
    subset = notes[: min(count, 8)].numpy()  # per-note cost is constant: time a few, scale up

    def reference():
        return [numpy_round_trip(note, matrix, inverse) for note in subset]

    ref = reference()
    # min over interleaved repeats: robust to other processes sharing the CPU
    per_note = min(timer(reference, repeats=1) for _ in range(2)) / len(subset)
    batched_s = min(timer(batched, repeats=1) for _ in range(3))
    speedup = record_ratio("batched", batched_s, "numpy_per_note", per_note * count)
    benchmark.extra_info.update(notes=count, goal_speedup=10.0, speedup_meets_goal=speedup >= 10.0)
    if bench_device.type == "cpu":
        # torch.set_num_threads (even to the current count) switches MKL's dynamic threading off, after
        # which vector math on strided tensors nests threads: the fast paths must not slow down
        torch.set_num_threads(torch.get_num_threads())
        after_set = min(timer(batched, repeats=1) for _ in range(3))
        benchmark.extra_info.update(batched_after_set_num_threads_s=after_set,
                                    after_set_num_threads_vs_before=after_set / batched_s)
        # like for like on one core (torch intra-op and NumPy's BLAS)
        with single_thread():
            one_ref = timer(reference, repeats=1) / len(subset) * count
            one_batched = min(timer(batched, repeats=1) for _ in range(2))
        benchmark.extra_info.update(
            batched_1thread_s=one_batched, numpy_per_note_1thread_s=one_ref,
            batched_1thread_speedup=one_ref / one_batched,
        )

    # the torch pseudo inverse reproduces the NumPy recipe (same formulas) away from the tail
    interior = slice(0, N - N_FFT)
    ours = out[: len(subset)].cpu().numpy()[:, interior]
    theirs = np.stack(ref)[:, interior]
    assert np.sqrt(np.mean((ours - theirs) ** 2)) < 1e-3 * max(np.abs(theirs).max(), 1e-6)

    better = GansynthMelIF(GansynthMelIF.Params()).to(bench_device)  # default: griffin-lim
    spec = rep.encode(batch)
    pseudo_s = timer(lambda: rep.decode(spec, N), repeats=1)
    gl_s = timer(lambda: better.decode(spec, N), repeats=1)
    benchmark.extra_info.update(
        pseudo_decode_s=pseudo_s, griffin_lim_decode_s=gl_s, griffin_lim_cost_vs_pseudo=gl_s / pseudo_s,
        griffin_lim_iters=better.p.griffin_lim_iters,
    )


def test_stft_if_throughput(benchmark, pick_size, bench_device, timer):
    count = pick_size(tiny=4, small=64, full=64)
    batch = note_batch([48 + i % 24 for i in range(count)]).to(bench_device)
    rep = StftIF(StftIF.Params()).to(bench_device)

    def round_trip():
        with torch.no_grad():
            return rep.decode(rep.encode(batch), N)

    out = benchmark.pedantic(round_trip, rounds=1 if count <= 4 else 3, iterations=1, warmup_rounds=1)
    error = (out - batch)[:, : N - N_FFT].pow(2).mean().sqrt().item()
    assert error < 1e-4
    seconds = timer(round_trip, repeats=1)
    benchmark.extra_info.update(
        notes=count, stft_if_round_trip_s=seconds, stft_if_notes_per_s=count / seconds, stft_if_rms_error=error
    )
