"""Pipeline YAML: extends, overrides, and one clear error (file + dotted key) per failure kind."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fakes.spine import fake_config
from specinpaint.core import ConfigError, build_pipeline, load_config
from specinpaint.core.yaml_config import apply_overrides, deep_merge


def write(path: Path, data) -> Path:
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


@pytest.fixture
def base_file(tmp_path, fake_plugins):
    return write(tmp_path / "base.yaml", fake_config())


def test_valid_config_round_trips_and_fills_plugin_defaults(base_file):
    config = load_config(base_file)
    assert config.quantizer.params == {"num_codes": 16, "factor": 2, "channels": 1}
    assert config.training.quantizer.lr == pytest.approx(3e-4)
    pipeline = build_pipeline(base_file)
    assert pipeline.codemap_shapes == {"top": (4, 32)}


def test_extends_merges_and_overrides(tmp_path, base_file):
    child = write(tmp_path / "child.yaml", {"extends": "base.yaml", "quantizer": {"params": {"num_codes": 32}}})
    config = load_config(child, ["training.quantizer.steps=7", "name=child"])
    assert config.quantizer.params["num_codes"] == 32
    assert config.quantizer.params["factor"] == 2  # kept from the base
    assert config.training.quantizer.steps == 7
    assert config.name == "child"


def test_cli_style_override_of_plugin_params(base_file):
    config = load_config(base_file, ["quantizer.params.num_codes=8"])
    assert config.quantizer.params["num_codes"] == 8


def test_unknown_plugin(tmp_path, fake_plugins):
    path = write(tmp_path / "bad.yaml", fake_config(quantizer={"name": "test-pooll"}))
    with pytest.raises(ConfigError, match=r"bad\.yaml: quantizer\.name: unknown quantizers plugin 'test-pooll'.*did you mean 'test-pool'"):
        load_config(path)


def test_wrong_type(tmp_path, fake_plugins):
    path = write(tmp_path / "bad.yaml", fake_config(quantizer={"name": "test-pool", "params": {"num_codes": "many"}}))
    with pytest.raises(ConfigError, match=r"bad\.yaml: quantizer\.params\.num_codes: Input should be a valid integer"):
        load_config(path)


def test_wrong_type_in_core_section(tmp_path, fake_plugins):
    path = write(tmp_path / "bad.yaml", {**fake_config(), "training": {"quantizer": {"steps": "soon"}}})
    with pytest.raises(ConfigError, match=r"bad\.yaml: training\.quantizer\.steps: Input should be a valid integer"):
        load_config(path)


def test_missing_field(tmp_path, fake_plugins):
    data = fake_config()
    del data["quantizer"]
    path = write(tmp_path / "bad.yaml", data)
    with pytest.raises(ConfigError, match=r"bad\.yaml: quantizer: missing required field"):
        load_config(path)


def test_unknown_key(tmp_path, fake_plugins):
    path = write(tmp_path / "bad.yaml", {**fake_config(), "training": {"quantizer": {"stepz": 3}}})
    with pytest.raises(ConfigError, match=r"bad\.yaml: training\.quantizer\.stepz: unknown key"):
        load_config(path)


def test_unknown_plugin_param(tmp_path, fake_plugins):
    path = write(tmp_path / "bad.yaml", fake_config(quantizer={"name": "test-pool", "params": {"colour": 1}}))
    with pytest.raises(ConfigError, match=r"bad\.yaml: quantizer\.params\.colour: Extra inputs are not permitted"):
        load_config(path)


def test_yaml_syntax_error_names_line(tmp_path, fake_plugins):
    path = write(tmp_path / "broken.yaml", "name: x\nquantizer: {name: test-pool\nrepresentation: y\n")
    with pytest.raises(ConfigError, match=r"broken\.yaml:\d+:\d+: YAML syntax error"):
        load_config(path)


def test_extends_cycle_and_missing_parent(tmp_path, fake_plugins):
    write(tmp_path / "a.yaml", {"extends": "b.yaml"})
    write(tmp_path / "b.yaml", {"extends": "a.yaml"})
    with pytest.raises(ConfigError, match="extends: cycle"):
        load_config(tmp_path / "a.yaml")
    write(tmp_path / "c.yaml", {"extends": "nowhere.yaml"})
    with pytest.raises(ConfigError, match="extends: no such file"):
        load_config(tmp_path / "c.yaml")


def test_missing_file_and_bad_override(tmp_path, base_file):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "absent.yaml")
    with pytest.raises(ConfigError, match="expected dotted.key=value"):
        load_config(base_file, ["quantizer.params.num_codes"])
    with pytest.raises(ConfigError, match="name is not a mapping"):
        apply_overrides({"name": "x"}, ["name.inner=3"])


def test_deep_merge_replaces_non_mappings():
    merged = deep_merge({"a": {"b": 1, "c": [1, 2]}, "d": 1}, {"a": {"c": [3]}, "d": {"e": 2}})
    assert merged == {"a": {"b": 1, "c": [3]}, "d": {"e": 2}}


def test_incompatible_prior_shape_is_a_config_error(fake_plugins):
    data = fake_config(priors={"top": {"name": "test-uniform", "params": {"codemap_shape": [4, 4]}}})
    with pytest.raises(ConfigError, match=r"priors\.top\.params: codemap shape \(4, 4\) does not match the quantizer's \(4, 32\)"):
        build_pipeline(data)


def test_cross_check_errors_name_the_file_and_key(tmp_path, fake_plugins):
    path = write(tmp_path / "x.yaml", fake_config(priors={"top": {"name": "test-uniform",
                                                                  "params": {"codemap_shape": [4, 4]}}}))
    with pytest.raises(ConfigError, match=r"^.*x\.yaml: priors\.top\.params: codemap shape \(4, 4\)") as info:
        build_pipeline(path)
    assert str(info.value).startswith(str(path))
    assert load_config(path) == load_config(yaml.safe_load(path.read_text()))  # equal wherever read from


@pytest.mark.parametrize("override, message", [
    ("training.quantizer.seed=100000000000000000000000", r"training\.quantizer\.seed: Input should be less than or equal to 4294967295"),
    ("training.quantizer.seed=1.0e+23", r"training\.quantizer\.seed: "),
    ("training.priors.top.seed=-1", r"training\.priors\.top\.seed: Input should be greater than or equal to 0"),
    ("sampling.seed=99999999999999999999", r"sampling\.seed: Input should be less than or equal to 4294967295"),
])
def test_seeds_are_bounded(base_file, override, message):
    with pytest.raises(ConfigError, match=rf"base\.yaml: {message}") as info:
        load_config(base_file, [override])
    assert "\n" not in str(info.value)


def test_model_size_is_checked_before_allocating(base_file, monkeypatch):
    # 1e11 float32 codes (400 GB) would be an allocator traceback: the size is estimated first
    with pytest.raises(ConfigError, match=r"base\.yaml: quantizer\.params: the model would hold 1e\+11 "
                                          r"parameters and buffers .*the limit is 4\.29e\+09") as info:
        build_pipeline(base_file, ["quantizer.params.num_codes=100000000000"])
    assert "\n" not in str(info.value)
    monkeypatch.setenv("SPECINPAINT_MAX_MODEL_ELEMENTS", "10")
    with pytest.raises(ConfigError, match=r"the limit is 10 "):
        build_pipeline(base_file)


def test_training_priors_one_section_per_level_with_a_prior(fake_plugins):
    config = load_config(fake_config(training={"priors": {"top": {"steps": 5}}}))
    assert list(config.training.priors) == ["top"] and config.training.prior("top").steps == 5
    assert list(load_config(fake_config()).training.priors) == ["top"]  # defaults filled in
    with pytest.raises(ConfigError, match=r"training\.priors\.botom: no prior for level 'botom' \(levels with a prior: top\)"):
        load_config(fake_config(training={"priors": {"botom": {"steps": 5}}}))


def test_former_prior_keys_are_read_as_training_priors_with_a_deprecation_warning(fake_plugins):
    with pytest.warns(DeprecationWarning, match=r"training\.prior_top, training\.prior_bottom: the former"):
        old = load_config(fake_config(training={"prior_top": {"steps": 5, "lr": 0.01}, "prior_bottom": {"steps": 9}}))
    new = load_config(fake_config(training={"priors": {"top": {"steps": 5, "lr": 0.01}}}))
    assert old == new  # bottom: no prior in this pipeline, the former section is dropped
    # a new YAML over a former one (extends, overrides): the new settings win, the rest is kept
    with pytest.warns(DeprecationWarning):
        mixed = load_config(fake_config(training={"prior_top": {"steps": 5, "lr": 0.01}}), ["training.priors.top.steps=8"])
    assert (mixed.training.prior("top").steps, mixed.training.prior("top").lr) == (8, 0.01)
    # a former key as an override of a new-form file: the override still wins (renamed before applying)
    with pytest.warns(DeprecationWarning, match=r"override training\.prior_top\.steps: .* training\.priors\.top\.steps"):
        overridden = load_config(fake_config(training={"priors": {"top": {"steps": 5, "lr": 0.01}}}),
                                 ["training.prior_top.steps=3"])
    assert (overridden.training.prior("top").steps, overridden.training.prior("top").lr) == (3, 0.01)


def test_built_in_configs_in_the_former_form_still_load():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for name in ("tiny", "specinpaint"):
            config = load_config(name)
            assert list(config.training.priors) == ["top", "bottom"]
    tiny = config if name == "tiny" else load_config("tiny")
    bottom = tiny.training.prior("bottom")
    assert (bottom.steps, bottom.batch_size, bottom.lr) == (1200, 32, 5e-3)


def test_a_config_without_priors_ignores_prior_training_sections(fake_plugins):
    """A reconstruction-only override (``priors: {}``) over a config that trains priors."""
    config = load_config(fake_config(priors={}, training={"priors": {"top": {"steps": 5}}}))
    assert config.priors == {} and config.training.priors == {}
