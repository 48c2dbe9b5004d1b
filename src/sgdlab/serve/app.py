"""The web app: ``create_app(store)`` builds it; `sgdlab serve` runs it (see ``server.py``).

Pages are static HTML + JavaScript (under ``static/``) that fetch the JSON API and draw with the
vendored Plotly.js; nothing on a page comes from the server as HTML, so no user text is ever
parsed as markup. The API is described at ``/docs`` (Swagger UI, vendored) and ``/openapi.json``.
"""

from __future__ import annotations

import os
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.middleware.gzip import GZipMiddleware
from fastapi.staticfiles import StaticFiles

from .. import __version__
from ..core.store import resolve_store_path
from . import docs, pages, playground, responses, runs, train
from .caching import CacheHeaders
from .jobs import JobManager
from .middleware import BodyLimit, Guard, SecurityHeaders
from .store import ReadOnlyStore

STATIC = pages.STATIC
SWAGGER = docs.SWAGGER

DESCRIPTION = """The JSON API behind `sgdlab serve`'s pages, usable from scripts.

Errors are `{"status": "error", "errors": ["one line per problem", ...]}`: 422 for bad input (the
command line's own messages), 404 for an unknown run, sweep or job, 413 for a body over 64 KiB,
429 when too many training runs wait. Numbers are strict JSON: NaN and infinities are the
strings "NaN", "Infinity", "-Infinity", as with `--json`.
"""


def create_app(store: str | os.PathLike | None = None, *, host: str = "127.0.0.1",
               allowed_hosts: tuple[str, ...] = ()) -> FastAPI:
    """The app for the run store at ``store`` (default: ``$SGDLAB_STORE`` or
    ``./sgdlab-runs/runs.db``). Pages read it read-only; runs trained from the page write to it.
    ``host`` is the address it is bound to: requests naming another Host are refused (with the
    names in ``allowed_hosts``, `serve --allowed-host`), see ``middleware.Guard``."""
    store_path = resolve_store_path(store)
    jobs = JobManager(store_path)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        playground.warm()  # torch and the descent loaded now: the first request is fast
        yield
        jobs.shutdown()  # a run still training is stopped and recorded as stopped

    app = FastAPI(title="sgdlab", version=__version__, description=DESCRIPTION, openapi_url=None,
                  docs_url=None, redoc_url=None, lifespan=lifespan)  # /docs, /openapi.json: below
    app.state.read_store = ReadOnlyStore(store_path)
    app.state.jobs = jobs
    responses.install(app)
    for module in (playground, runs, train):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    for route in pages.PAGES:
        app.add_api_route(route, _page(route), methods=["GET", "HEAD"], include_in_schema=False)

    def lang_of(request: Request) -> str:  # ?lang=, else Accept-Language: as every page
        return pages.choose_lang(request.query_params.get("lang"), request.headers.get("accept-language"))[0]

    @app.get("/docs", include_in_schema=False)
    def swagger(request: Request):
        lang = lang_of(request)
        return HTMLResponse(docs.swagger_page(lang), headers={
            "Cache-Control": "no-cache", "Content-Language": lang, "Vary": "Accept-Language"})

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(request: Request):
        lang = lang_of(request)
        return JSONResponse(docs.openapi(app, lang), headers={"Content-Language": lang,
                                                              "Vary": "Accept-Language"})

    @app.get("/i18n/{lang}.js", include_in_schema=False)
    def messages(lang: str):
        if lang not in pages.LANGS or lang == "en":
            return Response("/* no catalog */", status_code=404, media_type="text/javascript")
        return Response(pages.catalog_script(lang), media_type="text/javascript; charset=utf-8")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon():
        return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")

    app.add_middleware(CacheHeaders)
    app.add_middleware(GZipMiddleware, minimum_size=1000)  # Plotly: 1.5 MB -> 0.5 MB; JSON too
    # the last added runs first: the headers go on every answer, the guard's and the cap's too
    app.add_middleware(BodyLimit)
    app.add_middleware(Guard, host=host, allowed_hosts=tuple(allowed_hosts))
    app.add_middleware(SecurityHeaders)
    return app


def _page(route: str):
    def page(request: Request) -> HTMLResponse:
        lang, named = pages.choose_lang(request.query_params.get("lang"),
                                        request.headers.get("accept-language"))
        text = pages.render(route, lang, named, tuple(request.query_params.multi_items()))
        return HTMLResponse(text, headers={"Cache-Control": "no-cache", "Content-Language": lang,
                                           "Vary": "Accept-Language"})

    return page
