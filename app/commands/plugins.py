"""`specinpaint plugins list`: every registered plugin with its providing distribution."""

from __future__ import annotations

import argparse

from specinpaint.core.errors import PluginError
from specinpaint.core.registry import KINDS, registry


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("plugins", help="list installed plugins (representations, quantizers, priors, ...)")
    psub = parser.add_subparsers(dest="plugins_command", metavar="ACTION", required=True)
    listing = psub.add_parser("list", help="print kind, name, distribution and a one-line description")
    listing.add_argument("--kind", choices=KINDS, help="only this kind")
    listing.set_defaults(func=run_list)


def rows(kind: str | None = None) -> list[tuple[str, str, str, str]]:
    out = []
    for k in [kind] if kind else KINDS:
        for info in registry(k):
            try:
                description = info.description
            except PluginError as exc:
                description = f"(broken: {exc})"
            out.append((k, info.name, info.distribution, description))
    return out


def run_list(args: argparse.Namespace) -> int:
    table = rows(args.kind)
    header = ("KIND", "NAME", "DISTRIBUTION", "DESCRIPTION")
    widths = [max(len(r[i]) for r in [header, *table]) for i in range(3)]
    for row in [header, *table]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths, strict=True)) + "  " + row[3])
    return 0
