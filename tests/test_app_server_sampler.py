"""The web app's "parallel" sampler choice on the real tiny pipeline (untrained): the inpaint and
generate routes answer 200 (the bottom-transformer level falls back to autoregressive) and keep
every code outside the returned mask."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from specinpaint.app.server import ServerSettings, create_app
from specinpaint.core import build_pipeline

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@pytest.fixture(scope="module")
def client():
    torch.manual_seed(0)
    return TestClient(create_app(build_pipeline("tiny").eval(), ServerSettings(rate_limit_per_minute=0)),
                      base_url="http://127.0.0.1:8000")


def test_inpaint_route_with_the_parallel_sampler(client):
    res = client.post("/api/generate", json={"seed": 1, "sampler": "parallel", "pitch": 60})
    assert res.status_code == 200, res.text
    codes = res.json()["codes"]
    res = client.post("/api/inpaint", json={
        "codes": codes, "region": {"time_s": [1.0, 3.0], "freq_hz": [0, 2000]}, "sampler": "parallel",
        "pitch": 64, "family": "brass", "seed": 5,
    })
    assert res.status_code == 200, res.text
    out = res.json()
    assert out["seed"] == 5
    for level in ("top", "bottom"):
        old, new = np.array(codes[level]), np.array(out["codes"][level])
        mask = np.array(out["masks"][level], dtype=bool)
        assert mask.any() and (old[~mask] == new[~mask]).all()
    assert (np.array(out["codes"]["top"]) != np.array(codes["top"])).any()
