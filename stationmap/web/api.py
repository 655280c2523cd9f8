"""The JSON API under ``/api``: thin routes around `stationmap.web.queries`."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request, url_for

from stationmap.web import queries
from stationmap.web.jsonutil import json_response
from stationmap.web.openapi import openapi_document
from stationmap.web.state import AppState

__all__ = ["bp"]

bp = Blueprint("api", __name__, url_prefix="/api")
GEOJSON = "application/geo+json"


def _state() -> AppState:
    return current_app.extensions["stationmap"]


@bp.get("/stations")
def stations() -> Response:
    """A page of stations as a GeoJSON FeatureCollection."""
    body = queries.list_stations(_state(), request.args, base_url=url_for("api.stations", _external=True))
    return json_response(body, mimetype=GEOJSON)


@bp.get("/stations/<station_id>")
def station(station_id: str) -> Response:
    """One station as a GeoJSON Feature, with its state now and navigation links."""
    return json_response(queries.station_detail(_state(), station_id, request.args), mimetype=GEOJSON)


@bp.get("/nearest")
def nearest() -> Response:
    """The nearest stations to a point by geodesic distance."""
    return json_response(queries.nearest(_state(), request.args), mimetype=GEOJSON)


@bp.get("/view")
def view() -> Response:
    """What the map draws for a bbox and zoom: single stations or counts per cell."""
    return json_response(queries.view(_state(), request.args))


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 document of this API."""
    return json_response(openapi_document(_state().settings))
