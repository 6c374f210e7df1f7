"""A per-client token bucket: ``rate`` requests per minute with bursts of ``burst``.

Why in-process: the server is a single local process (bound to 127.0.0.1 by default); a limit
stops one runaway client from queueing minutes of inference behind the model lock.
"""

from __future__ import annotations

import threading
import time


class RateLimiter:
    """``allow(key)`` → seconds to wait (0.0 when the request may proceed now)."""

    def __init__(self, per_minute: float, burst: int | None = None, clock=time.monotonic) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst if burst is not None else max(1, int(per_minute // 6)))
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def allow(self, key: str) -> float:
        if not self.enabled:
            return 0.0
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            if len(self._buckets) > 10_000:  # forget idle clients (bounded memory)
                self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 600}
            return (1.0 - tokens) / self.rate
