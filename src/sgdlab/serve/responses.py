"""JSON out, errors out: strict JSON like `--json`, and every error as ``{"status": "error",
"errors": [...]}`` with one line per problem, the CLI's own words, and never a traceback."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from ..core.errors import SgdlabError, StoreError
from ..core.store import jsonable

log = logging.getLogger("sgdlab.serve")


def json_response(document: Any, status_code: int = 200) -> Response:
    """Strict JSON (NaN and infinities as the strings "NaN", "Infinity"), as `--json` prints."""
    body = json.dumps(jsonable(document), separators=(",", ":"), allow_nan=False)
    return Response(body, status_code=status_code, media_type="application/json")


def error_response(status_code: int, problems: list[str]) -> Response:
    return json_response({"status": "error", "errors": problems}, status_code)


def _where(error: dict[str, Any]) -> str:
    parts = [str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path")]
    return ".".join(parts) or "request"


def install(app: FastAPI) -> None:
    """Error handlers: bad input is 422 with the message, a missing thing 404, a crash 500 with
    one line (the traceback goes to the server's log, never to the page)."""

    @app.exception_handler(SgdlabError)
    async def _sgdlab_error(request: Request, exc: SgdlabError) -> Response:
        return error_response(404 if isinstance(exc, StoreError) else 422, exc.problems)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        problems = []
        for error in exc.errors():
            message = str(error.get("msg", "invalid value"))
            problems.append(f"{_where(error)}: {message}")
        return error_response(422, problems or ["invalid request"])

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> Response:
        return error_response(exc.status_code, [str(exc.detail)])

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> Response:
        from .middleware import security_headers

        log.exception("internal error on %s %s", request.method, request.url.path)
        response = error_response(500, [f"internal error ({type(exc).__name__}); see the server's log"])
        # Starlette sends this answer outside every middleware: the headers are added here
        for name, value in security_headers(request.url.path):
            response.headers[name.decode()] = value.decode()
        return response
