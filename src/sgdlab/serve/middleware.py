"""Small ASGI middlewares: a cap on request bodies, a guard against other sites (Host, Origin,
content type), and security headers on every response, the refusals and crashes included.

Written by hand because neither Starlette nor uvicorn has a body-size limit; each is a few lines
of the ASGI protocol.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any, Awaitable, Callable

MAX_BODY_BYTES = 64 * 1024  # no request needs more: an expression is at most 500 characters

# Pages load only what sgdlab serves: no other origin, no inline script (Plotly needs inline
# styles). The API docs page (Swagger UI) starts with an inline script, so it gets its own policy.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
DOCS_CSP = CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'")
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


def security_headers(path: str) -> list[tuple[bytes, bytes]]:
    """The headers every response carries (the 500 handler adds them itself: Starlette sends a
    crash's response outside every middleware)."""
    policy = DOCS_CSP if path.startswith("/docs") else CSP
    return [(b"content-security-policy", policy.encode()), (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"), (b"x-frame-options", b"DENY")]

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class BodyLimit:
    """Refuse a request body over ``limit`` bytes with 413, by its Content-Length or as it
    arrives (the body is read first, at most ``limit`` bytes, then handed on)."""

    def __init__(self, app, limit: int = MAX_BODY_BYTES):
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            return await self._refuse(send)
        if scope.get("method") not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        chunks, total = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            total += len(chunks[-1])
            if total > self.limit:
                return await self._refuse(send)
            if not message.get("more_body"):
                break
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"status": "error", "errors": [
            f"request body larger than {self.limit} bytes"]}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    """Content-Security-Policy, nosniff and no-referrer on every HTTP response."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        extra = security_headers(scope.get("path", ""))

        async def with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                names = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in extra if k not in names]
                message = message | {"headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def host_name(value: str) -> str:
    """The host of a Host header or an origin's authority, lower case, without port or []."""
    value = value.strip().lower()
    if value.startswith("["):  # [::1]:8000
        return value[1:value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class Guard:
    """The browser's attacks, refused with 403 and one line each.

    DNS rebinding: a page of attacker.example whose name now resolves to 127.0.0.1 reaches this
    server with ``Host: attacker.example``; so the Host must be the bound address, ``localhost``
    when bound to loopback, an address of this machine when bound to all (0.0.0.0 or ::; a bare IP
    cannot be rebound), or a name given with ``--allowed-host``.
    Cross-site requests (CSRF): every state change must be JSON (``text/plain`` and form posts
    are what another site can send without asking) and, when the browser names an ``Origin``
    (browsers always do on a POST), that origin must be this server's own. Scripts (curl,
    Python) send no Origin and are let through by that rule.
    """

    def __init__(self, app, host: str = "127.0.0.1", allowed_hosts: tuple[str, ...] = ()):
        from .server import is_loopback

        self.app = app
        bound = host_name(host)
        self.any_ip = bound in ("0.0.0.0", "::", "")
        self.allowed = {bound} | {host_name(h) for h in allowed_hosts if h.strip()}
        if is_loopback(bound):
            self.allowed |= {"localhost", "127.0.0.1", "::1"}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
        problem = self._problem(scope.get("method", "GET"), headers)
        if problem:
            return await _send_error(send, 403, problem)
        await self.app(scope, receive, send)

    def _problem(self, method: str, headers: dict[str, str]) -> str | None:
        host = headers.get("host", "")
        name = host_name(host)
        if not name:
            return "the request has no Host header"
        if name not in self.allowed and not (self.any_ip and _is_ip(name)):
            return (f"Host {host!r} is not this server's address; a name that reaches it must be "
                    "given with `sgdlab serve --allowed-host NAME`")
        if method not in STATE_CHANGING:
            return None
        kind = headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            return f"a {method} must send Content-Type: application/json, got {kind or 'none'!r}"
        origin = headers.get("origin")
        if origin is not None:
            scheme, _, authority = origin.partition("://")
            if origin == "null" or host_name(authority) != name or authority.lower() != host.lower():
                return f"cross-site request refused: Origin {origin!r} is not this server ({host})"
        if headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
            return f"cross-site request refused (Sec-Fetch-Site: {headers['sec-fetch-site']})"
        return None


async def _send_error(send: Send, status: int, problem: str) -> None:
    body = json.dumps({"status": "error", "errors": [problem]}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
