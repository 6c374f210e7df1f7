"""The editing API, `Editor(pipeline)` (generate, inpaint, attenuate, sample packs, long notes),
checked exactly with the deterministic two-level fakes of `fakes.editing`."""

from __future__ import annotations

import io
import zipfile

import pytest
import soundfile as sf
import torch

from fakes.editing import edit_plugins, make_pipeline
from specinpaint.core import Codemaps
from specinpaint.core.region import Region, upsample_mask
from specinpaint.editing import EditError, Editor


@pytest.fixture
def editor():
    with edit_plugins():
        yield Editor(make_pipeline())


def _note(editor, seed=0):
    return editor.generate(60, "brass", n=1, sampling={"seed": seed}).codes


def test_generate_batches_variations_and_is_seeded(editor):
    first = editor.generate(60, "brass", n=3, sampling={"seed": 5})
    again = editor.generate(60, "brass", n=3, sampling={"seed": 5})
    other = editor.generate(60, "brass", n=3, sampling={"seed": 6})
    assert first.codes.shapes == {"top": (4, 4), "bottom": (8, 8)} and first.codes.batch_size == 3
    assert first.audio.shape == (3, 1024) and torch.isfinite(first.audio).all()
    assert first.codes.equal(again.codes) and not first.codes.equal(other.codes)
    top_calls = editor.pipeline.priors["top"].calls
    assert all(call["mask"].shape[0] == 3 for call in top_calls)  # one batch, not n calls
    assert top_calls[0]["pitch"].tolist() == [60] * 3 and top_calls[0]["family"].tolist() == [1] * 3
    # the bottom prior saw the freshly sampled top as context
    bottom_call = editor.pipeline.priors["bottom"].calls[0]
    assert torch.equal(bottom_call["codes"]["top"], first.codes["top"])


def test_inpaint_top_changes_only_the_region_and_the_bottom_below_it(editor):
    codes = _note(editor)
    region = Region(time_s=(0.0, 0.06), freq_hz=(0.0, 1900.0))
    out = editor.inpaint(codes, region, pitch=70, family="organ", level="top", seed=11)
    top_mask, bottom_mask = out.masks["top"], out.masks["bottom"]
    assert top_mask.any() and not top_mask.all()
    assert torch.equal(bottom_mask, upsample_mask(top_mask, (8, 8)))
    assert torch.equal(out.codes["top"][~top_mask], codes["top"][~top_mask])
    assert torch.equal(out.codes["bottom"][~bottom_mask], codes["bottom"][~bottom_mask])
    assert not torch.equal(out.codes["top"][top_mask], codes["top"][top_mask])
    # bottom prior conditioned on the NEW top, with the new labels
    call = editor.pipeline.priors["bottom"].calls[-1]
    assert torch.equal(call["codes"]["top"], out.codes["top"])
    assert call["pitch"].tolist() == [70] and call["family"].tolist() == [6]
    assert torch.equal(call["mask"], bottom_mask)


def test_inpaint_bottom_keeps_the_top_and_uses_the_finer_grid(editor):
    codes = _note(editor)
    calls_before = len(editor.pipeline.priors["top"].calls)
    out = editor.inpaint(codes, Region(time_s=(0.0, 0.03), freq_hz=(0.0, 900.0)), level="bottom", seed=2)
    assert len(editor.pipeline.priors["top"].calls) == calls_before
    assert torch.equal(out.codes["top"], codes["top"]) and not out.masks["top"].any()
    mask = out.masks["bottom"]
    assert 0 < mask.sum() < 64
    assert torch.equal(out.codes["bottom"][~mask], codes["bottom"][~mask])
    assert not torch.equal(out.codes["bottom"][mask], codes["bottom"][mask])


def test_inpaint_is_reproducible_per_seed_and_takes_audio(editor):
    codes = _note(editor)
    region = Region(time_s=(0.03, 0.1))
    a = editor.inpaint(codes, region, pitch=50, family="bass", seed=3, temperature=0.7, top_p=0.9)
    b = editor.inpaint(codes, region, pitch=50, family="bass", seed=3, temperature=0.7, top_p=0.9)
    c = editor.inpaint(codes, region, pitch=50, family="bass", seed=4)
    assert a.codes.equal(b.codes) and not a.codes.equal(c.codes)
    options = editor.pipeline.priors["top"].calls[-3]["options"]
    assert options.temperature == 0.7 and options.top_p == 0.9 and options.seed == 3
    audio = editor.pipeline.decode(codes)[0]
    from_audio = editor.inpaint(audio, region, pitch=50, seed=3)
    assert from_audio.codes.batch_size == 1 and from_audio.audio.shape == (1, 1024)


