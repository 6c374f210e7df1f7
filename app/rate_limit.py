"""A per-client token bucket: ``rate`` requests per minute with bursts of ``burst``.

Why in-process: the server is a single local process (bound to 127.0.0.1 by default); a limit
stops one runaway client from queueing minutes of inference behind the model lock. The table of
buckets is bounded (least recently seen clients are forgotten first), so many client addresses
cannot grow it without end. Clients are keyed by the socket's peer address; forwarded headers
count only from proxies the server was told to trust (``serve --forwarded-allow-ips``).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

DEFAULT_MAX_CLIENTS = 10_000


class RateLimiter:
    """``allow(key)`` → seconds to wait (0.0 when the request may proceed now)."""

    def __init__(self, per_minute: float, burst: int | None = None, clock=time.monotonic,
                 max_clients: int = DEFAULT_MAX_CLIENTS) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst if burst is not None else max(1, int(per_minute // 6)))
        self.clock = clock
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def __len__(self) -> int:
        return len(self._buckets)

    def allow(self, key: str) -> float:
        if not self.enabled:
            return 0.0
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.pop(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            allowed = tokens >= 1.0
            self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)  # most recent last
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
            return 0.0 if allowed else (1.0 - tokens) / self.rate
