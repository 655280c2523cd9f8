"""Run the web app under waitress, a production WSGI server, with one access-log line per request."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import waitress
from flask import Flask
from waitress import trigger as waitress_trigger
from waitress import wasyncore
from waitress.server import BaseWSGIServer, MultiSocketServer

from stationmap.config import Settings
from stationmap.web.app import create_app

__all__ = ["AccessLog", "create_server", "running_server", "serve"]

logger = logging.getLogger("stationmap.access")
_THREADS = 8


class AccessLog:
    """
    WSGI middleware writing one line per request: client, method, path and query, status, bytes, milliseconds.

    Parameters
    ----------
    app
        The WSGI application to wrap.
    """

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.perf_counter()
        seen: dict[str, str] = {}

        def _start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen["status"] = status.split(" ", 1)[0]
            seen["length"] = next((v for k, v in headers if k.lower() == "content-length"), "-")
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        def _log() -> None:
            query = environ.get("QUERY_STRING")
            target = environ.get("PATH_INFO", "") + (f"?{query}" if query else "")
            logger.info('%s "%s %s" %s %s %.1fms', environ.get("REMOTE_ADDR", "-"), environ.get("REQUEST_METHOD"),
                        target, seen.get("status", "-"), seen.get("length", "-"),
                        (time.perf_counter() - started) * 1000)

        return _ClosingBody(self.app(environ, _start), _log)


class _ClosingBody:
    """Pass the body through, close it as WSGI requires, then log once."""

    def __init__(self, body: Iterable[bytes], on_close: Callable[[], None]) -> None:
        self.body = body
        self.on_close = on_close

    def __iter__(self):
        return iter(self.body)

    def close(self) -> None:
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            self.on_close()


def create_server(settings: Settings, *, app: Flask | None = None) -> BaseWSGIServer | MultiSocketServer:
    """
    Build (but do not start) the waitress server for `settings`.

    Parameters
    ----------
    settings
        Host, port (0 picks a free one: read ``server.effective_port``), data and request-size limit.
    app
        An already created app, else `create_app(settings)`.

    Returns
    -------
    server
        Call ``run()`` to serve and ``close()`` to stop.
    """
    app = app or create_app(settings)
    return waitress.create_server(
        AccessLog(app),
        host=settings.host,
        port=settings.port,
        threads=_THREADS,
        max_request_body_size=settings.max_request_bytes,
        ident="stationmap",
        clear_untrusted_proxy_headers=True,
    )


@contextlib.contextmanager
def running_server(settings: Settings, *, app: Flask | None = None) -> Iterator[BaseWSGIServer | MultiSocketServer]:
    """
    Run the waitress server in a background thread for the duration of a ``with`` block (tests, benchmarks).

    On exit the worker threads finish their requests before the sockets close, so no worker writes to a closed
    server.

    Yields
    ------
    server
        The running server; ``server.effective_port`` is the port it listens on.
    """
    server = create_server(settings, app=app)
    thread = threading.Thread(target=server.run, daemon=True, name="stationmap-waitress")
    thread.start()
    try:
        yield server
    finally:
        server.task_dispatcher.shutdown(timeout=5)
        _close_in_loop_thread(server, thread)


def _close_in_loop_thread(server: BaseWSGIServer | MultiSocketServer, thread: threading.Thread) -> None:
    """
    Close the server's sockets from its own event-loop thread, then wait for that thread to end.

    Closing them from another thread races the loop's ``select()``, which then fails with EBADF on a closed
    descriptor (the random failure of the real-server test). Waitress's trigger runs a function inside the loop,
    between two ``select()`` calls; once every socket is closed the loop ends by itself.
    """
    socket_map = server.map if isinstance(server, MultiSocketServer) else server._map  # waitress keeps it there
    triggers = [d for d in list(socket_map.values()) if isinstance(d, waitress_trigger.trigger)]
    if triggers and thread.is_alive():
        triggers[0].pull_trigger(lambda: wasyncore.close_all(socket_map))
        thread.join(timeout=5)
    if socket_map and not thread.is_alive():  # the loop had already stopped: nothing else touches the sockets
        wasyncore.close_all(socket_map)


def serve(settings: Settings) -> None:
    """
    Serve the app with waitress until interrupted, logging one line per request to stderr.

    Parameters
    ----------
    settings
        Host, port, data folder or station register and districts, tile provider and request-size limit.

    Raises
    ------
    StationDataError, BadRequestError
        If the data or the tile settings are invalid (before anything listens).
    DistrictLookupError, BoundaryError, DatumError
        If a district named in the settings or the own boundary cannot be loaded (before anything listens).
    """
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logger.setLevel(logging.INFO)
    server = create_server(settings)
    logger.info("stationmap serving on http://%s:%s/ (planner: /planner, API: /api/openapi.json; tiles: %s)",
                settings.host, getattr(server, "effective_port", settings.port), settings.tile_provider)
    try:
        server.run()
    finally:
        server.close()
