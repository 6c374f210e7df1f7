"""`specinpaint info`: versions, devices, which attention backends work on this machine and which
distributed (torchrun) backends this torch build has."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("info", help="show torch version, devices, working attention backends and distributed backends")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=run)


def collect() -> dict:
    import platform

    import torch

    import specinpaint

    devices = ["cpu"] + [f"cuda:{i} ({torch.cuda.get_device_name(i)})" for i in range(torch.cuda.device_count())]
    from specinpaint.priors.attention import backend_report
    from specinpaint.training.distributed import backend_report as distributed_report

    backends = backend_report()

    return {
        "specinpaint": specinpaint.__version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda_available": torch.cuda.is_available(),
        "devices": devices,
        "threads": torch.get_num_threads(),
        "attention_backends": backends,
        "distributed_backends": distributed_report(),
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
    print("distributed backends (torchrun):")
    for backend in info["distributed_backends"]:
        state = "used here" if backend["used_here"] else "available" if backend["available"] else "unavailable"
        print(f"  {backend['name']:10s} {state:12s} {backend['detail']}")
    return 0
