"""Host and Origin checks in front of the whole app (an ASGI middleware).

Why: a server on 127.0.0.1 is still reachable from a browser. *DNS rebinding* points an
attacker's name at 127.0.0.1, so the browser sends ``Host: attacker.example``: refused unless the
name is allowed. A *cross-site POST* (a form or ``fetch`` on another site) carries that site's
``Origin``: state-changing requests (POST, PUT, PATCH, DELETE) whose Origin is not the server's
own are refused. Requests without an Origin header (curl, scripts) are not browsers and pass.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
WILDCARD_BINDS = ("0.0.0.0", "::", "")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def default_allowed_hosts(bind_host: str) -> list[str]:
    """Names a browser may use for this server: the loopback names, plus the bound address (or,
    bound to every interface, this machine's host name). Anything else needs ``--allowed-hosts``."""
    names = set(LOOPBACK_NAMES)
    names.add(socket.gethostname().lower() if bind_host in WILDCARD_BINDS else bind_host.lower())
    return sorted(names)


def split_host(value: str) -> tuple[str, int | None]:
    """``"[::1]:8000"`` → ("::1", 8000); ``"Example.org"`` → ("example.org", None)."""
    value = value.strip().lower()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif value.count(":") == 1:
        host, _, port = value.partition(":")
    else:
        host, port = value, ""
    return host, int(port) if port.isdigit() else None


def host_allowed(host: str, allowed: Iterable[str]) -> bool:
    """``*`` allows any host; ``*.example.org`` allows its subdomains."""
    for pattern in allowed:
        pattern = pattern.lower()
        if pattern == "*" or pattern == host or (pattern.startswith("*.") and host.endswith(pattern[1:])):
            return True
    return False


def same_origin(origin: str, host_header: str) -> bool:
    """Whether a browser ``Origin`` names the host (and port) the request was sent to."""
    try:
        parts = urlsplit(origin)
        origin_port = parts.port
    except ValueError:
        return False
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return False  # "null" (sandboxed pages, file://) and other schemes are never this server
    host, port = split_host(host_header)
    default = _DEFAULT_PORTS[parts.scheme]
    return parts.hostname.lower() == host and (origin_port or default) == (port or default)


class RequestGuard:
    """400 for a Host outside ``allowed_hosts``; 403 for a cross-origin state-changing request."""

    def __init__(self, app: ASGIApp, allowed_hosts: Iterable[str]) -> None:
        self.app = app
        self.allowed_hosts = list(allowed_hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host_header = headers.get("host", "")
        host, _ = split_host(host_header)
        if not host_allowed(host, self.allowed_hosts):
            detail = (f"Host '{host_header[:100]}' is not allowed (allowed: {', '.join(self.allowed_hosts)}); "
                      "start the server with --allowed-hosts to add a name")
            await JSONResponse({"detail": detail}, status_code=400)(scope, receive, send)
            return
        origin = headers.get("origin")
        if scope.get("method") in UNSAFE_METHODS and origin is not None and not same_origin(origin, host_header):
            detail = f"cross-origin {scope['method']} from '{origin[:100]}' refused (only this server's own pages may change state)"
            await JSONResponse({"detail": detail}, status_code=403)(scope, receive, send)
            return
        await self.app(scope, receive, send)
