"""`specinpaint serve [BUNDLE]`: the HTTP API and web app on http://127.0.0.1:8000."""

from __future__ import annotations

import argparse
from pathlib import Path

from specinpaint.app.cli_common import DEFAULT_BUNDLE, load_bundle


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("serve", help="serve the web app and HTTP API for a pipeline bundle",
                            description="Serve the single-page inpainting app and its JSON API "
                            "(OpenAPI docs at /docs). Binds to 127.0.0.1 unless --host says otherwise.")
    parser.add_argument("bundle", type=Path, nargs="?", default=DEFAULT_BUNDLE,
                        help=f"pipeline bundle directory (default: {DEFAULT_BUNDLE})")
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1; 0.0.0.0 exposes it)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--codes", type=Path,
                        help="code store for 'sample from dataset' (default: the bundle's, when present)")
    parser.add_argument("--max-upload-mb", type=float, default=20.0, help="largest audio upload (MB)")
    parser.add_argument("--max-duration", type=float, default=60.0, help="longest note accepted (seconds)")
    parser.add_argument("--rate-limit", type=float, default=600.0, help="requests per minute per client (0 = off)")
    parser.add_argument("--threads", type=int, help="CPU threads per inference (default: torch's; try 1 on busy hosts)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from specinpaint.app.dataset_codes import find_dataset_codes
    from specinpaint.app.server import ServerSettings, create_app, serve

    settings = ServerSettings(host=args.host, port=args.port, max_upload_bytes=int(args.max_upload_mb * 1e6),
                              max_duration_s=args.max_duration, rate_limit_per_minute=args.rate_limit,
                              torch_threads=args.threads)
    pipeline = load_bundle(args.bundle, args.device)
    dataset = find_dataset_codes(args.bundle, args.codes, pipeline)
    print(f"specinpaint: serving {args.bundle} on http://{args.host}:{args.port}/ "
          f"({len(dataset) if dataset else 0} dataset notes; API docs at /docs)")
    serve(create_app(pipeline, settings, dataset), settings)
    return 0
