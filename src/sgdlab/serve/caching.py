"""Cache headers for what never changes under its address.

Pages name every script, style and catalog with its content hash (``?v=...``, see pages.py), so an
address with ``v`` can be kept for a year without asking again (``immutable``); the same file
asked for without ``v`` is revalidated each time (``no-cache``: StaticFiles' ETag and
Last-Modified then answer 304). Compression is Starlette's GZipMiddleware, added in app.py.
"""

from __future__ import annotations

from typing import Any

IMMUTABLE = b"public, max-age=31536000, immutable"
REVALIDATE = b"no-cache"
CACHED_PREFIXES = ("/static/", "/i18n/")


class CacheHeaders:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive, send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(CACHED_PREFIXES):
            return await self.app(scope, receive, send)
        query = scope.get("query_string", b"").decode("latin-1")
        versioned = any(part.startswith("v=") for part in query.split("&"))

        async def with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and message["status"] in (200, 304):
                headers = [(k, v) for k, v in message.get("headers") or [] if k.lower() != b"cache-control"]
                headers.append((b"cache-control", IMMUTABLE if versioned else REVALIDATE))
                message = message | {"headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
