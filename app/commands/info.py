"""`specinpaint info`: versions, devices and which attention backends work on this machine."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("info", help="show torch version, devices and working attention backends")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=run)


def collect() -> dict:
    import platform

    import torch

    import specinpaint

    devices = ["cpu"] + [f"cuda:{i} ({torch.cuda.get_device_name(i)})" for i in range(torch.cuda.device_count())]
    try:
        from specinpaint.priors.attention import backend_report

        backends = backend_report()
    except ImportError as exc:  # priors not installed in this build
        backends = [{"name": "unknown", "available": False, "detail": f"priors unavailable: {exc}"}]
    return {
        "specinpaint": specinpaint.__version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda_available": torch.cuda.is_available(),
        "devices": devices,
        "threads": torch.get_num_threads(),
        "attention_backends": backends,
    }


def run(args: argparse.Namespace) -> int:
    info = collect()
    if args.json:
        print(json.dumps(info, indent=1))
        return 0
    for key in ("specinpaint", "python", "torch", "cuda_available", "threads"):
        print(f"{key:15s} {info[key]}")
    print(f"{'devices':15s} {', '.join(info['devices'])}")
    print("attention backends:")
    for backend in info["attention_backends"]:
        state = "works" if backend["available"] else "unavailable"
        print(f"  {backend['name']:10s} {state:12s} {backend.get('detail', '')}")
    return 0
