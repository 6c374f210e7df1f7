"""The quantizer's optional label-conditioned decoder (``quantizer.params.decoder_label_channels``):
labels change the decoding only when the decoder takes them, a null label equals no labels, the
trainer feeds the batch's labels, and the paper's shapes decode."""

from __future__ import annotations

import pytest
import torch

from fakes.training import synthetic_config
from specinpaint.core import Pipeline, load_config
from specinpaint.core.conditioning import NULL_LABEL, Conditioning
from specinpaint.core.errors import ConfigError
from specinpaint.core.harmonic_comb import harmonic_comb
from specinpaint.core.pipeline import build_pipeline
from specinpaint.core.region import Region
from specinpaint.quantizers.decoder_labels import DecoderLabels
from specinpaint.training.data import AudioCollate, build_dataset
from specinpaint.training.distributed import DistContext
from specinpaint.training.quantizer_task import QuantizerTask

CPU = DistContext(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))

pytestmark = pytest.mark.usefixtures("synthetic_one_thread")


def _pipeline(**quantizer) -> Pipeline:
    torch.manual_seed(0)
    return Pipeline(load_config(synthetic_config(count=8, priors=False, **quantizer)))


def _labels(pitches: list[int], families: list[int]) -> Conditioning:
    return Conditioning(torch.tensor(pitches), torch.tensor(families))


def test_default_decoder_ignores_labels_and_keeps_its_weights_layout():
    plain = _pipeline()
    assert not plain.quantizer.label_conditioned
    assert not any(name.startswith("decoder_labels") for name in plain.quantizer.state_dict())
    codes = plain.quantizer.eval().encode(torch.randn(2, *plain.spectrogram_shape))
    with torch.no_grad():
        assert torch.equal(plain.decode_codes(codes, _labels([40, 60], [0, 1])), plain.decode_codes(codes))


@pytest.mark.parametrize(("pitch_maps", "family_maps"), [("table", "vector"), ("comb", "vector"), ("comb", "table"),
                                                     ("table", "table")])
def test_labels_change_the_decoding_and_null_labels_equal_none(pitch_maps, family_maps):
    pipe = _pipeline(decoder_label_channels=4, decoder_label_rows=8, decoder_label_pitch_maps=pitch_maps,
                     decoder_label_family_maps=family_maps)
    quantizer = pipe.quantizer.eval()
    assert quantizer.label_conditioned
    codes = quantizer.encode(torch.randn(2, *pipe.spectrogram_shape))
    with torch.no_grad():
        a = pipe.decode_codes(codes, _labels([40, 60], [0, 1]))
        b = pipe.decode_codes(codes, _labels([41, 60], [0, 1]))
        again = pipe.decode_codes(codes, _labels([40, 60], [0, 1]))
        null = pipe.decode_codes(codes, Conditioning.null(2))
        unlabelled = pipe.decode_codes(codes)
    assert torch.equal(a, again)  # eval mode: no label dropout
    assert not torch.allclose(a[0], b[0]) and torch.equal(a[1], b[1])  # only the relabelled note changes
    assert torch.equal(null, unlabelled)
    with pytest.raises(ValueError, match="3 labels for a batch of 2"):
        pipe.decode_codes(codes, _labels([40, 60, 62], [0, 1, 2]))
    with pytest.raises(ConfigError, match="family index 11 is beyond the decoder's 11 families"):
        pipe.decode_codes(codes, _labels([40, 60], [0, 11]))


def test_training_mode_drops_labels_with_the_configured_probability():
    pipe = _pipeline(decoder_label_channels=2, decoder_label_rows=4, decoder_label_dropout=1.0)
    labels = pipe.quantizer.decoder_labels.train()
    pitch, family = labels.indices(_labels([40] * 64, [3] * 64), 64)
    assert torch.all(pitch == NULL_LABEL) and torch.all(family == NULL_LABEL)
    labels.drop_prob = 0.0
    pitch, family = labels.indices(_labels([40] * 4, [3] * 4), 4)
    assert torch.all(pitch == 40) and torch.all(family == 3)


