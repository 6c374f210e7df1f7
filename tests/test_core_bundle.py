"""Pipeline bundles: round trip, atomic replacement, refusal of truncated/corrupted/mismatched ones."""

from __future__ import annotations

import json

import pytest
import torch

from fakes.spine import fake_config
from specinpaint.core import BundleError, Codemaps, ConfigError, Pipeline, build_pipeline
from specinpaint.core.bundle import METADATA_FILE, WEIGHTS_FILE, load_weights


@pytest.fixture
def pipeline(fake_plugins):
    torch.manual_seed(0)
    pipe = build_pipeline(fake_config())
    with torch.no_grad():
        pipe.quantizer.codebook.add_(torch.randn_like(pipe.quantizer.codebook) * 0.1)
        pipe.normalizer.scale.fill_(0.5)
    pipe.extras["labels"] = {"family": ["bass", "brass"]}
    return pipe


def test_round_trip_restores_weights_config_and_extras(tmp_path, pipeline):
    pipeline.save(tmp_path / "bundle")
    loaded = Pipeline.load(tmp_path / "bundle")
    assert loaded.config == pipeline.config
    assert loaded.extras == pipeline.extras
    for key, value in pipeline.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    meta = json.loads((tmp_path / "bundle" / METADATA_FILE).read_text())
    assert meta["versions"]["torch"] == torch.__version__
    audio = torch.randn(2, 512) * 0.3
    assert loaded.encode(audio).equal(pipeline.encode(audio))


def test_encode_decode_shapes(pipeline):
    codes = pipeline.encode(torch.randn(3, 512))
    assert isinstance(codes, Codemaps) and codes.shapes == {"top": (4, 32)}
    assert pipeline.decode(codes).shape == (3, 512)


def test_truncated_weights_are_refused(tmp_path, pipeline):
    bundle = pipeline.save(tmp_path / "bundle")
    weights = bundle / WEIGHTS_FILE
    weights.write_bytes(weights.read_bytes()[:-10])
    with pytest.raises(BundleError, match=r"weights\.safetensors: truncated or modified"):
        Pipeline.load(bundle)


def test_corrupted_weights_are_refused(tmp_path, pipeline):
    bundle = pipeline.save(tmp_path / "bundle")
    weights = bundle / WEIGHTS_FILE
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="checksum mismatch"):
        Pipeline.load(bundle)


def test_missing_file_and_not_a_bundle(tmp_path, pipeline):
    bundle = pipeline.save(tmp_path / "bundle")
    (bundle / METADATA_FILE).unlink()
    with pytest.raises(BundleError, match="metadata.json is missing"):
        Pipeline.load(bundle)
    with pytest.raises(BundleError, match="not a pipeline bundle directory"):
        Pipeline.load(tmp_path / "nothing")


def test_weights_from_another_config_are_refused(pipeline, fake_plugins):
    other = build_pipeline(fake_config(quantizer={"name": "test-pool", "params": {"num_codes": 32}}))
    with pytest.raises(BundleError, match=r"quantizer\.codebook has shape \(32,\), the model expects \(16,\)"):
        load_weights(pipeline, other.state_dict(), "other")
    partial = {k: v for k, v in pipeline.state_dict().items() if "scale" not in k}
    with pytest.raises(BundleError, match="missing 2 tensors"):
        load_weights(pipeline, partial, "partial")


def test_failed_save_keeps_the_previous_bundle(tmp_path, pipeline, monkeypatch):
    bundle = pipeline.save(tmp_path / "bundle")
    before = (bundle / WEIGHTS_FILE).read_bytes()

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("safetensors.torch.save_file", explode)
    with pytest.raises(OSError, match="disk full"):
        pipeline.save(bundle)
    assert (bundle / WEIGHTS_FILE).read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".bundle")]
    Pipeline.load(bundle)


def test_interrupted_swap_points_to_the_previous_bundle(tmp_path, pipeline):
    bundle = pipeline.save(tmp_path / "bundle")
    aside = tmp_path / ".bundle.old-123"
    bundle.rename(aside)  # what a crash between the two renames of a save leaves behind
    with pytest.raises(BundleError, match=r"interrupted save left the previous bundle at .*\.bundle\.old-123"):
        Pipeline.load(bundle)
    aside.rename(bundle)
    Pipeline.load(bundle)


def test_atomic_writes_get_normal_permissions(tmp_path, pipeline):
    import os

    from specinpaint.core.atomic import atomic_write_text

    mask = os.umask(0o022)
    os.umask(mask)
    atomic_write_text(tmp_path / "note.txt", "hi")
    assert (tmp_path / "note.txt").stat().st_mode & 0o777 == 0o666 & ~mask
    bundle = pipeline.save(tmp_path / "bundle")
    assert bundle.stat().st_mode & 0o777 == 0o777 & ~mask


