"""The Flask application factory."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, request
from werkzeug.middleware.proxy_fix import ProxyFix

from stationmap import retention
from stationmap.config import Settings
from stationmap.seeding import open_register
from stationmap.web.live import LiveRegister, app_state
from stationmap.web.planner import PlannerCache, load_inputs
from stationmap.web.pool import waiting_limits
from stationmap.web.reports import ReportCache, report_pool

__all__ = ["create_app"]

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> Flask:
    """
    Create the web application: open the register's database (filling it from the station files on first use),
    build the served state from it, register the API, the pages and the error handlers.

    Behind ``settings.proxy_hops`` trusted proxies the app reads the client's scheme, host, port, prefix and
    address from their ``X-Forwarded-*`` headers (werkzeug's `ProxyFix`). The read-only API answers cross-origin
    requests (CORS, ``Access-Control-Allow-Origin: *``); pages and any endpoint that accepts writes do not.

    Parameters
    ----------
    settings
        Runtime settings; None reads them from the environment (``Settings.from_env()``).

    Returns
    -------
    app
        A Flask WSGI application, ready for waitress (see `stationmap.web.server.serve`).

    Raises
    ------
    StationDataError
        If a station file is invalid.
    BadRequestError
        If the tile provider setting is unknown or lacks its key, or a demand or candidates file set is missing or
        unreadable (`stationmap.web.planner.load_inputs`).
    """
    settings = settings or Settings.from_env()
    app = Flask(__name__, static_folder=str(settings.static_dir), static_url_path="/static")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    app.config["JSON_AS_ASCII"] = False
    inputs = load_inputs(settings)  # a bad demand or candidates file fails here, before anything is served
    store = open_register(settings)
    pruned = retention.prune(store)  # personal data past its retention period goes at every start, and daily
    logger.info("%s", pruned.describe("en"))
    app.extensions["stationmap_store"] = store
    app.extensions["stationmap"] = LiveRegister(settings, store)
    state = app_state(app)
    report_waiting, planner_waiting = waiting_limits(settings.threads)
    app.extensions["stationmap_inputs"] = inputs
    app.extensions["stationmap_planner"] = PlannerCache(workers=settings.planner_workers, max_waiting=planner_waiting)
    app.extensions["stationmap_reports"] = ReportCache(folder=Path(settings.cache_dir) / "reports", pool=report_pool(
        workers=settings.report_workers, max_waiting=report_waiting))
    policy = _content_security_policy([state.provider.url, state.provider.overlay_url])

    from stationmap.web import api, edits, errors, feedback, views  # import inside the factory (flaskr)

    app.register_blueprint(api.bp)
    app.register_blueprint(edits.bp)
    app.register_blueprint(feedback.bp)
    app.register_blueprint(views.bp)
    errors.register_error_handlers(app)
    from stationmap.web import auth  # sign-in, sessions, API tokens
    auth.init_auth(app, store, settings)
    if settings.proxy_hops:
        hops = settings.proxy_hops
        # Flask's documented way to add WSGI middleware: replace the bound method on the instance
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=hops)

    @app.after_request
    def _security_headers(response):
        if _read_only_api():
            response.headers.update(_CORS_HEADERS)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Content-Security-Policy", policy)
        return response

    return app


_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
    "Access-Control-Allow-Headers": "Accept, Accept-Language, Content-Language, Content-Type",
    "Access-Control-Max-Age": "86400",
}


def _read_only_api() -> bool:
    """Whether this request reads an ``/api/`` endpoint that only reads (so any origin may call it)."""
    rule = request.url_rule
    return (request.method in _READ_METHODS and rule is not None and rule.rule.startswith("/api/")
            and set(rule.methods or ()) <= _READ_METHODS)


def _content_security_policy(tile_urls: list[str]) -> str:
    """Allow scripts, styles and requests from this origin only, and images from the tile servers."""
    hosts = []
    for url in filter(None, tile_urls):
        scheme, rest = url.split("://", 1)
        labels = rest.split("/", 1)[0].split(".")
        if "{s}" in labels[0]:  # a subdomain template becomes a wildcard
            labels[0] = "*"
        hosts.append(f"{scheme}://{'.'.join(labels)}")
    images = " ".join(["'self'", "data:", *dict.fromkeys(hosts)])
    return ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
            f"img-src {images}; connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'")