def test_explicit_masks_and_dilation(editor):
    codes = _note(editor)
    bottom = torch.zeros(8, 8, dtype=torch.bool)
    bottom[2, 3] = True
    out = editor.inpaint(codes, {"bottom": bottom}, level="top", seed=1)
    assert out.masks["top"].sum() == 1 and bool(out.masks["top"][0, 1, 1])  # pooled to its top cell
    grown = editor.region_masks({"top": _one(1, 1)}, 4, dilate=1)
    assert grown["top"].sum() == 9
    with pytest.raises(EditError, match="expected \\(4, 4\\)"):
        editor.inpaint(codes, {"top": torch.ones(3, 3, dtype=torch.bool)})
    with pytest.raises(EditError, match="not codemap levels"):
        editor.inpaint(codes, {"middle": torch.ones(4, 4, dtype=torch.bool)})
    with pytest.raises(EditError, match="selects no 'top' cell"):
        editor.inpaint(codes, {"top": torch.zeros(4, 4, dtype=torch.bool)})


def _one(r, c):
    mask = torch.zeros(4, 4, dtype=torch.bool)
    mask[r, c] = True
    return mask


def test_bad_requests_are_one_line_errors(editor):
    codes = _note(editor)
    with pytest.raises(EditError, match="outside the spectrogram"):
        editor.inpaint(codes, Region(time_s=(5.0, 6.0)))
    with pytest.raises(EditError, match="unknown level 'middle'"):
        editor.inpaint(codes, Region(time_s=(0.0, 0.1)), level="middle")
    with pytest.raises(EditError, match="outside \\[0, 16\\)"):
        editor.inpaint(codes.replace(top=codes["top"] + 100), Region(time_s=(0.0, 0.1)))
    with pytest.raises(EditError, match="at least 4 are needed"):
        editor.inpaint(Codemaps({"top": codes["top"][..., :2], "bottom": codes["bottom"][..., :4]}), Region())
    with pytest.raises(EditError, match="temperature"):
        editor.inpaint(codes, Region(time_s=(0.0, 0.1)), temperature=-1.0)


def test_long_notes_use_overlapping_windows_with_context(editor):
    audio = torch.sin(torch.arange(3 * 1024 + 100) * 0.3) * 0.5
    codes = editor.encode_long(audio)
    assert codes.shapes == {"top": (4, 13), "bottom": (8, 26)}
    # the first window is exactly what the training path gives for the first 1024 samples
    first = editor.pipeline.encode(audio[:1024][None])
    assert torch.equal(codes["top"][..., :4], first["top"]) and torch.equal(codes["bottom"][..., :8], first["bottom"])
    editor.pipeline.priors["top"].calls.clear()
    editor.pipeline.priors["bottom"].calls.clear()
    region = Region(time_s=(0.05, 0.33))  # columns 1..10 of 13: spans several windows
    out = editor.inpaint(codes, region, pitch=64, seed=9)
    mask = out.masks["top"]
    cols = mask[0].any(0).nonzero().flatten().tolist()
    assert cols[0] <= 2 and cols[-1] >= 9
    assert torch.equal(out.codes["top"][~mask], codes["top"][~mask])
    assert torch.equal(out.codes["bottom"][~out.masks["bottom"]], codes["bottom"][~out.masks["bottom"]])
    calls = editor.pipeline.priors["top"].calls
    assert len(calls) >= 3 and all(tuple(c["mask"].shape[-2:]) == (4, 4) for c in calls)
    # every window after the first sees at least one already-final column on its left, unmasked
    for call in calls[1:]:
        assert not call["mask"][..., 0].any()
    # window seeds differ (no repeated noise pattern across windows)
    assert len({c["options"].seed for c in calls}) == len(calls)
    assert out.audio.shape == (1, editor.geometry.column_samples(13))


def test_generate_longer_notes_continues_with_context(editor):
    out = editor.generate(48, "string", columns=7, sampling={"seed": 1})
    assert out.codes.shapes == {"top": (4, 7), "bottom": (8, 14)}
    assert out.audio.shape == (1, 7 * 256)
    later = editor.pipeline.priors["top"].calls[1:]
    assert later and all(not c["mask"][..., 0].any() for c in later)


def test_decode_long_of_one_window_equals_decode(editor):
    codes = _note(editor)
    assert torch.allclose(editor.decode_long(codes), editor.pipeline.decode(codes))
    long = Codemaps({"top": codes["top"].repeat(1, 1, 2), "bottom": codes["bottom"].repeat(1, 1, 2)})
    audio = editor.decode_long(long)
    assert audio.shape == (1, 2048) and torch.isfinite(audio).all()
    spec = editor.decode_spectrogram(long)
    assert spec.shape == (1, 2, 32, 128)


