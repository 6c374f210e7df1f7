"""The HTTP API (FastAPI TestClient) on the two-level fake pipeline: every route, its limits and
its 4xx answers to malformed input."""

from __future__ import annotations

import io
import json
import warnings
import zipfile

import numpy as np
import pytest
import soundfile as sf
import torch

from fakes.editing import edit_plugins, make_pipeline
from specinpaint.app.dataset_codes import DatasetCodes
from specinpaint.app.server import ServerSettings, create_app
from specinpaint.core import NSYNTH_FAMILIES, Codemaps
from specinpaint.editing import Editor

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

LOCAL = "http://127.0.0.1:8000"  # the Host a browser sends to the default bind address


def _dataset(pipe) -> DatasetCodes:
    notes = Editor(pipe).generate([40, 52, 64, 64], ["bass", "brass", "brass", "organ"], n=4, sampling={"seed": 0},
                          decode=False)
    return DatasetCodes(notes.codes, torch.tensor([40, 52, 64, 64]), torch.tensor([0, 1, 1, 6]))


@pytest.fixture(scope="module")
def served():
    with edit_plugins():
        pipe = make_pipeline()
        app = create_app(pipe, ServerSettings(rate_limit_per_minute=0, max_upload_bytes=200_000,
                                               max_duration_s=1.0), dataset=_dataset(pipe))
        yield pipe, TestClient(app, base_url=LOCAL)


def _wav(seconds: float, rate: int = 8000, channels: int = 1) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    data = np.stack([0.3 * np.sin(2 * np.pi * 440 * t)] * channels, axis=1)
    buffer = io.BytesIO()
    sf.write(buffer, data, rate, format="WAV")
    return buffer.getvalue()


def test_info_describes_the_geometry(served):
    pipe, client = served
    info = client.get("/api/info").json()
    assert info["levels"] == {"top": {"rows": 4, "columns": 4, "num_codes": 16},
                              "bottom": {"rows": 8, "columns": 8, "num_codes": 16}}
    assert info["sample_rate"] == 8000 and info["window_columns"] == 4
    assert len(info["bin_frequencies_hz"]) == 32 and len(info["frame_times_s"]) == 64
    assert info["dataset_notes"] == 4 and info["limits"]["max_columns"] == 31
    assert "brass" in info["families"]


def test_generate_is_seeded_and_matches_the_python_api(served):
    pipe, client = served
    body = {"pitch": 60, "family": "brass", "temperature": 0.9, "seed": 17}
    a, b = client.post("/api/generate", json=body).json(), client.post("/api/generate", json=body).json()
    assert a["codes"] == b["codes"] and a["seed"] == 17
    expected = Editor(pipe).generate(60, "brass", sampling={"seed": 17, "temperature": 0.9}, decode=False).codes
    assert a["codes"]["top"] == expected["top"][0].tolist()
    drawn = client.post("/api/generate", json={"pitch": 60}).json()
    assert isinstance(drawn["seed"], int)  # the server picks and reports a seed


def test_sampling_left_out_of_a_request_is_the_bundles_own():
    """The page sends only what the user set: everything else (guidance, top-p) is the bundle's
    recipe, not the API model's defaults."""
    from specinpaint.app.api_models import GenerateRequest

    with edit_plugins():
        editor = Editor(make_pipeline(sampling={"guidance_scale": 2.0, "top_p": 0.8, "temperature": 0.9}))
    bare = editor.sampling_options(GenerateRequest(pitch=60).options(5))
    assert (bare.guidance_scale, bare.top_p, bare.temperature, bare.seed) == (2.0, 0.8, 0.9, 5)
    assert bare.guidance_drop == "both"
    asked = editor.sampling_options(GenerateRequest(pitch=60, temperature=0.5, guidance_drop="family").options(6))
    assert (asked.guidance_scale, asked.temperature, asked.guidance_drop) == (2.0, 0.5, "family")
    assert asked.pitch_guidance_scale is None  # not asked, not in the bundle's recipe
    both = editor.sampling_options(GenerateRequest(pitch=60, guidance_drop="family", pitch_guidance_scale=2).options(7))
    assert (both.guidance_drop, both.guidance_scale, both.pitch_guidance_scale) == ("family", 2.0, 2.0)


