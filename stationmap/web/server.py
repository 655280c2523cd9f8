"""Run the web app under waitress, a production WSGI server, with one access-log line per request.

Requests over the size limits are refused in the one JSON error shape, ``{"ok": false, "error": msg, "status": n}``,
before the app runs: a body larger than ``Settings.max_request_bytes`` gets 413 and a request line plus headers
larger than `stationmap.files.MAX_HEADER_BYTES` gets 431. Waitress refuses a declared ``Content-Length`` over the
limit before reading the body (and a chunked body as soon as it passes the limit); its answers, normally plain text,
are rendered in the JSON shape too. `RequestLimits` checks the same limits in the WSGI stack, where waitress's
header limit is set above the app's so the app's precise answer is the usual one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import waitress
from flask import Flask
from waitress import trigger as waitress_trigger
from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer, MultiSocketServer
from waitress.task import ErrorTask

from stationmap.config import Settings
from stationmap.files import MAX_HEADER_BYTES
from stationmap.web.app import create_app
from stationmap.web.errors import error_body

__all__ = ["AccessLog", "RequestLimits", "create_server", "running_server", "serve"]

logger = logging.getLogger("stationmap.access")
# waitress's header limit is this many times the app's, so that `RequestLimits` answers ordinary oversized headers
_WAITRESS_HEADROOM = 4
# control characters (C0, DEL, C1), backslash and the double quote that delimits the request in a log line
_UNSAFE_IN_LOG = re.compile(r'[\x00-\x1f\x7f-\x9f\\"]')


def _log_safe(text: object) -> str:
    """Escape what could forge a log line or drive a terminal: control characters, backslash and ``"``."""
    return _UNSAFE_IN_LOG.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def _wsgi_text(text: str) -> str:
    """Turn a WSGI string (the request's bytes as Latin-1) back into the UTF-8 the client sent, bad bytes as ``\\xNN``."""
    try:
        return text.encode("latin-1").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # not a WSGI byte string: log it as it is
        return text


class AccessLog:
    """
    WSGI middleware writing one line per request: client, method, path and query, status, bytes, milliseconds.

    Control characters, backslashes and double quotes in the logged fields are written as ``\\xNN``.

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
            target = _wsgi_text(environ.get("PATH_INFO", "")) + (f"?{query}" if query else "")
            # every field comes from the client: escaped so that a request cannot forge a line or a terminal escape
            logger.info('%s "%s %s" %s %s %.1fms', _log_safe(environ.get("REMOTE_ADDR", "-")),
                        _log_safe(environ.get("REQUEST_METHOD")), _log_safe(target), seen.get("status", "-"),
                        _log_safe(seen.get("length", "-")), (time.perf_counter() - started) * 1000)

        return _ClosingBody(self.app(environ, _start), _log)


class RequestLimits:
    """
    WSGI middleware refusing oversized requests in the one JSON error shape, without reading their body.

    Parameters
    ----------
    app
        The WSGI application to wrap.
    max_body_bytes
        Largest ``Content-Length`` accepted; beyond it the answer is 413.
    max_header_bytes
        Largest request line plus headers accepted, in bytes; beyond it the answer is 431.
    """

    def __init__(self, app: Callable[..., Iterable[bytes]], *, max_body_bytes: int,
                 max_header_bytes: int = MAX_HEADER_BYTES) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_header_bytes = max_header_bytes

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        header_bytes = _header_bytes(environ)
        if header_bytes > self.max_header_bytes:
            msg = f"Request headers too large ({header_bytes} bytes); the limit is {self.max_header_bytes} bytes."
            return _json_error(start_response, msg, 431, "Request Header Fields Too Large")
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _json_error(start_response, "Content-Length is not a number.", 400, "Bad Request")
        if length > self.max_body_bytes:
            msg = f"Request body too large; the limit is {self.max_body_bytes} bytes."
            return _json_error(start_response, msg, 413, "Request Entity Too Large")
        return self.app(environ, start_response)


def _header_bytes(environ: dict[str, Any]) -> int:
    """Size of the request line and headers as the client sent them (approximately: ``Name: value\\r\\n`` each)."""
    line = (len(str(environ.get("REQUEST_METHOD", ""))) + len(str(environ.get("PATH_INFO", "")))
            + len(str(environ.get("QUERY_STRING", ""))) + 12)
    headers = sum(len(k) - 5 + len(str(v)) + 4 for k, v in environ.items() if k.startswith("HTTP_"))
    extra = sum(len(k) + len(str(v)) + 4 for k, v in environ.items() if k in ("CONTENT_TYPE", "CONTENT_LENGTH"))
    return line + headers + extra


def _json_error(start_response: Callable[..., Any], message: str, status: int, reason: str) -> list[bytes]:
    body = json.dumps(error_body(message, status), ensure_ascii=False).encode("utf-8")
    start_response(f"{status} {reason}", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


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
        Host, port (0 picks a free one: read ``server.effective_port``), data and request-size limit (enforced by
        `RequestLimits`, in the JSON error shape).
    app
        An already created app, else `create_app(settings)`.

    Returns
    -------
    server
        Call ``run()`` to serve and ``close()`` to stop.
    """
    app = app or create_app(settings)
    # refused requests are answered before the access log, which records the requests the app served
    wsgi = RequestLimits(AccessLog(app), max_body_bytes=settings.max_request_bytes)
    server = waitress.create_server(
        wsgi,
        host=settings.host,
        port=settings.port,
        threads=settings.threads,
        # waitress refuses a Content-Length >= its limit before reading the body: that is our "> max_request_bytes"
        max_request_body_size=settings.max_request_bytes + 1,
        max_request_header_size=MAX_HEADER_BYTES * _WAITRESS_HEADROOM,
        ident="stationmap",
        # behind `proxy_hops` trusted proxies their X-Forwarded-* headers reach the app, whose ProxyFix trusts exactly
        # that many hops (waitress would otherwise drop them, and every client would share the proxy's address)
        clear_untrusted_proxy_headers=not settings.proxy_hops,
    )
    channel = _json_error_channel(settings.max_request_bytes)
    servers = server.map.values() if isinstance(server, MultiSocketServer) else [server]
    for each in servers:
        if isinstance(each, BaseWSGIServer):
            each.channel_class = channel  # waitress's own refusals (413, 431, 400) in the one JSON error shape
    return server


def _json_error_channel(max_body_bytes: int) -> type[HTTPChannel]:
    """Return a waitress channel class whose error answers use the JSON error shape instead of plain text."""

    class _JsonErrorTask(ErrorTask):
        def execute(self) -> None:
            error = self.request.error
            messages = {413: f"Request body too large; the limit is {max_body_bytes} bytes.",
                        431: f"Request headers too large; the limit is {MAX_HEADER_BYTES} bytes."}
            message = messages.get(error.code, f"{error.reason}: {error.body}.")
            body = json.dumps(error_body(message, error.code), ensure_ascii=False).encode("utf-8")
            self.status = f"{error.code} {error.reason}"
            self.response_headers.append(("Content-Type", "application/json"))
            self.set_close_on_finish()
            self.content_length = len(body)
            self.write(body)

    class _JsonErrorChannel(HTTPChannel):
        error_task_class = _JsonErrorTask

    return _JsonErrorChannel


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
