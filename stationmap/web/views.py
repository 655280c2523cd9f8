"""The worker's map page at ``/``: a folium map in our own template, stations loaded from the API."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
from flask import Blueprint, Response, current_app, render_template, request, url_for

from stationmap import __version__, geo
from stationmap.errors import StationMapError
from stationmap.mapping import build_editor_map, build_map, build_planner_map, render_map_parts
from stationmap.parameters import NEAREST_K, RADIUS_M, WEB_SITES_K
from stationmap.schema import STATUSES
from stationmap.web.errors import error_body
from stationmap.web.i18n import UI, best_lang, client_strings, text
from stationmap.web.jsonutil import json_response
from stationmap.web.live import app_state
from stationmap.web.reports import REPORT_FORMATS, ReportBusyError, district_qr_sheet, district_report
from stationmap.web.state import AppState

__all__ = ["bp", "page_config", "planner_config"]

bp = Blueprint("views", __name__)
_CHINA_CENTRE = (104.0, 35.0)  # lon, lat


def _state() -> AppState:
    return app_state()


def page_config(state: AppState, *, lang: str, api_url: str, pages: tuple[str, ...] = ()) -> dict[str, Any]:
    """
    Return the page's configuration for ``static/stationmap.js`` (serialised HTML-safely by the template).

    Parameters
    ----------
    state
        The app state.
    lang
        Initial language.
    api_url
        URL prefix of the JSON API.
    pages
        Page-specific string tables to include (``("edit",)`` for the editing page; see `i18n.PAGE_SECTIONS`).
    """
    bounds = None
    if len(state.index):
        lon, lat = state.index.lon, state.index.lat
        west, east, south, north = (float(np.min(lon)), float(np.max(lon)), float(np.min(lat)), float(np.max(lat)))
        (w, e), (s, n) = geo.convert_coords(np.array([west, east]), np.array([south, north]), src="wgs84",
                                            dst=state.provider.datum)
        bounds = [float(w), float(s), float(e), float(n)]  # lon/lat order; the script flips it for Leaflet
    return {
        "lang": lang,
        "api": api_url.rstrip("/"),
        "map_datum": state.provider.datum,
        "bounds": bounds,
        "demo": state.demo,
        "notices": list(state.notices),
        "k": NEAREST_K.for_settings(state.settings).default,
        "strings": client_strings(pages),
    }


@bp.get("/")
def index() -> str:
    """Render the map page in the requested or preferred language."""
    state = _state()
    lang = best_lang(request.args.get("lang"), request.accept_languages)
    centre = (float(np.mean(state.index.lon)), float(np.mean(state.index.lat))) if len(state.index) else _CHINA_CENTRE
    m = build_map(center_lon=centre[0], center_lat=centre[1], zoom=5, provider=state.provider,
                  static_url=url_for("static", filename="").rstrip("/"))
    parts = render_map_parts(m)
    config = page_config(state, lang=lang, api_url=url_for("api.stations").rsplit("/", 1)[0])

    def t(key: str) -> str:
        return text(key, lang)

    codes = set(state.district_codes.tolist())
    reports = [(code, d.label) for code, d in sorted(state.districts.items()) if code in codes]
    return render_template("index.html", parts=parts, config=config, lang=lang, t=t, ui=UI,
                           strings=config["strings"], notices=state.notices, demo=state.demo, reports=reports)


_SW_BUILD = re.compile(r"/\*BUILD\*/.*?/\*END\*/", re.DOTALL)
_SW_ASSETS = ("offline.js", "manifest.webmanifest", "favicon.svg", "icons/", "vendor/")  # besides what / links


@bp.get("/sw.js")
def service_worker() -> Response:
    """
    Serve the worker page's service worker at the root, so it controls ``/`` (``static/sw.js`` says what it caches).

    Its version hashes the package version and every static file, so any change installs a new worker and cache.
    """
    static = Path(current_app.static_folder or "")
    files = sorted(p for p in static.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    digest = hashlib.sha256(__version__.encode())
    for path in files:
        digest.update(path.relative_to(static).as_posix().encode() + b"\0" + path.read_bytes())
    names = [path.relative_to(static).as_posix() for path in files]
    assets = [url_for("static", filename=name) for name in names
              if name.startswith(_SW_ASSETS) and not name.endswith(("LICENSE", ".txt", ".py"))]
    build = {"version": f"{__version__}-{digest.hexdigest()[:16]}", "api": __version__, "assets": assets}
    script = _SW_BUILD.sub(lambda _match: json.dumps(build), (static / "sw.js").read_text(encoding="utf-8"), count=1)
    return Response(script, mimetype="application/javascript", headers={"Cache-Control": "no-cache"})


@bp.get("/report/<adcode>.<fmt>")
def report(adcode: str, fmt: str) -> Response:
    """A district's coverage report, HTML or PDF (``?lang=en`` for English), built once and then cached."""
    cache = current_app.extensions["stationmap_reports"]
    lang = request.args.get("lang", "zh")
    try:
        body = district_report(_state(), cache, adcode, fmt=fmt, lang=lang,
                               store=current_app.extensions.get("stationmap_store"))
    except ReportBusyError as err:  # busy, not broken: the JSON error shape, which the HTML handler off /api/ is not
        response = json_response(error_body(str(err), err.http_status), status=err.http_status)
        response.headers["Retry-After"] = str(err.retry_after_s)
        return response
    disposition = "inline" if fmt == "html" else f'attachment; filename="stationmap-report-{adcode}-{lang}.pdf"'
    return Response(body, mimetype=REPORT_FORMATS[fmt].split(";")[0], headers={"Content-Disposition": disposition})


