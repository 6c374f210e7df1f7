"""The pitch-informed mel inversion (``harmonic_inverse``): given the notes' pitches, NNLS starts from
a comb on their harmonics, so bright notes come back closer to the raw ones at coarse mel
resolutions; an unknown pitch decodes exactly as without one; batches sliced for the CPU keep each
note's own pitch; the pipeline hands its labels to the inversion."""

from __future__ import annotations

import pytest
import torch

from fakes.notes import harmonic_note
from specinpaint.core.conditioning import NULL_LABEL, Conditioning
from specinpaint.core.pipeline import build_pipeline
from specinpaint.metrics.spectral import SpectralConvergence
from specinpaint.representations.chunking import notes_per_chunk
from specinpaint.representations.mel_if import MelIF, MelIFParams

SAMPLES = 32000  # 2 s: the gain does not depend on the note's length
PITCHES = [40, 52, 64, 76]
TINY = dict(n_mels=256, mel_break_frequency_hz=275.0)  # tiny.yaml's bands (configs/specinpaint.yaml's break)


def bright_notes(pitches: list[int]) -> torch.Tensor:
    """Many strong, steady harmonics: several of them share each high mel band at 256 bands."""
    return torch.stack([harmonic_note(p, SAMPLES, brightness=0.85, vibrato_depth=0.0, seed=i) for i, p in enumerate(pitches)]).float()


def representation(**params) -> MelIF:
    return MelIF(MelIFParams(**(TINY | params)))


@pytest.mark.parametrize("n_mels", [256, 1024])
def test_known_pitch_lowers_spectral_convergence(n_mels):
    """At 256 bands the comb takes the inversion's SC down by more than a fifth on every note; at the
    paper's 1024 bands (narrow enough to resolve the partials) it must not make any note worse."""
    audio = bright_notes(PITCHES)
    pitch = torch.tensor(PITCHES)
    blind = representation(n_mels=n_mels)
    informed = representation(n_mels=n_mels, harmonic_inverse=True)
    spec = blind.encode(audio)
    sc = SpectralConvergence()
    without = sc(audio, blind.decode(spec, SAMPLES, pitch=pitch))  # ignored: harmonic_inverse is off
    with_pitch = sc(audio, informed.decode(spec, SAMPLES, pitch=pitch))
    if n_mels == 256:
        assert (with_pitch < 0.8 * without).all(), (with_pitch, without)
    else:
        assert (with_pitch < without + 0.01).all(), (with_pitch, without)


def test_unknown_pitch_decodes_as_without_one():
    audio = bright_notes(PITCHES[:2])
    informed = representation(harmonic_inverse=True)
    spec = informed.encode(audio)
    unknown = torch.full((2,), NULL_LABEL)
    torch.testing.assert_close(informed.decode(spec, SAMPLES, pitch=unknown), informed.decode(spec, SAMPLES))
    assert not torch.allclose(informed.decode(spec, SAMPLES, pitch=torch.tensor(PITCHES[:2])),
                              informed.decode(spec, SAMPLES))


def test_sliced_batches_keep_each_notes_pitch():
    """A CPU batch larger than one slice is decoded slice by slice; each note must meet its own pitch."""
    informed = representation(harmonic_inverse=True)
    count = notes_per_chunk(informed._values_per_note(SAMPLES)) + 2
    pitches = [PITCHES[i % len(PITCHES)] + i for i in range(count)]
    audio = bright_notes(pitches)
    spec = informed.encode(audio)
    together = informed.decode(spec, SAMPLES, pitch=torch.tensor(pitches))
    for i in (0, count - 1):
        alone = informed.decode(spec[i:i + 1], SAMPLES, pitch=torch.tensor(pitches[i:i + 1]))
        torch.testing.assert_close(together[i:i + 1], alone, atol=1e-5, rtol=1e-4)


def test_bad_pitch_batch_is_refused_and_the_pseudo_inverse_ignores_pitch():
    informed = representation(harmonic_inverse=True)
    spec = informed.encode(bright_notes(PITCHES[:2]))
    with pytest.raises(ValueError, match="3 pitches|\\(3,\\) pitches"):
        informed.decode(spec, SAMPLES, pitch=torch.tensor([40, 41, 42]))
    pseudo = representation(harmonic_inverse=True, inverse="pseudo")  # e.g. tiny.yaml with a fast inverse
    torch.testing.assert_close(pseudo.decode(spec, SAMPLES, pitch=torch.tensor(PITCHES[:2])), pseudo.decode(spec, SAMPLES))


def test_pipeline_passes_its_labels_to_the_inversion():
    """`Pipeline.decode` with labels inverts with their pitches (tiny.yaml turns the inversion on);
    without labels, or with the setting off, it does not."""
    pipeline = build_pipeline("tiny").eval()
    samples = pipeline.config.num_samples
    audio = torch.nn.functional.pad(bright_notes(PITCHES[:2]), (0, samples - SAMPLES))
    pipeline.fit_normalizer([audio])
    labels = Conditioning.make(PITCHES[:2], None, batch=2)
    rep = pipeline.representation
    with torch.no_grad():
        codes = pipeline.encode(audio)
        raw = rep.clean(pipeline.normalizer.denormalize(pipeline.decode_codes(codes, labels)))
        torch.testing.assert_close(pipeline.decode(codes, conditioning=labels), rep.decode(raw, samples, pitch=labels.pitch))
        raw = rep.clean(pipeline.normalizer.denormalize(pipeline.decode_codes(codes)))
        torch.testing.assert_close(pipeline.decode(codes), rep.decode(raw, samples))
        assert not torch.allclose(pipeline.decode(codes), rep.decode(raw, samples, pitch=labels.pitch))
    pipeline.representation.p.harmonic_inverse = False  # the field's default: pitch-blind, labels or not
    with torch.no_grad():
        torch.testing.assert_close(pipeline.decode(codes, conditioning=labels),
                                   rep.decode(rep.clean(pipeline.normalizer.denormalize(pipeline.decode_codes(codes, labels))), samples))
