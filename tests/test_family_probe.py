"""scripts/family_probe.py's level split: the raw note's loud bins and the reconstruction's quiet
ones (and the other way round), cut at decibels below each note's own peak."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from types import SimpleNamespace

import torch

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("family_probe", ROOT / "scripts" / "family_probe.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pipeline(level_is_power: bool) -> SimpleNamespace:
    representation = SimpleNamespace(level_channel=0, level_is_power=level_is_power)
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


def test_a_log_magnitude_channel_counts_twice_the_decibels():
    script = _script()
    raw = torch.zeros(1, 2, 2, 1)
    raw[0, 0, 1] = -math.log(10.0)  # a log magnitude one decade down: -20 dB (as log power it would be -10)
    recon = torch.ones_like(raw)
    magnitude = script.level_split_rows(_pipeline(False), raw, recon, [15.0], to_audio=lambda s: s)
    power = script.level_split_rows(_pipeline(True), raw, recon, [15.0], to_audio=lambda s: s)
    assert magnitude["raw level above -15 dB, recon below"][0, 0, 1, 0] == 1.0  # -20 dB: below the cut
    assert power["raw level above -15 dB, recon below"][0, 0, 1, 0] == raw[0, 0, 1, 0]  # -10 dB: above it
