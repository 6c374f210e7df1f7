"""A progress bar over prior calls, for long edits on the command line (off in the library)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def progress_bar(total: int, enabled: bool) -> Iterator[Any]:
    """A tqdm bar on stderr over ``total`` prior calls, or None when disabled."""
    if not enabled:
        yield None
        return
    from tqdm import tqdm

    with tqdm(total=total, unit="window", file=sys.stderr, dynamic_ncols=True, leave=False) as bar:
        yield bar
