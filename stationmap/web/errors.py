"""Turn every error into one JSON shape, ``{"ok": false, "error": msg, "status": n}``, without tracebacks.

API paths (``/api/...``) always answer JSON; other paths answer a short bilingual HTML page for 404/405/413/500
so a browser user never sees a stack trace either.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, request
from markupsafe import escape
from werkzeug.exceptions import HTTPException

from stationmap.errors import StationMapError
from stationmap.web.jsonutil import json_response

__all__ = ["error_body", "register_error_handlers"]

logger = logging.getLogger(__name__)

_MESSAGES = {
    400: "Bad request.",
    404: "Not found.",
    405: "Method not allowed.",
    413: "Request body too large.",
    431: "Request headers too large.",
    500: "Internal server error.",
}
_ZH = {400: "请求有误", 404: "页面不存在", 405: "不支持此请求方法", 413: "请求内容过大", 431: "请求头过大",
       500: "服务器内部错误"}


def error_body(message: str, status: int) -> dict[str, object]:
    """Return the one JSON error shape."""
    return {"ok": False, "error": message, "status": status}


def _respond(message: str, status: int, headers: dict[str, str] | None = None) -> Response:
    if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
        response = json_response(error_body(message, status), status=status)
    else:
        zh = _ZH.get(status, "出错了")
        html = (f'<!DOCTYPE html><html lang="zh"><meta charset="utf-8"><meta name="viewport" '
                f'content="width=device-width, initial-scale=1"><title>{status}</title>'
                f'<main style="font-family:sans-serif;padding:1rem"><h1>{status} {escape(zh)}</h1>'
                f'<p>{escape(message)}</p><p><a href="/">返回地图 / Back to the map</a></p></main></html>')
        response = Response(html, status=status, mimetype="text/html")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def register_error_handlers(app: Flask) -> None:
    """Register handlers for stationmap errors, HTTP errors and anything unexpected."""

    @app.errorhandler(StationMapError)
    def _domain(err: StationMapError) -> Response:
        status = int(getattr(err, "http_status", 500))
        retry_after = getattr(err, "retry_after_s", None)
        if status in (429, 503) and retry_after is not None:  # busy or throttled, not broken: say when to retry
            return _respond(str(err), status, {"Retry-After": str(int(retry_after))})
        if status >= 500:
            logger.exception("Unexpected stationmap error")
            return _respond(_MESSAGES[500], 500)
        response = _respond(str(err), status)
        problems = getattr(err, "problems", ())
        current = getattr(err, "current", None)
        if response.is_json and (problems or current is not None):
            body = response.get_json()
            if problems:  # every problem of a refused record, in the words of `stationmap validate`
                body["problems"] = [p.to_dict() for p in problems]
            if current is not None:  # 412: the station as it is now, and its version to base a new change on
                body["current"] = {**current.feature, "version": current.version}
                response.headers["ETag"] = f'"{current.version}"'
            response.set_data(json_response(body, status=status).get_data())
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="stationmap"'
        return response

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException) -> Response:
        status = err.code or 500
        message = _MESSAGES.get(status, err.name + ".")
        if status == 405 and err.valid_methods:  # type: ignore[attr-defined]
            allowed = ", ".join(sorted(err.valid_methods))  # type: ignore[attr-defined]
            message = f"Method {request.method} is not allowed here; use {allowed}."
            return _respond(message, status, {"Allow": allowed})
        if status == 404 and request.path.startswith("/api/"):
            message = f"No API endpoint at {request.path!r}; see /api/openapi.json."
        if status == 413:
            limit = app.config.get("MAX_CONTENT_LENGTH")
            message = f"Request body too large; the limit is {limit} bytes." if limit else _MESSAGES[413]
        return _respond(message, status)

    @app.errorhandler(Exception)
    def _unexpected(err: Exception) -> Response:
        logger.exception("Unhandled error on %s %s", request.method, request.path)
        return _respond(_MESSAGES[500], 500)
