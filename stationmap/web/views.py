"""The worker's map page at ``/``: a folium map in our own template, stations loaded from the API."""

from __future__ import annotations

from typing import Any

import numpy as np
from flask import Blueprint, current_app, render_template, request, url_for

from stationmap import geo
from stationmap.mapping import build_map, render_map_parts
from stationmap.web.i18n import UI, best_lang, client_strings, text
from stationmap.web.state import AppState

__all__ = ["bp", "page_config"]

bp = Blueprint("views", __name__)
_CHINA_CENTRE = (104.0, 35.0)  # lon, lat


def _state() -> AppState:
    return current_app.extensions["stationmap"]


def page_config(state: AppState, *, lang: str, api_url: str) -> dict[str, Any]:
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
        "k": min(10, state.settings.max_results),
        "strings": client_strings(),
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

    return render_template("index.html", parts=parts, config=config, lang=lang, t=t, ui=UI,
                           strings=config["strings"], notices=state.notices, demo=state.demo)