def test_info_reports_the_bundles_own_sampling():
    """The page labels its "bundle default" choice with what the bundle samples with."""
    with edit_plugins():
        pipe = make_pipeline(sampling={"guidance_scale": 3.0, "guidance_drop": "family", "top_p": 0.8})
        info = TestClient(create_app(pipe, ServerSettings(rate_limit_per_minute=0)), base_url=LOCAL).get("/api/info")
    shown = info.json()["sampling"]
    assert (shown["guidance_scale"], shown["guidance_drop"], shown["top_p"]) == (3.0, "family", 0.8)
    assert shown["pitch_guidance_scale"] is None and shown["temperature"] == 1.0
    assert "seed" not in shown and "levels" not in shown


def test_inpaint_changes_only_the_returned_mask(served):
    _, client = served
    codes = client.post("/api/generate", json={"seed": 1}).json()["codes"]
    for edited in ("top", "bottom"):
        res = client.post("/api/inpaint", json={
            "codes": codes, "region": {"time_s": [0.0, 0.07], "freq_hz": [0, 1500]}, "level": edited,
            "pitch": 72, "family": "flute", "seed": 3,
        })
        assert res.status_code == 200, res.text
        out = res.json()
        for level in ("top", "bottom"):
            old, new = np.array(codes[level]), np.array(out["codes"][level])
            mask = np.array(out["masks"][level], dtype=bool)
            assert (old[~mask] == new[~mask]).all()
        assert (np.array(out["codes"]["bottom"]) != np.array(codes["bottom"])).any()
        if edited == "bottom":
            assert out["codes"]["top"] == codes["top"]
    explicit = client.post("/api/inpaint", json={
        "codes": codes, "region": {"masks": {"top": [[1, 0, 0, 0]] + [[0] * 4] * 3}}, "seed": 2}).json()
    assert np.array(explicit["masks"]["top"]).sum() == 1


def test_attenuate_audio_spectrogram_and_pack(served):
    pipe, client = served
    codes = client.post("/api/generate", json={"seed": 2}).json()["codes"]
    res = client.post("/api/attenuate", json={"codes": codes, "region": {"freq_hz": [0, 1000]}, "amount_db": 30})
    assert res.status_code == 200 and res.json()["masks"]["bottom"][0][0] == 1
    wav = client.post("/api/audio", json={"codes": codes})
    assert wav.headers["content-type"] == "audio/wav"
    audio, rate = sf.read(io.BytesIO(wav.content))
    expected = pipe.decode(Codemaps.from_lists({k: [v] for k, v in codes.items()}))[0].numpy()
    assert rate == 8000 and audio.shape == (1024,) and np.abs(audio - expected).max() < 1e-3
    png = client.post("/api/spectrogram", json={"codes": codes})
    from PIL import Image

    image = Image.open(io.BytesIO(png.content))
    assert png.headers["content-type"] == "image/png" and image.size == (64, 32)  # frames × rows
    pack = client.post("/api/sample-pack", json={"codes": codes, "family": "reed", "min_pitch": 60, "max_pitch": 62,
                                                 "seed": 1})
    names = zipfile.ZipFile(io.BytesIO(pack.content)).namelist()
    assert pack.headers["content-type"] == "application/zip" and names == ["reed-60.wav", "reed-61.wav", "reed-62.wav"]


def test_analyze_upload_and_its_limits(served):
    _, client = served
    ok = client.post("/api/analyze", files={"audio": ("stereo.wav", _wav(0.3, channels=2), "audio/wav")})
    assert ok.status_code == 200, ok.text
    assert len(ok.json()["codes"]["top"][0]) == 10  # 0.3 s / 0.032 s per column, rounded up
    assert ok.json()["labels"]["pitch"] is None  # 0.3 s at this bundle's 8 kHz is too short for pYIN
    tone = client.post("/api/analyze", files={"audio": ("tone.wav", _wav(0.9), "audio/wav")})
    assert tone.json()["labels"]["pitch"] == 69  # the 440 Hz tone's pitch, estimated for the decoder
    resampled = client.post("/api/analyze", files={"audio": ("hi.wav", _wav(0.2, rate=16000), "audio/wav")})
    assert resampled.status_code == 200 and len(resampled.json()["codes"]["top"][0]) == 7
    too_long = client.post("/api/analyze", files={"audio": ("long.wav", _wav(1.5), "audio/wav")})
    assert too_long.status_code == 413 and "limit is 1 s" in too_long.json()["detail"]
    too_big = client.post("/api/analyze", files={"audio": ("big.wav", b"\0" * 300_000, "audio/wav")})
    assert too_big.status_code == 413 and "limit" in too_big.json()["detail"]
    garbage = client.post("/api/analyze", files={"audio": ("x.wav", b"not audio", "audio/wav")})
    assert garbage.status_code == 422 and "cannot read audio" in garbage.json()["detail"]
    empty = client.post("/api/analyze", files={"audio": ("e.wav", b"", "audio/wav")})
    assert empty.status_code == 422


