"""`specinpaint serve [BUNDLE]`: the HTTP API and web app on http://127.0.0.1:8000."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from specinpaint.app.cli_common import DEFAULT_BUNDLE, load_bundle
from specinpaint.core.errors import ConfigError

#: ServerSettings field → the flag that sets it (for one-line errors naming the flag).
FLAGS = {
    "host": "--host", "port": "--port", "max_upload_bytes": "--max-upload-mb", "max_duration_s": "--max-duration",
    "rate_limit_per_minute": "--rate-limit", "torch_threads": "--threads", "allowed_hosts": "--allowed-hosts",
    "forwarded_allow_ips": "--forwarded-allow-ips",
}


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("serve", help="serve the web app and HTTP API for a pipeline bundle",
                            description="Serve the single-page inpainting app and its JSON API "
                            "(OpenAPI docs at /docs). Binds to 127.0.0.1 unless --host says otherwise. "
                            "What the server checks and what it does not promise: docs/security.md.")
    parser.add_argument("bundle", type=Path, nargs="?", default=DEFAULT_BUNDLE,
                        help=f"pipeline bundle directory (default: {DEFAULT_BUNDLE})")
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1; 0.0.0.0 exposes it)")
    parser.add_argument("--port", type=int, default=8000, help="TCP port 0..65535 (default 8000)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--codes", type=Path,
                        help="code store for 'sample from dataset' (default: the bundle's, when present)")
    parser.add_argument("--max-upload-mb", type=float, default=20.0,
                        help="largest request body, uploads included (MB, > 0; counted while it streams in)")
    parser.add_argument("--max-duration", type=float, default=60.0, help="longest note accepted (seconds, > 0)")
    parser.add_argument("--rate-limit", type=float, default=600.0,
                        help="POST requests per minute per client address (0 = off)")
    parser.add_argument("--threads", type=int, help="CPU threads per inference, >= 1 (default: torch's; try 1 on "
                        "busy hosts)")
    parser.add_argument("--allowed-hosts", metavar="NAMES",
                        help="comma-separated Host header names browsers may use ('*.example.org' for subdomains, "
                        "'*' for any); default: localhost, 127.0.0.1, ::1 and the --host address (its host name "
                        "for 0.0.0.0)")
    parser.add_argument("--forwarded-allow-ips", metavar="IPS",
                        help="comma-separated addresses of reverse proxies whose X-Forwarded-For/-Proto headers are "
                        "trusted (default: none, so a client cannot choose its rate-limit address)")
    parser.set_defaults(func=run)


def _csv(text: str | None) -> list[str] | None:
    return [item.strip() for item in text.split(",") if item.strip()] if text else None


def settings_from_args(args: argparse.Namespace):
    """`ServerSettings` from the flags; a bad value is a one-line `ConfigError` naming its flag."""
    from pydantic import ValidationError

    from specinpaint.app.server import ServerSettings

    if not (math.isfinite(args.max_upload_mb) and args.max_upload_mb > 0):
        raise ConfigError(f"--max-upload-mb {args.max_upload_mb:g}: must be a positive number of megabytes")
    fields = {"host": args.host, "port": args.port, "max_upload_bytes": max(1, int(args.max_upload_mb * 1e6)),
              "max_duration_s": args.max_duration, "rate_limit_per_minute": args.rate_limit,
              "torch_threads": args.threads, "allowed_hosts": _csv(args.allowed_hosts),
              "forwarded_allow_ips": args.forwarded_allow_ips}
    try:
        return ServerSettings(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        flag = FLAGS.get(field, field)
        given = args.max_upload_mb if field == "max_upload_bytes" else fields.get(field)
        raise ConfigError(f"{flag} {given}: {first['msg']}") from None


def run(args: argparse.Namespace) -> int:
    from specinpaint.app.dataset_codes import find_dataset_codes
    from specinpaint.app.request_guard import default_allowed_hosts
    from specinpaint.app.server import create_app, serve

    settings = settings_from_args(args)
    pipeline = load_bundle(args.bundle, args.device)
    dataset = find_dataset_codes(args.bundle, args.codes, pipeline)
    hosts = settings.allowed_hosts or default_allowed_hosts(settings.host)
    print(f"specinpaint: serving {args.bundle} on http://{args.host}:{args.port}/ "
          f"({len(dataset) if dataset else 0} dataset notes; API docs at /docs; Host names accepted: "
          f"{', '.join(hosts)})")
    serve(create_app(pipeline, settings, dataset), settings)
    return 0
