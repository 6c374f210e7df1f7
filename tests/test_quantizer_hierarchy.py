"""`vqvae2` and `fsq` share the `HierarchicalVAE` skeleton: weights saved by the earlier classes
(``FSQVAE`` subclassed ``VQVAE2``) still load key for key and decode to the same spectrograms, the
same seed still gives the same initial weights, and neither plugin module imports the other."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from specinpaint.core import Codemaps
from specinpaint.core.registry import registry
from specinpaint.quantizers.hierarchy import HierarchicalVAE

#: Written by specinpaint 40f9665 (the classes before the skeleton): per plugin its state dict, the
#: codes of ``input`` and their decoding. Parameters in the file's metadata.
FIXTURE = Path(__file__).parent / "data" / "hierarchy_state_dicts.safetensors"
QUANTIZERS = Path(__file__).resolve().parents[1] / "quantizers"


@pytest.fixture(scope="module")
def saved() -> tuple[dict[str, torch.Tensor], dict[str, dict]]:
    with safe_open(str(FIXTURE), framework="pt") as handle:
        params = json.loads(handle.metadata()["params"])
    return load_file(str(FIXTURE)), params


def _part(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {key.removeprefix(prefix): value for key, value in tensors.items() if key.startswith(prefix)}


@pytest.mark.parametrize("name", ["vqvae2", "fsq"])
def test_state_dicts_saved_before_load_and_decode_the_same(saved, name):
    tensors, params = saved
    torch.manual_seed(1)
    model = registry("quantizers").build(name, params[name])
    assert isinstance(model, HierarchicalVAE)
    state = _part(tensors, f"{name}.state.")
    for key, value in model.named_parameters():  # same seed, same creation order: same initial weights
        assert torch.equal(value.detach(), state[key]), key
    assert sorted(model.state_dict()) == sorted(state)
    model.load_state_dict(state, strict=True)
    model.eval()
    codes = model.encode(tensors["input"])
    expected = _part(tensors, f"{name}.codes.")
    assert codes.equal(Codemaps({level: expected[level] for level in model.levels}))
    with torch.no_grad():
        torch.testing.assert_close(model.decode(codes), tensors[f"{name}.decoded"], rtol=0, atol=1e-6)


@pytest.mark.parametrize(("plugin", "other"), [("vqvae2.py", "fsq_vae"), ("fsq_vae.py", "vqvae2")])
def test_neither_plugin_imports_the_other(plugin, other):
    tree = ast.parse((QUANTIZERS / plugin).read_text())
    imported = {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert not [module for module in imported if module.split(".")[-1] == other]
    assert "hierarchy" in imported