@pytest.mark.parametrize("body, status, message", [
    ({"codes": {"top": [[1, 2], [3]], "bottom": [[0] * 8] * 8}}, 422, "rectangular"),
    ({"codes": {"top": [[99] * 4] * 4, "bottom": [[0] * 8] * 8}}, 422, "outside [0, 16)"),
    ({"codes": {"top": [[0] * 4] * 4}}, 422, "levels"),
    ({"codes": {"top": [[0] * 4] * 3, "bottom": [[0] * 8] * 8}}, 422, "shape"),
    ({"codes": {"top": [[0] * 40] * 4, "bottom": [[0] * 80] * 8}}, 413, "at most 31"),
    ({"codes": {"top": [0, 1], "bottom": [[0] * 8] * 8}}, 422, None),
])
def test_malformed_codes_get_4xx_json(served, body, status, message):
    _, client = served
    res = client.post("/api/audio", json=body)
    assert res.status_code == status
    if message:
        assert message in res.json()["detail"]


def test_malformed_edit_requests(served):
    _, client = served
    codes = client.post("/api/generate", json={"seed": 3}).json()["codes"]
    cases = [
        ({"codes": codes, "region": {"time_s": [5, 6]}}, "outside the spectrogram"),
        ({"codes": codes, "region": {"time_s": [0.1, 0.05]}}, "empty or inverted"),
        ({"codes": codes, "region": {"time_s": [0, 0.1]}, "level": "middle"}, "unknown level"),
        ({"codes": codes, "region": {"masks": {"top": [[1]]}}}, "expected (4, 4)"),
    ]
    for body, message in cases:
        res = client.post("/api/inpaint", json=body)
        assert res.status_code == 422 and message in res.json()["detail"], res.text
    for body in ({"codes": codes, "region": {}},
                 {"codes": codes, "region": {"time_s": [0, 1], "masks": {"top": [[1]]}}},
                 {"codes": codes, "region": {"time_s": [0, 1]}, "pitch": 200},
                 {"codes": codes, "region": {"time_s": [0, 1]}, "temperature": 0},
                 {"codes": codes, "region": {"time_s": [0, 1]}, "surprise": 1}):
        res = client.post("/api/inpaint", json=body)
        assert res.status_code == 422 and isinstance(res.json()["detail"], list)
    pack = client.post("/api/sample-pack", json={"codes": codes, "min_pitch": 70, "max_pitch": 60})
    assert pack.status_code == 422
    # labels the bundle does not offer: one line naming the allowed ones, never repeating the request
    kazoo = client.post("/api/inpaint", json={"codes": codes, "region": {"time_s": [0, 1]}, "family": "kazoo"})
    assert kazoo.status_code == 422 and "kazoo" not in kazoo.text
    assert kazoo.json()["detail"] == "family: not one of this bundle's families: " + ", ".join(NSYNTH_FAMILIES)
    low = client.post("/api/generate", json={"pitch": 12})
    assert low.status_code == 422 and low.json()["detail"] == "pitch: outside this bundle's pitch range 24..84"


def test_sample_from_dataset_honours_constraints_and_terminates(served):
    _, client = served
    brass = [client.post("/api/sample-from-dataset", json={"family": "brass", "seed": s}).json() for s in range(6)]
    assert {b["labels"]["index"] for b in brass} == {1, 2}
    assert all(b["labels"]["family"] == "brass" for b in brass)
    c4 = client.post("/api/sample-from-dataset", json={"pitch_class": 4, "octave": 4, "family": "organ"}).json()
    assert c4["labels"] == {"index": 3, "pitch": 64, "family": "organ"}
    none = client.post("/api/sample-from-dataset", json={"pitch": 41})
    assert none.status_code == 404 and "no dataset note matches pitch=41" in none.json()["detail"]
    assert client.post("/api/sample-from-dataset", json={"pitch_class": 12}).status_code == 422