def test_attenuate_lowers_energy_in_the_region_only(editor):
    t = torch.arange(1024) / 8000
    audio = 0.4 * torch.sin(2 * torch.pi * 300 * t) + 0.4 * torch.sin(2 * torch.pi * 2500 * t)
    codes = editor.pipeline.encode(audio[None])
    low = Region(freq_hz=(0.0, 1000.0))
    out = editor.attenuate(codes, low, amount_db=40)
    spec_before = editor.decode_spectrogram(codes)[0, 0]
    spec_after = editor.decode_spectrogram(out.codes)[0, 0]
    rows = editor.geometry.bin_frequencies() < 900
    assert (spec_after[rows].mean() - spec_before[rows].mean()) < -1.0  # at least ~9 dB lower
    assert torch.allclose(spec_after[editor.geometry.bin_frequencies() > 2100], spec_before[editor.geometry.bin_frequencies() > 2100])
    for level in ("top", "bottom"):
        keep = ~out.masks[level]
        assert torch.equal(out.codes[level][keep], codes[level][keep])
    assert editor.attenuate(codes, low, amount_db=0).codes.equal(codes)
    with pytest.raises(EditError, match="amount_db"):
        editor.attenuate(codes, low, amount_db=float("nan"))


def test_sample_pack_keeps_the_top_and_batches_pitches(editor):
    codes = _note(editor)
    editor.pipeline.priors["bottom"].calls.clear()
    pack = editor.sample_pack(codes, [60, 61, 62], family="brass", sampling={"seed": 4})
    assert pack.codes.batch_size == 3
    assert all(torch.equal(pack.codes["top"][i], codes["top"][0]) for i in range(3))
    assert len({tuple(pack.codes["bottom"][i].flatten().tolist()) for i in range(3)}) == 3
    assert len(editor.pipeline.priors["bottom"].calls) == 1 and editor.pipeline.priors["bottom"].calls[0]["pitch"].tolist() == [60, 61, 62]
    archive = zipfile.ZipFile(io.BytesIO(pack.to_zip()))
    assert archive.namelist() == ["brass-60.wav", "brass-61.wav", "brass-62.wav"]
    audio, rate = sf.read(io.BytesIO(archive.read("brass-61.wav")))
    assert rate == 8000 and audio.shape == (1024,)


def test_editing_restores_training_mode(editor):
    editor.pipeline.train()
    editor.generate(60, "brass", sampling={"seed": 0})
    assert editor.pipeline.training and editor.pipeline.quantizer.training
    editor.pipeline.eval()


def test_codes_are_checked_once_per_operation(editor, monkeypatch):
    from specinpaint.editing.geometry import Geometry

    codes = _note(editor)
    calls = []
    original = Geometry.check_codes
    monkeypatch.setattr(Geometry, "check_codes", lambda self, c: calls.append(1) or original(self, c))
    region = Region(time_s=(0.0, 0.06))
    operations = {
        "inpaint": lambda: editor.inpaint(codes, region, seed=1),
        "inpaint-bottom": lambda: editor.inpaint(codes, region, level="bottom", seed=1),
        "attenuate": lambda: editor.attenuate(codes, region, amount_db=10),
        "noise": lambda: editor.noise(codes, region, seed=1),
        "sample_pack": lambda: editor.sample_pack(codes, [60, 62], sampling={"seed": 1}),
        "decode_long": lambda: editor.decode_long(codes),
    }
    for name, run in operations.items():
        calls.clear()
        run()
        assert len(calls) == 1, f"{name} checked the codes {len(calls)} times"
    calls.clear()
    editor.inpaint(editor.pipeline.decode(codes)[0], region, seed=1)  # audio: encoded, nothing to check
    editor.generate(60, "brass", sampling={"seed": 0})
    assert calls == []


def test_noise_fills_the_region_with_seeded_uniform_codes(editor):
    codes = _note(editor)
    region = Region(time_s=(0.0, 0.06), freq_hz=(0.0, 1900.0))
    out = editor.noise(codes, region, seed=4)
    again = editor.noise(codes, region, seed=4)
    other = editor.noise(codes, region, seed=5)
    assert out.codes.equal(again.codes) and not out.codes.equal(other.codes)
    assert out.masks["top"].any() and torch.equal(out.masks["bottom"], upsample_mask(out.masks["top"], (8, 8)))
    for level in ("top", "bottom"):
        keep = ~out.masks[level]
        assert torch.equal(out.codes[level][keep], codes[level][keep])
    assert out.audio.shape == (1, 1024)
    calls = len(editor.pipeline.priors["top"].calls) + len(editor.pipeline.priors["bottom"].calls)
    # many draws: every code value appears, none outside the codebook (uniform over 0..15)
    big = Codemaps({"top": codes["top"].repeat(64, 1, 1), "bottom": codes["bottom"].repeat(64, 1, 1)})
    drawn = editor.noise(big, Region(), seed=0, decode=False).codes["bottom"]
    assert set(drawn.unique().tolist()) == set(range(16))
    assert len(editor.pipeline.priors["top"].calls) + len(editor.pipeline.priors["bottom"].calls) == calls  # no prior
    bottom_only = editor.noise(codes, region, level="bottom", seed=4)
    assert torch.equal(bottom_only.codes["top"], codes["top"]) and not bottom_only.masks["top"].any()
    with pytest.raises(EditError, match="seed must be in 0..4294967295"):
        editor.noise(codes, region, seed=-1)
