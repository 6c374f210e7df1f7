"""The sampling flags of `generate` and `inpaint`: what a user sets reaches `SamplingOptions` under
its own name, and what they leave out stays the bundle's."""

from __future__ import annotations

import argparse

from specinpaint.app.cli_common import add_sampling_args, sampling_from_args
from specinpaint.core.prior import SamplingOptions


def parsed(*argv: str) -> dict:
    parser = argparse.ArgumentParser()
    add_sampling_args(parser)
    return sampling_from_args(parser.parse_args(list(argv)))


def test_guidance_flags_become_sampling_options():
    given = parsed("--guidance-drop", "family", "--guidance-scale", "4", "--pitch-guidance", "2", "--steps", "6")
    assert given == {"guidance_drop": "family", "guidance_scale": 4.0, "pitch_guidance_scale": 2.0, "num_steps": 6}
    options = SamplingOptions(**given)
    assert (options.guidance_drop, options.guidance_scale, options.pitch_guidance_scale) == ("family", 4.0, 2.0)


def test_flags_left_out_are_not_sent():
    assert parsed() == {}
    assert parsed("--seed", "3") == {"seed": 3}