def test_rate_limit_answers_429():
    with edit_plugins():
        app = create_app(make_pipeline(), ServerSettings(rate_limit_per_minute=60, rate_limit_burst=2))
        client = TestClient(app, base_url=LOCAL)
        codes = {"top": [[0] * 4] * 4, "bottom": [[0] * 8] * 8}
        statuses = [client.post("/api/audio", json={"codes": codes}).status_code for _ in range(3)]
        assert statuses[:2] == [200, 200] and statuses[2] == 429
        limited = client.post("/api/audio", json={"codes": codes})
        assert int(limited.headers["retry-after"]) >= 1 and "rate limit" in limited.json()["detail"]
        assert client.get("/api/info").status_code == 200  # reads are not limited


def test_pages_docs_and_no_files_written(served, tmp_path, monkeypatch):
    _, client = served
    monkeypatch.chdir(tmp_path)
    page = client.get("/")
    assert page.status_code == 200 and "/static/app.js" in page.text and "http" not in page.text.split("<body>")[0]
    assert "api/inpaint" in client.get("/static/app.js").text
    spec = client.get("/openapi.json").json()
    assert {"/api/generate", "/api/inpaint", "/api/attenuate", "/api/audio", "/api/spectrogram", "/api/sample-pack",
            "/api/analyze", "/api/sample-from-dataset", "/api/info", "/api/noise", "/api/region-masks"} <= set(spec["paths"])
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/docs-assets/swagger-ui-bundle.js" in docs.text
    assert "cdn" not in docs.text.lower() and "https://" not in docs.text  # nothing fetched from outside
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
    assert client.get("/docs-assets/swagger-ui.css").status_code == 200
    reference = client.get("/api/reference").text
    assert "POST /api/inpaint" in reference and "InpaintRequest" in reference and "cdn" not in reference.lower()
    codes = client.post("/api/generate", json={"seed": 5}).json()["codes"]
    client.post("/api/audio", json={"codes": codes})
    client.post("/api/spectrogram", json={"codes": codes})
    assert list(tmp_path.iterdir()) == []  # every response is built in memory


# -- hardening: bodies, validation answers, Host/Origin, forwarded headers ----------------------------------


