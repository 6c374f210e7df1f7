"""scripts/family_probe.py's level split: the raw note's loud bins and the reconstruction's quiet
ones (and the other way round), cut at decibels below each note's own peak."""

from __future__ import annotations

import math
from types import SimpleNamespace

import torch
from script_module import load_script


def _script():
    return load_script("family_probe")


def _pipeline(level_is_power: bool) -> SimpleNamespace:
    representation = SimpleNamespace(level_channel=0, level_is_power=level_is_power, clean=lambda s: s)
    return SimpleNamespace(representation=representation, normalizer=SimpleNamespace(denormalize=lambda s: s))


def test_level_split_takes_loud_bins_from_one_side_and_quiet_bins_from_the_other():
    script = _script()
    nepers_per_10_db = math.log(10.0)  # a log-power level channel: 10 dB = ln(10)
    raw = torch.zeros(2, 2, 4, 3)
    raw[:, 0] = torch.tensor([0.0, -1.0, -3.0, -5.0])[:, None] * nepers_per_10_db  # 0, -10, -30, -50 dB
    raw[1, 0] += 7.0  # another note's peak elsewhere: the cut is relative to each note's own peak
    recon = torch.full_like(raw, 100.0)
    rows = script.level_split_rows(_pipeline(True), raw, recon, [20.0], to_audio=lambda s: s)
    loud_raw = rows["raw level above -20 dB, recon below"]
    assert torch.equal(loud_raw[:, 0, :2], raw[:, 0, :2])  # 0 and -10 dB: the raw note's
    assert torch.equal(loud_raw[:, 0, 2:], recon[:, 0, 2:])  # -30 and -50 dB: the reconstruction's
    assert torch.equal(loud_raw[:, 1], recon[:, 1])  # the phase channel is never mixed
    quiet_raw = rows["recon level above -20 dB, raw below"]
    assert torch.equal(quiet_raw[:, 0, :2], recon[:, 0, :2])
    assert torch.equal(quiet_raw[:, 0, 2:], raw[:, 0, 2:])


def test_level_split_separates_frames_where_the_note_has_ended_from_quiet_bins_while_it_sounds():
    script = _script()
    ten_db = math.log(10.0)
    raw = torch.zeros(1, 2, 3, 2)
    raw[0, 0, :, 0] = torch.tensor([0.0, -1.0, -5.0]) * ten_db  # sounding: 0, -10, -50 dB
    raw[0, 0, :, 1] = torch.tensor([-4.0, -6.0, -7.0]) * ten_db  # ended: its loudest bin is -40 dB
    recon = torch.full_like(raw, 100.0)
    rows = script.level_split_rows(_pipeline(True), raw, recon, [30.0], to_audio=lambda s: s)
    ended = rows["raw on frames ended (< -30 dB), recon elsewhere"][0, 0]
    assert torch.equal(ended[:, 1], raw[0, 0, :, 1]) and torch.equal(ended[:, 0], recon[0, 0, :, 0])
    sounding = rows["raw on bins < -30 dB while sounding, recon elsewhere"][0, 0]
    assert float(sounding[2, 0]) == float(raw[0, 0, 2, 0])  # the -50 dB bin of the sounding frame
    assert torch.equal(sounding[:2, 0], recon[0, 0, :2, 0]) and torch.equal(sounding[:, 1], recon[0, 0, :, 1])


def test_a_log_magnitude_channel_counts_twice_the_decibels():
    script = _script()
    raw = torch.zeros(1, 2, 2, 1)
    raw[0, 0, 1] = -math.log(10.0)  # a log magnitude one decade down: -20 dB (as log power it would be -10)
    recon = torch.ones_like(raw)
    magnitude = script.level_split_rows(_pipeline(False), raw, recon, [15.0], to_audio=lambda s: s)
    power = script.level_split_rows(_pipeline(True), raw, recon, [15.0], to_audio=lambda s: s)
    assert magnitude["raw level above -15 dB, recon below"][0, 0, 1, 0] == 1.0  # -20 dB: below the cut
    assert power["raw level above -15 dB, recon below"][0, 0, 1, 0] == raw[0, 0, 1, 0]  # -10 dB: above it


def test_level_error_by_band_counts_each_bin_once_with_its_error():
    script = _script()
    decade = math.log(10.0)  # 10 dB of log power
    raw = torch.zeros(1, 2, 5, 1)
    raw[0, 0, :, 0] = torch.tensor([0.0, -3.0, -5.0, -7.0, -9.0]) * decade  # 0, -30, -50, -70, -90 dB
    recon = raw.clone()
    recon[0, 0, 4, 0] += 0.6 * decade  # the quietest bin comes back 6 dB too loud
    bands = script.level_error_by_band(_pipeline(True), raw, recon)
    assert [b[0] for b in bands] == ["0-20 dB below", "20-40 dB below", "40-60 dB below", "60-80 dB below",
                                     "more than 80 dB below"]
    assert all(abs(b[1] - 0.2) < 1e-6 for b in bands)  # each bin in exactly one band
    assert abs(bands[-1][2] - 6.0) < 1e-4 and abs(bands[-1][3] - 6.0) < 1e-4
    assert all(abs(b[2]) < 1e-4 for b in bands[:-1])


def test_level_error_is_measured_on_the_level_as_heard_after_clean():
    script = _script()
    floor = -9.0 * math.log(10.0)  # a phase-threshold-like floor at -90 dB
    pipeline = _pipeline(True)
    pipeline.representation.clean = lambda s: s.clamp_min(floor)
    raw = torch.zeros(1, 2, 2, 1)
    raw[0, 0, 1, 0] = floor  # a silent bin, at the floor
    recon = raw.clone()
    recon[0, 0, 1, 0] = 3.0 * floor  # far under the floor: clean() lifts it back, so no error is heard
    bands = script.level_error_by_band(pipeline, raw, recon)
    assert bands[-1][0] == "more than 80 dB below" and abs(bands[-1][3]) < 1e-4
