"""Registry: entry-point discovery (cached, lazy), duplicates, close matches, in-process isolation."""

from __future__ import annotations

import importlib.metadata as md
import subprocess
import sys

import pytest
from pydantic import BaseModel, ConfigDict

from specinpaint.core.errors import PluginError
from specinpaint.core.registry import Registry, registry


class _Toy:
    """A toy plugin."""

    description = "toy plugin"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        size: int = 3

    def __init__(self, params):
        self.params = params


def _fake_entry_points(*specs):
    eps = md.EntryPoints(md.EntryPoint(name, value, "specinpaint.toys") for name, value in specs)

    def entry_points(group=None, **_):
        return eps.select(group=group) if group else eps

    return entry_points


def test_builtins_are_discovered_through_entry_points():
    names = registry("representations").names()
    for name in ("stft-if", "mel-if", "gansynth-mel-if", "paper-mel-if"):
        assert name in names
    assert {"vqvae2"} <= set(registry("quantizers").names())
    assert {"top-transformer", "bottom-transformer"} <= set(registry("priors").names())
    info = registry("representations").info("stft-if")
    assert info.distribution == "specinpaint"
    assert info.target == "specinpaint.representations.stft_if:StftIF"


def test_discovery_is_cached(monkeypatch):
    calls = []
    fake = _fake_entry_points(("toy", "test_core_registry:_Toy"))

    def counting(**kw):
        calls.append(kw)
        return fake(**kw)

    monkeypatch.setattr(md, "entry_points", counting)
    reg = Registry("toys")
    assert reg.names() == ["toy"]
    assert "toy" in reg
    reg.info("toy")
    assert len(calls) == 1
    reg.refresh()
    reg.names()
    assert len(calls) == 2


def test_discovery_does_not_import_plugins_until_used():
    code = (
        "import sys\n"
        "from specinpaint.core.registry import representations as r\n"
        "assert 'logstft-griffinlim' in r.names(), r.names()\n"
        "print('specinpaint_logstft.representation' in sys.modules)\n"
        "r.get('logstft-griffinlim')\n"
        "print('specinpaint_logstft.representation' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True"]


def test_duplicate_entry_point_names_are_an_error_naming_both(monkeypatch):
    monkeypatch.setattr(
        md, "entry_points", _fake_entry_points(("toy", "pkg_a.mod:Toy"), ("toy", "pkg_b.mod:Toy"))
    )
    with pytest.raises(PluginError, match=r"duplicate toys plugin name 'toy'.*pkg_a\.mod:Toy.*pkg_b\.mod:Toy"):
        Registry("toys").names()


def test_unknown_name_lists_close_matches():
    with pytest.raises(PluginError, match=r"unknown representations plugin 'gansynth-melif'.*did you mean 'gansynth-mel-if'"):
        registry("representations").get("gansynth-melif")


def test_broken_entry_point_reports_its_source(monkeypatch):
    monkeypatch.setattr(md, "entry_points", _fake_entry_points(("ghost", "no_such_module_xyz:Thing")))
    with pytest.raises(PluginError, match=r"'ghost' could not be loaded from no_such_module_xyz:Thing"):
        Registry("toys").get("ghost")


def test_register_decorator_undo_and_duplicates():
    reg = registry("representations")
    handle = reg.register("toy-in-process", _Toy)
    try:
        assert reg.get("toy-in-process") is _Toy
        assert reg.info("toy-in-process").distribution == "<in-process>"
        with pytest.raises(PluginError, match="duplicate representations plugin name 'toy-in-process'"):
            reg.register("toy-in-process", _Toy)
        with pytest.raises(PluginError, match="duplicate representations plugin name 'stft-if'"):
            reg.register("stft-if", _Toy)
    finally:
        handle.undo()
    assert "toy-in-process" not in reg
    handle.undo()  # a second undo does nothing (it is Registry.unregister with missing_ok)
    with pytest.raises(PluginError, match="'toy-in-process' was not registered in-process"):
        reg.unregister("toy-in-process")
    calls = []
    monkey = pytest.MonkeyPatch()
    monkey.setattr(type(reg), "unregister", lambda self, name, missing_ok=False: calls.append((name, missing_ok)))
    try:
        reg.register("toy-undo", _Toy).undo()
    finally:
        monkey.undo()
        reg.unregister("toy-undo")
    assert calls == [("toy-undo", True)]

    @reg.register("toy-decorated")
    class Decorated(_Toy):
        pass

    assert reg.get("toy-decorated") is Decorated
    reg.unregister("toy-decorated")
    assert "toy-decorated" not in reg
    with pytest.raises(PluginError, match="was not registered in-process"):
        reg.unregister("stft-if")


def test_build_validates_params():
    reg = registry("representations")
    with reg.register("toy-params", _Toy):
        assert reg.build("toy-params", {"size": 5}).params.size == 5
        with pytest.raises(PluginError, match=r"'toy-params': params\.size: Input should be a valid integer"):
            reg.build("toy-params", {"size": "big"})
        with pytest.raises(PluginError, match=r"params\.colour: Extra inputs are not permitted"):
            reg.build("toy-params", {"colour": 1})


def test_unknown_kind():
    with pytest.raises(PluginError, match="unknown plugin kind 'vocoders'"):
        registry("vocoders")