def test_trainer_feeds_the_batch_labels_to_the_decoder():
    """One optimiser step moves exactly the pitch rows of the batch's notes (the others get no
    gradient): the trainer passed the labels."""
    pipe = _pipeline(decoder_label_channels=2, decoder_label_rows=4, decoder_label_dropout=0.0)
    train_set = build_dataset(pipe.config, "train")
    task = QuantizerTask(pipe, train_set)
    task.setup(CPU, resumed=False)
    batch = task.prepare(AudioCollate(2048)([train_set[i] for i in range(4)]), CPU.device)
    used = set(batch.conditioning.pitch.tolist())
    assert used and batch.conditioning.pitch.min() >= 0
    table = pipe.quantizer.decoder_labels.pitch.weight
    before = table.detach().clone()
    optimiser = torch.optim.SGD(pipe.quantizer.parameters(), lr=1.0)
    loss, _ = task.compute_loss(pipe.quantizer.train(), batch)
    loss.backward()
    optimiser.step()
    moved = {row for row in range(table.shape[0]) if not torch.equal(table[row], before[row])}
    assert moved == used


def test_family_table_gives_each_family_its_own_map_over_frequency():
    """``family_maps='table'``: the family channels vary by row and by family, resized to the
    decoder's rows; ``vector`` is the same on every row. Both leave the comb channels alone."""
    torch.manual_seed(0)
    maps = {kind: DecoderLabels("comb", channels=2, rows=4, fold=2, num_families=3, drop_prob=0.0, family_maps=kind)
            for kind in ("vector", "table")}
    for labels in maps.values():
        labels.set_bin_frequencies(torch.linspace(20.0, 8000.0, 16), resolution_hz=8.0)
    pitch, families = torch.tensor([40, 40]), torch.tensor([0, 2])
    table = maps["table"](pitch, families, freq=8, time=3)
    vector = maps["vector"](pitch, families, freq=8, time=3)
    assert table.shape == vector.shape == (2, 2 + 2 + 1, 8, 3)
    assert torch.equal(table[:, 2:], vector[:, 2:])  # the comb and the pitch-given channel
    assert torch.all(vector[:, :2] == vector[:, :2, :1])  # one vector on every row
    assert not torch.allclose(table[0, :2, 0], table[0, :2, 5])  # a map over frequency
    assert not torch.allclose(table[0, :2], table[1, :2])  # one per family
    assert maps["table"].family.weight.shape == (3 + 1, 2 * 4)  # + the null family


def test_paper_shapes_decode_with_labels():
    pipe = build_pipeline("paper", ["quantizer.params.decoder_label_channels=8",
                                    "quantizer.params.decoder_label_pitch_maps=comb",
                                    "quantizer.params.decoder_harmonic_gain=true"])
    assert pipe.quantizer.decoder_labels.out_channels == 8 + 16 + 1  # family, comb folded ×16, pitch given
    quantizer = pipe.quantizer.eval()
    codes = quantizer.encode(torch.randn(1, *pipe.spectrogram_shape))
    assert codes.shapes == {"top": (32, 4), "bottom": (64, 8)}
    with torch.no_grad():
        spec = pipe.decode_codes(codes, _labels([24], [0]))
        other = pipe.decode_codes(codes, _labels([84], [0]))
    assert spec.shape == (1, 2, 1024, 128)
    assert torch.isfinite(spec).all() and not torch.allclose(spec, other)


def test_harmonic_gain_draws_the_comb_onto_the_output_at_full_resolution():
    """With ``decoder_harmonic_gain`` the decoder's second half of channels scales the full-resolution
    comb: a decoder that outputs base 0 and gain 1 reconstructs exactly the comb (every channel), and
    nothing without a pitch."""
    pipe = _pipeline(decoder_label_channels=2, decoder_label_pitch_maps="comb", decoder_harmonic_gain=True)
    quantizer = pipe.quantizer.eval()
    codes = quantizer.encode(torch.randn(2, *pipe.spectrogram_shape))
    channels, rows, frames = pipe.spectrogram_shape

    class BaseZeroGainOne(torch.nn.Module):
        def forward(self, x):
            return torch.cat([torch.zeros(x.shape[0], channels, rows, frames),
                              torch.ones(x.shape[0], channels, rows, frames)], 1)

    quantizer.decoder = BaseZeroGainOne()
    with torch.no_grad():
        out = pipe.decode_codes(codes, _labels([40, NULL_LABEL], [0, 1]))
    comb = quantizer.decoder_labels.comb(torch.tensor([40]))[0]
    assert comb.shape == (rows,) and comb.max() > 0.9
    torch.testing.assert_close(out[0], comb[None, :, None].expand(channels, rows, frames))
    assert torch.all(out[1] == 0)
    with pytest.raises(ConfigError, match="decoder_harmonic_gain needs"):
        _pipeline(decoder_label_channels=2, decoder_label_pitch_maps="table", decoder_harmonic_gain=True)


