"""The JSON API under ``/api``: thin routes around `stationmap.web.queries`."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request, url_for

from stationmap.demand import PlanningInputs
from stationmap.errors import StationNotFoundError
from stationmap.store import StationRecord
from stationmap.web import planner, queries
from stationmap.web.export import plan_export
from stationmap.web.jsonutil import json_response
from stationmap.web.live import LiveRegister, app_state
from stationmap.web.openapi import openapi_document
from stationmap.web.state import AppState

__all__ = ["bp"]

bp = Blueprint("api", __name__, url_prefix="/api")
GEOJSON = "application/geo+json"


def _state() -> AppState:
    return app_state()


def _planner_cache() -> planner.PlannerCache:
    return current_app.extensions["stationmap_planner"]


def _inputs() -> PlanningInputs:
    return current_app.extensions["stationmap_inputs"]


@bp.get("/stations")
def stations() -> Response:
    """A page of stations as a GeoJSON FeatureCollection."""
    body = queries.list_stations(_state(), request.args, base_url=url_for("api.stations", _external=True))
    return json_response(body, mimetype=GEOJSON)


@bp.get("/stations/<station_id>")
def station(station_id: str) -> Response:
    """One station as a GeoJSON Feature, with its state now and navigation links; its version is the ETag."""
    state = _state()
    fresh = _fresher_record(state, station_id)
    if fresh is not None:  # edited since the served state was built (a large register refreshes in the background)
        response = json_response({**fresh.feature, "version": fresh.version}, mimetype=GEOJSON)
        response.headers["ETag"] = f'"{fresh.version}"'
        return response
    try:
        body = queries.station_detail(state, station_id, request.args)
        version = state.versions.get(station_id)
    except StationNotFoundError as unknown:
        store = current_app.extensions.get("stationmap_store")
        if store is None:
            raise
        try:
            record = store.get(station_id)  # a closed station: kept in the register, never sent to workers
        except StationNotFoundError:
            raise unknown from None
        body, version = dict(record.feature), record.version
    if version is not None:
        body["version"] = version
    response = json_response(body, mimetype=GEOJSON)
    if version is not None:
        response.headers["ETag"] = f'"{version}"'
    return response


def _fresher_record(state: AppState, station_id: str) -> StationRecord | None:
    """The station's record from the database if the served state is behind it for this station, else None."""
    live = current_app.extensions.get("stationmap")
    if not isinstance(live, LiveRegister) or not live.is_stale():
        return None
    try:
        record = live.store.get(station_id)
    except StationNotFoundError:
        return None
    return record if record.version != state.versions.get(station_id) else None


@bp.get("/nearest")
def nearest() -> Response:
    """The nearest stations to a point by geodesic distance."""
    return json_response(queries.nearest(_state(), request.args), mimetype=GEOJSON)


@bp.get("/view")
def view() -> Response:
    """What the map draws for a bbox and zoom: single stations or counts per cell."""
    return json_response(queries.view(_state(), request.args))


@bp.get("/districts")
def districts() -> Response:
    """The districts served with their outlines, for the planner."""
    return json_response(planner.for_map(planner.districts(_state(), _planner_cache()), request.args), mimetype=GEOJSON)


@bp.get("/coverage")
def coverage() -> Response:
    """A district's coverage: shares of its area within reach of one and of two stations."""
    return json_response(planner.for_map(planner.coverage(_state(), _planner_cache(), request.args, inputs=_inputs()), request.args))


@bp.get("/gaps")
def gaps() -> Response:
    """A district's coverage gaps, ranked, as GeoJSON; with ``by=grid|bands``, split into cells or bands."""
    return json_response(planner.for_map(planner.gaps(_state(), _planner_cache(), request.args, inputs=_inputs()), request.args), mimetype=GEOJSON)


@bp.get("/sites")
def sites() -> Response:
    """Proposed new sites numbered by marginal gain, as GeoJSON."""
    return json_response(planner.for_map(planner.sites(_state(), _planner_cache(), request.args, inputs=_inputs()), request.args), mimetype=GEOJSON)


@bp.get("/service-areas")
def service_areas() -> Response:
    """Covered and overlap (covered twice or more) areas, as GeoJSON."""
    return json_response(planner.for_map(planner.service_area_layers(_state(), _planner_cache(), request.args), request.args), mimetype=GEOJSON)


@bp.get("/what-if")
def what_if() -> Response:
    """Coverage before and after adding or removing stations."""
    return json_response(planner.for_map(planner.what_if_report(_state(), _planner_cache(), request.args), request.args))


@bp.get("/export.<any(geojson, csv):fmt>")
def export(fmt: str) -> Response:
    """The whole register (or one district) as a GeoJSON or CSV download, streamed."""
    plan = plan_export(_state(), request.args, fmt=fmt)
    return Response(plan.chunks(), content_type=plan.mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{plan.filename}"'})


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 document of this API."""
    return json_response(openapi_document(_state().settings))
