"""`sgdlab serve`: the playground, the run store and live training in the browser."""

from __future__ import annotations

from typing import Optional

import typer

from .app import StoreOption, app, handle_errors, note


@app.command()
@handle_errors
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on. Anything but a loopback address exposes the server (no authentication) to the network."),
    port: int = typer.Option(8000, "--port", help="TCP port (0: any free port; the URL is printed)."),
    store: Optional[str] = StoreOption,
    open_browser: bool = typer.Option(False, "--open", help="Open the page in the default web browser."),
    allowed_host: Optional[list[str]] = typer.Option(None, "--allowed-host", help="A host name the server may be reached by besides the --host address (and localhost); repeat for more. Any other Host header is refused (DNS rebinding)."),
) -> None:
    """A local web app: the descent playground (tutorial section 2, live), every run and sweep in
    the store, and training runs you start and watch from the page. Ctrl-C stops it."""
    from ..core.errors import ConfigError

    if not 0 <= port <= 65535:
        raise ConfigError(f"--port must be 0 to 65535, got {port}")
    try:
        from ..serve import server
        from ..serve.app import create_app
    except ImportError as exc:  # fastapi/uvicorn missing from a partial install
        raise ConfigError(f"sgdlab serve needs {exc.name}: pip install fastapi uvicorn") from None

    for name in allowed_host or []:
        if not name.strip() or any(c in name for c in "/ @?#"):
            raise ConfigError(f"--allowed-host must be a host name, got {name!r}")
    sock = server.bind(host, port)  # a host that cannot be bound fails here, before the warning
    warning = server.host_warning(host)
    if warning:
        note(warning)
    url = server.url_of(sock)
    application = create_app(store, host=host, allowed_hosts=tuple(allowed_host or ()))
    # the URL goes to stdout (a script can read it, e.g. with --port 0); the rest to stderr
    print(url, flush=True)
    note(f"sgdlab serve: run store {application.state.read_store.path} (read-only for the pages); "
         f"API docs at {url}docs; Ctrl-C stops")
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    server.run_forever(application, sock)