def test_the_comb_is_as_wide_as_the_representation_resolves():
    """Bound to a Mel-IF representation, the comb's harmonics are COMB_WIDTH_BINS FFT bins wide."""
    from specinpaint.quantizers.decoder_labels import COMB_WIDTH_BINS

    pipe = build_pipeline("tiny")
    labels = pipe.quantizer.decoder_labels
    assert labels.resolution_hz == pytest.approx(16000 / 2048)
    hz = labels.bin_hz
    comb = labels.comb(torch.tensor([24]))[0]  # MIDI 24: 32.7 Hz, the fundamental on the 4 Hz rows
    row = int(torch.argmin((hz - 32.703).abs()))
    sigma = COMB_WIDTH_BINS * 16000 / 2048
    for near in (row, row + 1, row + 2):  # up to 42.6 Hz: the fundamental is the nearest harmonic
        expected = torch.exp(-0.5 * ((hz[near] - 32.703) / sigma) ** 2)
        assert float(comb[near]) == pytest.approx(float(expected), rel=1e-3)
    between = (hz > 40) & (hz < 58)  # around 49 Hz, half-way to the second harmonic: a trough
    assert float(comb[row]) > 0.95 and float(comb[between].min()) < 0.5


def test_harmonic_comb_marks_the_rows_of_each_harmonic():
    bin_hz = torch.arange(1, 801, dtype=torch.float32) * 10.0  # rows every 10 Hz, 10..8000 Hz
    comb = harmonic_comb(torch.tensor([69, NULL_LABEL]), bin_hz)  # A4 = 440 Hz
    peaks = [int(row) for row in torch.nonzero(comb[0] > 0.99).flatten()]
    assert peaks == [44 * k - 1 for k in range(1, 19)]  # 440·k Hz sits on row 44k−1, up to 7920 Hz
    assert float(comb[0, 44 * 2 - 1 + 5]) < 1e-6  # halfway between two harmonics: nothing
    assert torch.all(comb[1] == 0)  # no pitch, no comb
    # an analysis coarser than the rows widens every harmonic to its resolution
    wide = harmonic_comb(torch.tensor([69]), bin_hz, width_hz=20.0)[0]
    assert float(wide[44 - 1 + 2]) == pytest.approx(float(torch.exp(torch.tensor(-0.5))))  # 20 Hz off: 1 sigma
    assert float(comb[0, 44 - 1 + 2]) < 1e-3  # half a row (5 Hz) wide without it
    # a note whose harmonics are closer than that blends into a plateau (MIDI 24 = 32.7 Hz, 20 Hz wide)
    assert float(harmonic_comb(torch.tensor([24]), bin_hz, width_hz=20.0)[0, 100:700].min()) > 0.5


def test_comb_needs_the_representation_frequencies():
    labels = DecoderLabels("comb", channels=2, rows=4, fold=4, num_families=3, drop_prob=0.0)
    with pytest.raises(ConfigError, match="row frequencies"):
        labels.comb(torch.tensor([60]))


def _labelled_editor():
    from specinpaint.editing import Editor

    torch.manual_seed(0)
    pipe = Pipeline(load_config(synthetic_config(count=8, decoder_label_channels=2, decoder_label_pitch_maps="comb")))
    return Editor(pipe)