@bp.get("/qr/<adcode>.pdf")
def qr_sheet(adcode: str) -> Response:
    """A district's printable QR sheet (A4 PDF, ``?lang=en``): each code opens this server's page of one station."""
    cache = current_app.extensions["stationmap_reports"]
    lang = request.args.get("lang", "zh")
    try:
        code, body = district_qr_sheet(_state(), cache, adcode, base_url=url_for("views.index", _external=True),
                                       lang=lang)
    except ReportBusyError as err:  # as for the reports: busy, not broken
        response = json_response(error_body(str(err), err.http_status), status=err.http_status)
        response.headers["Retry-After"] = str(err.retry_after_s)
        return response
    return Response(body, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="stationmap-qr-{code}-{lang}.pdf"'})


#: Choices on the planner page: radii in metres and times of day (Asia/Shanghai; "" is any time).
PLANNER_RADII_M = (500, 1000, 1500, 3000)
PLANNER_TIMES = ("", "05:00", "12:30", "22:00")


def planner_config(state: AppState, *, lang: str, api_url: str, district: str | None) -> dict[str, Any]:
    """
    Return the planner page's configuration for ``static/planner.js`` (serialised HTML-safely by the template).

    Parameters
    ----------
    state
        The app state.
    lang
        Initial language.
    api_url
        URL prefix of the JSON API.
    district
        Adcode or name to open with, if served; otherwise the district with the most stations.
    """
    counts = {code: int(np.sum(state.district_codes == code)) for code in state.districts}
    choices = [{"adcode": code, "label": d.label, "n_stations": counts[code],
                "bbox": [round(v, 6) for v in d.geometry.bounds]}  # west, south, east, north
               for code, d in sorted(state.districts.items())]
    if district and district not in state.districts:
        try:  # a name such as 天河区 opens its district too
            district = state.district(district).adcode
        except StationMapError:
            district = None
    if district not in state.districts:
        district = max(sorted(counts), key=lambda code: counts[code]) if counts else None
    default_radius = int(state.settings.default_radius_m)
    return {
        "lang": lang,
        "api": api_url.rstrip("/"),
        "map_datum": state.provider.datum,
        "districts": choices,
        "district": district,
        "radii": list(PLANNER_RADII_M),
        "radius_m": default_radius if default_radius in PLANNER_RADII_M else int(RADIUS_M.default),
        "times": list(PLANNER_TIMES),
        "k": WEB_SITES_K.default,
        "k_max": WEB_SITES_K.maximum,
        "demo": state.demo,
        "notices": list(state.notices),
        "strings": {"ui": client_strings()["ui"]},
    }


@bp.get("/planner")
def planner() -> str:
    """Render the planner's page: coverage, overlap, gaps, proposed sites and what-if for one district."""
    state = _state()
    lang = best_lang(request.args.get("lang"), request.accept_languages)
    config = planner_config(state, lang=lang, api_url=url_for("api.stations").rsplit("/", 1)[0],
                            district=request.args.get("district"))
    chosen = state.districts.get(config["district"] or "")
    bounds = chosen.geometry.bounds if chosen is not None else None
    centre = ((bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2) if bounds else _CHINA_CENTRE
    m = build_planner_map(center_lon=centre[0], center_lat=centre[1], zoom=11 if bounds else 5,
                          provider=state.provider, static_url=url_for("static", filename="").rstrip("/"))

    def t(key: str) -> str:
        return text(key, lang)

    return render_template("planner.html", parts=render_map_parts(m), config=config, lang=lang, t=t,
                           notices=state.notices, demo=state.demo)


@bp.get("/edit")
def edit_page() -> str:
    """Render the editing page for admins and district editors: add, move, change, close, reopen, revert stations."""
    state = _state()
    lang = best_lang(request.args.get("lang"), request.accept_languages)
    config = page_config(state, lang=lang, api_url=url_for("api.stations").rsplit("/", 1)[0], pages=("edit",))
    config["districts"] = [{"adcode": code, "label": d.label, "bbox": [round(v, 6) for v in d.geometry.bounds]}
                           for code, d in sorted(state.districts.items())]
    config["strings"]["statuses"] = {key: {"zh": STATUSES.label(key, "zh"), "en": STATUSES.label(key, "en")}
                                     for key in STATUSES.keys}
    bounds = config["bounds"]  # the stations' extent in the tiles' datum: editor.js fits the map to it
    centre = ((float(np.mean(state.index.lon)), float(np.mean(state.index.lat))) if len(state.index)
              else _CHINA_CENTRE)
    m = build_editor_map(center_lon=centre[0], center_lat=centre[1], zoom=11 if bounds else 5,
                         provider=state.provider, static_url=url_for("static", filename="").rstrip("/"))

    def t(key: str) -> str:
        return text(key, lang)

    return render_template("edit.html", parts=render_map_parts(m), config=config, lang=lang, t=t,
                           notices=state.notices, demo=state.demo)


@bp.get("/feedback")
def feedback_page() -> str:
    """Render the editors' queue of workers' reports: acknowledge, resolve (editing the station), reject."""
    from stationmap.feedback import KINDS as FEEDBACK_KINDS
    from stationmap.feedback import STATES as FEEDBACK_STATES

    state = _state()
    lang = best_lang(request.args.get("lang"), request.accept_languages)
    strings = client_strings(("queue",))
    config = {"lang": lang, "api": url_for("api.stations").rsplit("/", 1)[0],
              "districts": {code: d.label for code, d in sorted(state.districts.items())},
              "notices": list(state.notices), "strings": {"ui": strings["ui"], "amenities": strings["amenities"],
                          **{name: {k: {"zh": v.label(k, "zh"), "en": v.label(k, "en")} for k in v.keys}
                             for name, v in (("kinds", FEEDBACK_KINDS), ("states", FEEDBACK_STATES))}}}

    def t(key: str) -> str:
        return text(key, lang)

    return render_template("feedback.html", config=config, lang=lang, t=t, notices=state.notices, demo=state.demo)
