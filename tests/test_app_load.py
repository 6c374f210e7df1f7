"""A bounded load test on loopback: concurrent clients mixing routes against a real uvicorn
server. No request may fail, and every client checks that each answer is the one for ITS request
(seeded codes, the WAV of its own codes) — no cross-talk through shared state or files."""

from __future__ import annotations

import io
import threading

import httpx
import numpy as np
import soundfile as sf

from fakes.editing import edit_plugins, make_pipeline
from specinpaint.app.server import BackgroundServer, ServerSettings, create_app
from specinpaint.core.region import Region
from specinpaint.editing import Editor

CLIENTS, ROUNDS = 6, 4


def test_concurrent_clients_get_their_own_answers():
    with edit_plugins():
        pipe = Editor(make_pipeline())
        region = Region(time_s=(0.03, 0.09), freq_hz=(0.0, 2000.0))
        expected = {}
        for client in range(CLIENTS):
            for step in range(ROUNDS):
                seed = 1000 * client + step
                note = pipe.generate(24 + client, "brass", sampling={"seed": seed}, decode=False).codes
                edited = pipe.inpaint(note, region, pitch=60 + step, family="organ", seed=seed + 1, decode=False).codes
                expected[seed] = (note, edited, pipe.pipeline.decode(edited)[0].numpy())

        errors: list[str] = []
        counts = {"requests": 0}
        lock = threading.Lock()

        def work(client: int, url: str) -> None:
            with httpx.Client(base_url=url, timeout=60) as http:
                for step in range(ROUNDS):
                    seed = 1000 * client + step
                    note, edited, audio = expected[seed]
                    gen = http.post("/api/generate", json={"pitch": 24 + client, "family": "brass", "seed": seed})
                    got = gen.json()["codes"] if gen.status_code == 200 else None
                    if got != {k: v[0].tolist() for k, v in note.items()}:
                        errors.append(f"client {client} step {step}: generate answered {gen.status_code} / other codes")
                        continue
                    inp = http.post("/api/inpaint", json={
                        "codes": got, "region": {"time_s": list(region.time_s), "freq_hz": list(region.freq_hz)},
                        "pitch": 60 + step, "family": "organ", "seed": seed + 1})
                    codes = inp.json()["codes"] if inp.status_code == 200 else None
                    if codes != {k: v[0].tolist() for k, v in edited.items()}:
                        errors.append(f"client {client} step {step}: inpaint answered {inp.status_code} / other codes")
                        continue
                    wav = http.post("/api/audio", json={"codes": codes})
                    png = http.post("/api/spectrogram", json={"codes": codes})
                    info = http.get("/api/info")
                    decoded, _ = sf.read(io.BytesIO(wav.content)) if wav.status_code == 200 else (None, 0)
                    if decoded is None or np.abs(decoded - audio).max() > 1e-3:
                        errors.append(f"client {client} step {step}: audio of other codes ({wav.status_code})")
                    if png.status_code != 200 or not png.content.startswith(b"\x89PNG") or info.status_code != 200:
                        errors.append(f"client {client} step {step}: image/info failed ({png.status_code})")
                    with lock:
                        counts["requests"] += 5

        app = create_app(pipe, ServerSettings(rate_limit_per_minute=0, torch_threads=1))
        with BackgroundServer(app) as url:
            threads = [threading.Thread(target=work, args=(c, url)) for c in range(CLIENTS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
        assert not any(t.is_alive() for t in threads), "a client hung"
        assert errors == []
        assert counts["requests"] == CLIENTS * ROUNDS * 5
