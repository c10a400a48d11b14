"""Who may ask for transfers, and how often: an optional API key and a per-client rate limit.

For people who expose `waestyle serve` beyond loopback. The key is compared in constant time and read from
`X-API-Key` or `Authorization: Bearer`. The rate limit is a sliding window per client address (behind a
reverse proxy, run uvicorn with the proxy's address in `--forwarded-allow-ips` so that address is the
visitor's); it remembers at most `max_clients` addresses, forgetting the longest idle first, so a flood of
addresses cannot grow memory without bound.
"""

import hmac
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key a request carries, if any."""
    if key := headers.get("x-api-key"):
        return key
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def key_matches(expected: str, headers: Mapping[str, str]) -> bool:
    key = presented_key(headers)
    return key is not None and hmac.compare_digest(key.encode(), expected.encode())


class RateLimiter:
    """At most `per_minute` requests per client in any 60 s; `retry_after` records a request if it is allowed."""

    def __init__(self, per_minute: int, window: float = 60.0, max_clients: int = 10_000,
                 clock: Callable[[], float] = time.monotonic):  # fmt: skip
        self.per_minute, self.window, self.max_clients, self.clock = per_minute, window, max_clients, clock
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> float:
        """0 if the request may go ahead (and it is counted), else the seconds until it may."""
        now = self.clock()
        with self._lock:
            times = self._seen.pop(client, None) or deque()
            while times and times[0] <= now - self.window:
                times.popleft()
            self._seen[client] = times  # now the most recently seen
            if len(self._seen) > self.max_clients:
                self._seen.popitem(last=False)
            if len(times) >= self.per_minute:
                return times[0] + self.window - now
            times.append(now)
            return 0.0