def _rewrite(bundle, name, data: bytes) -> None:
    """Replace a bundle file and update its metadata entry (an edit that passes the checksums)."""
    import hashlib

    (bundle / name).write_bytes(data)
    meta = json.loads((bundle / METADATA_FILE).read_text())
    meta["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    (bundle / METADATA_FILE).write_text(json.dumps(meta))


def test_non_finite_weights_are_refused_at_load(tmp_path, pipeline):
    from safetensors.torch import save

    with torch.no_grad():
        pipeline.quantizer.codebook[3] = float("nan")
    bundle = pipeline.save(tmp_path / "bundle")  # a bundle written by a diverged run
    with pytest.raises(BundleError, match=r"weights\.safetensors: 1 tensor\(s\) hold NaN or infinite values "
                                          r"\(e\.g\. quantizer\.codebook\)") as info:
        Pipeline.load(bundle)
    assert "\n" not in str(info.value)
    state = {k: v.clone() for k, v in pipeline.state_dict().items()}
    state["quantizer.codebook"] = torch.zeros_like(state["quantizer.codebook"])
    state["normalizer.scale"] = torch.tensor(float("inf"))
    _rewrite(bundle, WEIGHTS_FILE, save(state))
    with pytest.raises(BundleError, match=r"e\.g\. normalizer\.scale"):
        Pipeline.load(bundle)


def test_nan_that_the_fresh_model_holds_too_is_a_sentinel_not_damage(tmp_path, fake_plugins):
    # the affine normaliser keeps NaN as "data range not measured yet": such bundles still load
    one_channel = {"num_channels": 1, "scale": [1.0], "offset": [0.0], "margins": [1.0]}
    pipe = build_pipeline(fake_config(normalizer={"name": "affine", "params": one_channel}))
    assert torch.isnan(pipe.normalizer.data_min).all()
    loaded = Pipeline.load(pipe.save(tmp_path / "bundle"))
    assert torch.isnan(loaded.normalizer.data_min).all()


@pytest.mark.parametrize("edit, message", [
    (lambda meta: meta["files"].pop(WEIGHTS_FILE), r"weights\.safetensors is not listed with its size and sha256"),
    (lambda meta: meta["files"].pop("pipeline.yaml"), r"pipeline\.yaml is not listed"),
    (lambda meta: meta.update(files=[]), r"'files' must map each bundle file to its size and sha256"),
    (lambda meta: meta.pop("files"), r"'files' must map each bundle file"),
])
def test_every_bundle_file_must_be_listed_and_verified(tmp_path, pipeline, edit, message):
    bundle = pipeline.save(tmp_path / "bundle")
    meta = json.loads((bundle / METADATA_FILE).read_text())
    edit(meta)
    (bundle / METADATA_FILE).write_text(json.dumps(meta))
    with pytest.raises(BundleError, match=message) as info:
        Pipeline.load(bundle)
    assert "\n" not in str(info.value)


def test_bad_pipeline_yaml_in_a_bundle_is_one_line(tmp_path, pipeline):
    bundle = pipeline.save(tmp_path / "bundle")
    _rewrite(bundle, "pipeline.yaml", b"name: x\nquantizer: {name: test-pool\nrepresentation: y\n")
    with pytest.raises(ConfigError, match=r"bundle/pipeline\.yaml:\d+:\d+: YAML syntax error") as info:
        Pipeline.load(bundle)
    assert "\n" not in str(info.value)
    _rewrite(bundle, "pipeline.yaml", b"- a list\n- not a mapping\n")
    with pytest.raises(ConfigError, match=r"pipeline\.yaml: top level must be a mapping"):
        Pipeline.load(bundle)


def test_every_bundle_file_gets_the_same_permissions(tmp_path, pipeline):
    import os

    mask = os.umask(0o022)
    os.umask(mask)
    bundle = pipeline.save(tmp_path / "bundle")
    modes = {p.name: p.stat().st_mode & 0o777 for p in bundle.iterdir()}
    assert modes == dict.fromkeys(modes, 0o666 & ~mask), modes
    assert WEIGHTS_FILE in modes


def test_a_bundle_saved_with_the_former_training_keys_loads_with_the_same_settings(tmp_path, pipeline):
    """Bundles written before ``training.priors`` hold ``training.prior_top``/``prior_bottom``."""
    import yaml

    from specinpaint.core.atomic import sha256_file
    from specinpaint.core.bundle import CONFIG_FILE

    pipeline.save(tmp_path / "bundle")
    root = tmp_path / "bundle"
    data = yaml.safe_load((root / CONFIG_FILE).read_text())
    sections = data["training"].pop("priors")
    assert list(sections) == ["top"]
    data["training"]["prior_top"] = {**sections["top"], "steps": 77}
    data["training"]["prior_bottom"] = dict(sections["top"])  # every former config had both: no bottom prior here
    (root / CONFIG_FILE).write_text(yaml.safe_dump(data))
    meta = json.loads((root / METADATA_FILE).read_text())
    meta["files"][CONFIG_FILE] = {"sha256": sha256_file(root / CONFIG_FILE), "bytes": (root / CONFIG_FILE).stat().st_size}
    (root / METADATA_FILE).write_text(json.dumps(meta))
    with pytest.warns(DeprecationWarning, match=r"training\.priors\.<level>"):
        loaded = Pipeline.load(root)
    assert list(loaded.config.training.priors) == ["top"] and loaded.config.training.prior("top").steps == 77
    assert loaded.config.model_copy(update={"training": pipeline.config.training}) == pipeline.config


def test_bundle_file_names_are_spelled_once():
    """Every room reaches the bundle's files through core/bundle.py's constants."""
    from pathlib import Path

    from specinpaint.core import bundle

    root = Path(bundle.__file__).resolve().parent.parent
    names = (bundle.CONFIG_FILE, bundle.WEIGHTS_FILE, bundle.METADATA_FILE, bundle.EXTRAS_FILE)
    rooms = ("core", "editing", "app", "training", "studies", "data", "representations", "quantizers", "priors", "metrics")
    offenders = [
        f"{path.relative_to(root)}: {name}"
        for room in rooms for path in sorted((root / room).rglob("*.py"))
        if path.relative_to(root).as_posix() not in ("core/bundle.py", "studies/family_classifier.py")  # its own files
        for name in names if f'"{name}"' in path.read_text() or f"'{name}'" in path.read_text()
    ]
    assert offenders == []
    assert not hasattr(Pipeline, "from_config")  # build_pipeline is the one way from a config