def test_editor_decodes_attenuates_and_noises_with_the_notes_labels():
    editor = _labelled_editor()
    codes = editor.encode_long(torch.randn(2, editor.geometry.num_samples))
    a = editor.decode_long(codes, pitch=[40, 60], family=[0, 1])
    b = editor.decode_long(codes, pitch=[52, 60], family=[0, 1])
    assert not torch.allclose(a[0], b[0]) and torch.equal(a[1], b[1])
    spec = editor.decode_spectrogram(codes, pitch=[40, 60], family=[0, 1])
    assert not torch.equal(spec, editor.decode_spectrogram(codes))
    # a 0 dB attenuation keeps the codes: its audio is the labelled decoding
    kept = editor.attenuate(codes, Region(time_s=(0.0, 0.01)), amount_db=0.0, pitch=[40, 60], family=[0, 1])
    assert torch.equal(kept.codes["bottom"], codes["bottom"]) and torch.allclose(kept.audio, a)
    noisy = editor.noise(codes, Region(time_s=(0.0, 0.01)), seed=3, pitch=[40, 60], family=[0, 1])
    assert torch.allclose(noisy.audio, editor.decode_long(noisy.codes, pitch=[40, 60], family=[0, 1]))
    with pytest.raises(Exception, match="expected 2 labels"):
        editor.decode_long(codes, pitch=[40, 60, 62])


def test_the_app_renders_and_attenuates_with_the_chosen_labels():
    import warnings

    from specinpaint.app.server import ServerSettings, create_app
    from specinpaint.app.service import codes_json

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    editor = _labelled_editor()
    client = TestClient(create_app(editor.pipeline, ServerSettings(rate_limit_per_minute=0)),
                        base_url="http://127.0.0.1:8000")
    codes = codes_json(editor.encode_long(torch.randn(1, editor.geometry.num_samples)))
    family = editor.labels.offered[0]
    plain = client.post("/api/audio", json={"codes": codes})
    low = client.post("/api/audio", json={"codes": codes, "pitch": 40, "family": family})
    high = client.post("/api/audio", json={"codes": codes, "pitch": 70, "family": family})
    assert plain.status_code == low.status_code == high.status_code == 200
    assert low.content != high.content and low.content != plain.content
    image = client.post("/api/spectrogram", json={"codes": codes, "pitch": 40, "family": family})
    assert image.status_code == 200 and image.content != client.post("/api/spectrogram", json={"codes": codes}).content
    bad = client.post("/api/audio", json={"codes": codes, "pitch": 127})
    assert bad.status_code == 422 and "pitch" in bad.json()["detail"]
    region = {"time_s": [0.0, 0.05]}
    attenuated = client.post("/api/attenuate", json={"codes": codes, "region": region, "amount_db": 10,
                                                     "pitch": 40, "family": family})
    assert attenuated.status_code == 200 and "codes" in attenuated.json()


def test_reconstruction_reports_the_unlabelled_decoding_too():
    """A decoder that takes labels is scored with them, and also without (as unlabelled audio would
    decode); a plain decoder has no such columns."""
    from unittest import mock

    from specinpaint.studies import reconstruction
    from specinpaint.studies.context import EvaluationContext
    from specinpaint.studies.evaluation_spec import EvaluationSpec

    spec = EvaluationSpec(reconstruction_notes=4, roundtrip=False, batch_size=2, device="cpu")
    no_pitch = lambda self, audio: torch.full((audio.shape[0],), float("nan"), dtype=torch.float64)  # noqa: E731
    found = {}
    for name, pipe in (("labelled", _labelled_editor().pipeline), ("plain", _pipeline())):
        dataset = build_dataset(pipe.config, "train")
        with mock.patch.object(EvaluationContext, "estimate_pitch", no_pitch):
            found[name] = reconstruction.evaluate_reconstruction(EvaluationContext(pipe, dataset, spec))["metrics"]
    labelled = found["labelled"]
    extra = {"unlabelled_sc", "unlabelled_pitch_accuracy", "estimated_pitch_sc", "estimated_pitch_accuracy"}
    assert extra <= set(labelled)
    assert labelled["unlabelled_sc"] > 0 and labelled["unlabelled_sc"] != labelled["sc"]
    # no voiced estimate → the null pitch: decoding "with the estimated pitch" is the unlabelled decoding
    assert labelled["estimated_pitch_sc"] == pytest.approx(labelled["unlabelled_sc"], rel=1e-6)
    assert not extra & set(found["plain"])
