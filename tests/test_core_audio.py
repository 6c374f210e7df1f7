"""Audio input policy shared by every entry point: mono by averaging, resampling, limits, errors."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf
import torch

from specinpaint.core import AudioInputError
from specinpaint.core.audio import (
    AudioTooLongError,
    decode_audio_bytes,
    fit_length,
    load_audio,
    prepare_batch,
    wav_bytes,
    write_wav,
)


def wav(data: np.ndarray, rate: int) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, data, rate, format="WAV", subtype="FLOAT")
    return buffer.getvalue()


def test_stereo_is_averaged_not_summed(tmp_path):
    left, right = np.full(1600, 0.6, np.float32), np.full(1600, 0.2, np.float32)
    path = tmp_path / "stereo.wav"
    path.write_bytes(wav(np.stack([left, right], 1), 16000))
    audio = load_audio(path, 16000)
    assert audio.shape == (1600,) and torch.allclose(audio, torch.full((1600,), 0.4))


def test_other_sample_rates_are_resampled():
    t = np.arange(8000) / 8000
    audio = decode_audio_bytes(wav((0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 8000), 16000)
    assert audio.shape == (16000,)
    spectrum = np.abs(np.fft.rfft(audio.numpy()))
    assert abs(np.argmax(spectrum) - 440) <= 1  # 1 s of audio: bin k = k Hz


def test_bad_audio_gets_one_line_errors(tmp_path):
    with pytest.raises(AudioInputError, match="upload: cannot read audio"):
        decode_audio_bytes(b"RIFF not really a wav", 16000)
    with pytest.raises(AudioInputError, match="contains NaN"):
        decode_audio_bytes(wav(np.array([0.0, np.nan, 0.1], np.float32), 16000), 16000)
    with pytest.raises(AudioInputError, match="audio is empty"):
        decode_audio_bytes(wav(np.zeros(0, np.float32), 16000), 16000)
    with pytest.raises(AudioTooLongError, match=r"audio is 2\.0 s long; the limit is 1 s"):
        decode_audio_bytes(wav(np.zeros(32000, np.float32), 16000), 16000, max_seconds=1)
    with pytest.raises(AudioInputError, match="missing.wav: cannot read audio"):
        load_audio(tmp_path / "missing.wav", 16000)
    with pytest.raises(AudioInputError, match=r"must be \[B, N\]"):
        prepare_batch(torch.zeros(2, 3, 4))


def test_length_policy_pads_and_crops_at_the_end():
    audio = torch.arange(1.0, 6.0)
    assert fit_length(audio, 3).tolist() == [1, 2, 3]
    assert fit_length(audio, 7).tolist() == [1, 2, 3, 4, 5, 0, 0]
    assert prepare_batch(np.ones(5), 8).shape == (1, 8)


def test_wav_writers_clip_and_round_trip(tmp_path):
    audio = torch.tensor([0.5, -2.0, 2.0, 0.0])
    write_wav(tmp_path / "out.wav", audio, 16000)
    back, rate = sf.read(tmp_path / "out.wav", dtype="float32")
    assert rate == 16000 and np.allclose(back, [0.5, -1.0, 1.0, 0.0], atol=1e-4)
    data, rate = sf.read(io.BytesIO(wav_bytes(audio, 16000)), dtype="float32")
    assert np.allclose(data, back)
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]  # no temporary left behind


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_audio_is_never_written(tmp_path, bad):
    from specinpaint.editing import EditResult, SamplePack

    audio = torch.tensor([0.1, bad, 0.2])
    with pytest.raises(AudioInputError, match=r"out\.wav: audio to write contains NaN or infinite samples; nothing "
                                              "written"):
        write_wav(tmp_path / "out.wav", audio, 16000)
    assert list(tmp_path.iterdir()) == []  # neither the file nor a temporary
    with pytest.raises(AudioInputError, match="contains NaN or infinite"):
        wav_bytes(audio.numpy(), 16000)
    with pytest.raises(AudioInputError, match="contains NaN or infinite"):
        EditResult(audio[None], None, 16000).wav_bytes()  # type: ignore[arg-type]
    with pytest.raises(AudioInputError, match="contains NaN or infinite"):
        SamplePack(audio[None], None, [60], "brass", 16000).to_zip()  # type: ignore[arg-type]


def test_truncated_wav_data_is_refused(tmp_path):
    buffer = io.BytesIO()
    sf.write(buffer, np.full(16000, 0.1, np.float32), 16000, subtype="PCM_16", format="WAV")
    cut = buffer.getvalue()[: 44 + 16000]  # header + half of the samples (an interrupted copy)
    (tmp_path / "cut.wav").write_bytes(cut)
    for load in (lambda: load_audio(tmp_path / "cut.wav", 16000), lambda: decode_audio_bytes(cut, 16000)):
        with pytest.raises(AudioInputError, match=r"WAV data is cut short: the header promises 1\.00 s \(16000 frames\) "
                                                  r"but the file holds 0\.50 s"):
            load()
    assert decode_audio_bytes(buffer.getvalue(), 16000).shape == (16000,)  # the whole file is fine


def test_implausible_sample_rate_is_refused():
    ten_samples_at_1_hz = wav(np.zeros(10, np.float32), 1)
    with pytest.raises(AudioInputError, match=r"upload: sample rate 1 Hz is below 1000 Hz"):
        decode_audio_bytes(ten_samples_at_1_hz, 16000)


def test_float_samples_above_full_scale_are_scaled_down_with_a_note(caplog):
    from specinpaint.core.audio import read_audio_bytes

    loud = wav(np.array([0.0, 10.0, -5.0, 2.5], np.float32), 16000)
    audio, notes = read_audio_bytes(loud, 16000, "loud.wav")
    assert audio.tolist() == pytest.approx([0.0, 1.0, -0.5, 0.25])
    assert notes == ["loud.wav: samples peak at 10× full scale; scaled down by 0.1 to peak at 1.0"]
    with caplog.at_level("WARNING"):
        decode_audio_bytes(loud, 16000, "loud.wav")
    assert "scaled down by 0.1" in caplog.text
    assert read_audio_bytes(wav(np.array([0.5, -1.0], np.float32), 16000), 16000)[1] == []  # full scale: untouched


def test_read_errors_do_not_leak_object_reprs():
    with pytest.raises(AudioInputError) as info:
        decode_audio_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk", 16000, "x.wav")
    assert "object at 0x" not in str(info.value) and str(info.value).startswith("x.wav: cannot read audio")