def test_bodies_without_content_length_are_limited_too(served):
    _, client = served
    body = b'{"family":"' + b"a" * 300_000 + b'"}'

    def chunks():  # a generator body goes out chunked, without Content-Length
        for start in range(0, len(body), 65536):
            yield body[start:start + 65536]

    res = client.post("/api/generate", content=chunks(), headers={"content-type": "application/json"})
    assert res.status_code == 413 and res.json() == {"detail": "request body exceeds the 200000-byte limit"}
    boundary = "x1x1x1"
    form = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"audio\"; filename=\"a.wav\"\r\n"
            f"Content-Type: audio/wav\r\n\r\n").encode() + b"\0" * 300_000 + f"\r\n--{boundary}--\r\n".encode()
    res = client.post("/api/analyze", content=iter([form[:100_000], form[100_000:]]),
                      headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    assert res.status_code == 413 and "200000-byte limit" in res.json()["detail"]


def test_validation_errors_name_the_field_and_never_echo_the_body(served):
    _, client = served
    for raw, field in ((b'{"pitch":60,"temperature":NaN}', "temperature"),
                       (b'{"pitch":60,"temperature":Infinity}', "temperature"),
                       (b'{"pitch":60,"top_p":-Infinity}', "top_p")):
        res = client.post("/api/generate", content=raw, headers={"content-type": "application/json"})
        assert res.status_code == 422, res.text
        detail = res.json()["detail"]
        assert detail[0]["loc"] == ["body", field] and "finite" in detail[0]["msg"]
    codes = client.post("/api/generate", json={"seed": 4}).json()["codes"]
    raw = json.dumps({"codes": codes, "region": {"time_s": [0, 0.05]}, "amount_db": 1.5}).replace("1.5", "NaN")
    res = client.post("/api/attenuate", content=raw.encode(), headers={"content-type": "application/json"})
    assert res.status_code == 422 and res.json()["detail"][0]["loc"] == ["body", "amount_db"]
    huge = client.post("/api/generate", json={"family": "k" * 150_000})
    assert huge.status_code == 422 and len(huge.content) < 1000 and "kkkk" not in huge.text
    assert "input" not in huge.json()["detail"][0]


def test_host_must_be_an_allowed_name(served):
    _, client = served
    for host in ("127.0.0.1:8000", "localhost:8000", "[::1]:8000", "LOCALHOST"):
        assert client.get("/api/info", headers={"host": host}).status_code == 200, host
    for host in ("attacker.example", "attacker.example:8000", "127.0.0.1.attacker.example", ""):
        res = client.get("/", headers={"host": host})
        assert res.status_code == 400 and "is not allowed" in res.json()["detail"], host
    with edit_plugins():
        app = create_app(make_pipeline(), ServerSettings(rate_limit_per_minute=0, allowed_hosts=["*.lab.example"]))
    lab = TestClient(app, base_url="http://synth.lab.example")
    assert lab.get("/api/info").status_code == 200
    assert lab.get("/api/info", headers={"host": "127.0.0.1"}).status_code == 400  # the list replaces the default


def test_cross_origin_state_changes_are_refused(served):
    _, client = served
    same = client.post("/api/generate", json={"seed": 1}, headers={"origin": "http://127.0.0.1:8000"})
    assert same.status_code == 200
    for origin in ("http://attacker.example", "http://127.0.0.1:9999", "http://localhost:8000", "null"):
        res = client.post("/api/generate", json={"seed": 1}, headers={"origin": origin})
        assert res.status_code == 403 and "cross-origin POST" in res.json()["detail"], origin
    form = client.post("/api/analyze", files={"audio": ("a.wav", _wav(0.2), "audio/wav")},
                       headers={"origin": "http://attacker.example"})  # a cross-site multipart form
    assert form.status_code == 403
    assert client.get("/api/info", headers={"origin": "http://attacker.example"}).status_code == 200  # reads pass
    assert client.post("/api/generate", json={"seed": 1}).status_code == 200  # no Origin: not a browser


def test_upload_answers_say_what_was_done_and_leak_no_reprs(served):
    _, client = served
    garbage = client.post("/api/analyze", files={"audio": ("x.wav", b"RIFF\0\0\0\0WAVEjunk", "audio/wav")})
    assert garbage.status_code == 422 and "object at 0x" not in garbage.text
    assert garbage.json()["detail"].startswith("x.wav: cannot read audio")
    buffer = io.BytesIO()
    sf.write(buffer, np.full(1600, 10.0, np.float32), 8000, format="WAV", subtype="FLOAT")
    loud = client.post("/api/analyze", files={"audio": ("loud.wav", buffer.getvalue(), "audio/wav")})
    assert loud.status_code == 200 and loud.json()["labels"]["warnings"] == [
        "loud.wav: samples peak at 10× full scale; scaled down by 0.1 to peak at 1.0"]
    cut = _wav(0.5)[:2000]
    res = client.post("/api/analyze", files={"audio": ("cut.wav", cut, "audio/wav")})
    assert res.status_code == 422 and "WAV data is cut short" in res.json()["detail"]


def test_explicit_masks_must_be_zero_or_one(served):
    _, client = served
    codes = client.post("/api/generate", json={"seed": 3}).json()["codes"]
    res = client.post("/api/inpaint", json={"codes": codes, "region": {"masks": {"top": [[5, 0, 0, 0]] + [[0] * 4] * 3}}})
    assert res.status_code == 422 and res.json()["detail"] == "mask 'top' must hold booleans or 0/1 integers, found 5"


def test_rate_limit_table_is_bounded():
    from specinpaint.app.rate_limit import RateLimiter

    now = [0.0]
    limiter = RateLimiter(60, burst=1, clock=lambda: now[0], max_clients=3)
    assert limiter.allow("a") == 0.0 and limiter.allow("a") > 0  # a is out of tokens
    for key in ("b", "c", "d", "e"):
        limiter.allow(key)
    assert len(limiter) == 3
    limiter.allow("e")
    assert limiter.allow("e") > 0  # recent clients keep their (empty) bucket


def _chunked_post(url: str, path: str, total: int) -> tuple[int, bytes, int]:
    """POST a chunked JSON body of up to ``total`` bytes; stop sending once the server answers.
    Returns (status, response bytes, body bytes sent)."""
    import select
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n".encode())
        chunk, sent = b"a" * 65536, 0
        sock.sendall(b'b\r\n{"family":"\r\n')
        while sent < total and not select.select([sock], [], [], 0)[0]:
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except (BrokenPipeError, ConnectionResetError, TimeoutError):
                break
            sent += len(chunk)
        response = b""
        while len(response) < 1_000_000:  # headers, then Content-Length bytes (an echoed body would not fit)
            head, _, body = response.partition(b"\r\n\r\n")
            length = [int(line.split(b":")[1]) for line in head.lower().split(b"\r\n") if line.startswith(b"content-length:")]
            if length and len(body) >= length[0]:
                break
            try:
                data = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not data:
                break
            response += data
    return int(response.split(b" ", 2)[1]), response, sent


def test_over_http_chunked_bodies_stop_early_and_forwarded_headers_are_not_trusted():
    from specinpaint.app.server import BackgroundServer

    with edit_plugins():
        app = create_app(make_pipeline(), ServerSettings(rate_limit_per_minute=60, rate_limit_burst=3,
                                                         max_upload_bytes=200_000))  # 1 token for the 413
        with BackgroundServer(app) as url:
            status, response, sent = _chunked_post(url, "/api/generate", total=20_000_000)
            assert status == 413 and len(response) < 2000 and sent < 5_000_000, (status, len(response), sent)
            assert b"200000-byte limit" in response and b"aaaa" not in response
            import httpx

            statuses = [httpx.post(f"{url}/api/generate", json={"seed": 1},
                                   headers={"x-forwarded-for": f"10.0.0.{i}"}).status_code for i in range(3)]
            assert statuses == [200, 200, 429]  # one client, whatever X-Forwarded-For says
        trusting = create_app(make_pipeline(), ServerSettings(rate_limit_per_minute=60, rate_limit_burst=2,
                                                              forwarded_allow_ips="127.0.0.1"))
        with BackgroundServer(trusting) as url:
            statuses = [httpx.post(f"{url}/api/generate", json={"seed": 1},
                                   headers={"x-forwarded-for": f"10.0.0.{i}"}).status_code for i in range(3)]
            assert statuses == [200, 200, 200]  # behind a trusted proxy each forwarded client has its bucket


def test_noise_route_fills_the_region_with_seeded_codes(served):
    _, client = served
    codes = client.post("/api/generate", json={"seed": 6}).json()["codes"]
    body = {"codes": codes, "region": {"time_s": [0.0, 0.06], "freq_hz": [0, 1900]}, "seed": 9}
    first, again = client.post("/api/noise", json=body).json(), client.post("/api/noise", json=body).json()
    assert first["codes"] == again["codes"] and first["seed"] == 9
    changed = 0
    for level in ("top", "bottom"):
        old, new = np.array(codes[level]), np.array(first["codes"][level])
        mask = np.array(first["masks"][level], dtype=bool)
        assert mask.any() and (old[~mask] == new[~mask]).all()
        changed += int((old[mask] != new[mask]).sum())
    assert changed > 0
    bottom = client.post("/api/noise", json={**body, "level": "bottom"}).json()
    assert bottom["codes"]["top"] == codes["top"] and not np.array(bottom["masks"]["top"]).any()
    assert isinstance(client.post("/api/noise", json={"codes": codes, "region": {"time_s": [0, 0.05]}}).json()["seed"], int)
    bad = client.post("/api/noise", json={**body, "level": "middle"})
    assert bad.status_code == 422 and "unknown level 'middle'" in bad.json()["detail"]
    former = client.post("/api/noise", json={**body, "layer": "bottom"}).json()  # the field's former name
    assert former["codes"] == bottom["codes"]


def test_region_masks_preview_is_the_edits_own_selection(served):
    _, client = served
    codes = client.post("/api/generate", json={"seed": 7}).json()["codes"]
    region = {"time_s": [0.0, 0.07], "freq_hz": [0, 1500]}
    preview = client.post("/api/region-masks", json={"region": region, "level": "top"}).json()["masks"]
    edit = client.post("/api/inpaint", json={"codes": codes, "region": region, "seed": 1}).json()["masks"]
    assert preview == edit and sum(map(sum, preview["top"])) > 0
    painted = [[0] * 8 for _ in range(8)]
    painted[5][6] = 1
    pooled = client.post("/api/region-masks", json={"region": {"masks": {"bottom": painted}}, "level": "top"}).json()
    assert [(r, c) for r, row in enumerate(pooled["masks"]["top"]) for c, v in enumerate(row) if v] == [(2, 3)]
    long = client.post("/api/region-masks", json={"region": {"time_s": [0.2, 0.3]}, "columns": 12}).json()["masks"]
    assert len(long["top"][0]) == 12 and sum(long["top"][0][:6]) == 0 and sum(long["top"][0][6:10]) > 0
    outside = client.post("/api/region-masks", json={"region": {"time_s": [5, 6]}})
    assert outside.status_code == 422 and "outside the spectrogram" in outside.json()["detail"]
    assert client.post("/api/region-masks", json={"region": region, "columns": 99}).status_code == 422
