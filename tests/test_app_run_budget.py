"""`specinpaint run --budget`: each budget names a built-in config that loads, and the long budget
only trains longer (and keeps its top level in use), on the same data and representation as the
default job."""

from __future__ import annotations

from pathlib import Path

import pytest

from specinpaint.app.cli import main
from specinpaint.app.cli_common import DEFAULT_OUTPUT
from specinpaint.app.commands.run import BUDGET_CONFIGS, resolve_budget
from specinpaint.core.errors import ConfigError
from specinpaint.core.yaml_config import load_config


def test_budgets_pick_their_config_and_a_folder_of_their_own():
    assert resolve_budget("default", None, None) == ("tiny", DEFAULT_OUTPUT)
    config, out = resolve_budget("long", None, None)
    assert config == "tiny-long" and out != DEFAULT_OUTPUT and out.parent == DEFAULT_OUTPUT.parent
    assert resolve_budget("default", "paper", Path("x")) == ("paper", Path("x"))


def test_a_long_budget_with_another_config_is_a_one_line_error(capsys):
    with pytest.raises(ConfigError):
        resolve_budget("long", "tiny", None)
    assert main(["run", "--budget", "long", "--config", "tiny", "--no-evaluate"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and "\n" not in error and "--budget long" in error


def test_the_long_budget_trains_the_default_jobs_model_longer_on_the_same_data():
    default, long = (load_config(BUDGET_CONFIGS[b]) for b in ("default", "long"))
    assert long.representation == default.representation and long.data == default.data
    assert long.priors == default.priors
    assert long.training.quantizer.steps >= 4 * default.training.quantizer.steps
    assert set(long.training.priors) == set(default.training.priors) == {"top", "bottom"}
    for level, stage in long.training.priors.items():
        assert stage.steps >= 4 * default.training.priors[level].steps
        assert stage.lr == 1e-3  # the rate it was measured with (tiny.yaml's 1200 steps use 5e-3)
    # same model: the long budget buys steps, not width (a wider quantizer step costs ~4x); one
    # other difference keeps the top level in use at 4x the steps (it collapsed without it)
    assert long.quantizer.name == default.quantizer.name
    # the sampling each budget chose by measurement: tiny.yaml guides the family alone (section 21 of
    # docs/results/quality-cpu.md); the long budget classic guidance 2 (sections 22.3 and 23.1: two bundles)
    assert (default.sampling.guidance_drop, default.sampling.guidance_scale) == ("family", 4.0)
    assert (long.sampling.guidance_drop, long.sampling.guidance_scale) == ("both", 2.0)
    assert long.sampling.model_copy(update={"guidance_drop": "family", "guidance_scale": 4.0}) == default.sampling
    long_params, default_params = long.quantizer.params, default.quantizer.params
    assert long_params.pop("finest_level_dropout") == 0.1 and default_params.pop("finest_level_dropout", 0.0) == 0.0
    assert long_params["recon_after_clean"] is True  # tiny.yaml's cleaned-output loss, measured at both budgets
    assert long_params == default_params
