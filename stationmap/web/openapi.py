"""The OpenAPI 3.1 document served at ``/api/openapi.json``.

Every query parameter is written from its `stationmap.parameters.ParamSpec`, the object the parsers enforce, so
the documented types, ranges and defaults are the enforced ones.
"""

from __future__ import annotations

from typing import Any

from stationmap.config import Settings
from stationmap.parameters import (
    ADD,
    ADD_DATUM,
    AMENITY,
    AT,
    BBOX,
    BEFORE_EDIT,
    BEFORE_FEEDBACK,
    CELL_M,
    DATUM,
    DISTRICT,
    DISTRICT_CODE,
    EDITS_LIMIT,
    EXPORT_DATUM,
    EXPORT_DISTRICT,
    FEEDBACK_DISTRICT,
    FEEDBACK_LIMIT,
    FEEDBACK_STATE,
    LANG,
    LAT,
    LIMIT,
    LON,
    MAP_DATUM,
    MAX_DISTANCE_M,
    MIN_AREA_M2,
    MIN_STARS,
    MINUTES,
    MODE,
    NEAREST_K,
    NEED,
    OFFSET,
    OPEN_AT,
    OPEN_NOW,
    PLANNER_MAP_DATUM,
    QUERY,
    RADIUS_M,
    REMOVE,
    STATION_AT,
    TOILET,
    WEB_BY,
    WEB_SITES_K,
    ZOOM,
    ParamSpec,
)
from stationmap.schema import AMENITIES
from stationmap.schema import TOILET as TOILET_VALUES
from stationmap.store import FEEDBACK_STATES

__all__ = ["openapi_document", "query_parameter"]


def query_parameter(spec: ParamSpec, settings: Settings, *, required: bool | None = None,
                    choices: tuple[str, ...] | None = None) -> dict[str, Any]:
    """
    Return the OpenAPI Parameter Object of a query parameter, written from its spec.

    Parameters
    ----------
    spec
        The parameter's declaration (type, range, default, description).
    settings
        For run-time limits such as ``max_results`` and defaults such as ``default_radius_m``.
    required
        Overrides ``spec.required`` for this endpoint (``bbox`` is required by ``/api/view`` only).
    choices
        The values of a vocabulary the spec module cannot import (amenity and toilet keys).
    """
    spec = spec.for_settings(settings)
    if choices is not None:
        spec = spec.replace(choices=tuple(choices))
    description = spec.description
    if spec.max_items is not None:
        description += f" At most {spec.max_items}."
    param: dict[str, Any] = {"name": spec.name, "in": "query",
                             "required": spec.required if required is None else required,
                             "description": description, "schema": spec.json_schema()}
    if spec.unit:
        param["x-unit"] = spec.unit
    if spec.description_zh:
        param["x-description-zh"] = spec.description_zh
    if spec.type == "array":
        param["style"], param["explode"] = "form", True
    return param


def _point_parameter(description: str) -> dict[str, Any]:
    """
    The optional ``lon`` + ``lat`` pair as one OpenAPI parameter (an object exploded into ``?lon=&lat=``).

    Written from `LON` and `LAT`; the two come together or not at all, which two separate optional parameters
    could not say.
    """
    return {"name": "point", "in": "query", "required": False, "style": "form", "explode": True,
            "description": description,
            "schema": {"type": "object", "required": [LON.name, LAT.name],
                       "properties": {LON.name: LON.json_schema(), LAT.name: LAT.json_schema()}},
            "x-unit": LON.unit}


def openapi_document(settings: Settings) -> dict[str, Any]:
    """
    Return the OpenAPI 3.1 description of the JSON API.

    Parameters
    ----------
    settings
        For limits such as ``max_results``.
    """
    def q(spec: ParamSpec, **options: Any) -> dict[str, Any]:
        return query_parameter(spec, settings, **options)

    filters = [q(AMENITY, choices=tuple(AMENITIES.keys)), q(OPEN_AT), q(OPEN_NOW), q(MIN_STARS),
               q(TOILET, choices=tuple(TOILET_VALUES.keys))]
    lang, map_datum, bbox = q(LANG), q(MAP_DATUM), q(BBOX)
    error = {"description": "Bad parameter (the message names it) or not found.",
             "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    geojson = {"application/geo+json": {"schema": {"type": "object"}}}
    register, writes = _register_paths(settings, geojson)
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "stationmap API",
            "version": "1",
            "description": "Trade-union outdoor-worker service stations (工会户外劳动者服务站点). Coordinates are "
                           "WGS-84 lon/lat (RFC 7946). Distances are geodesic on the WGS-84 ellipsoid, in meters; "
                           "walking minutes assume 75 m per minute; with `need`/`mode` travel minutes use the "
                           "mode's speed (walk 75, ebike 250, drive 500 m per minute) and are straight-line "
                           "estimates. Times are Asia/Shanghai.",
        },
        "paths": {
            "/api/stations": {"get": {
                "summary": "List stations (GeoJSON FeatureCollection) with filters and paging.",
                "parameters": [bbox, *filters, q(DISTRICT_CODE), q(QUERY.replace(
                    description="Substring of name, English name, address or id, or words naming an amenity, a "
                                "toilet or a kind (充电, 热饭, 厕所, 司机之家); stations matching either are listed.")),
                    _point_parameter("`lon` and `lat` (in `datum`, default WGS-84), together: stations nearest "
                                     "first, each with `distance_m`, `open_now`, `state_text`, `next_change`."),
                    q(DATUM), lang, q(LIMIT), q(OFFSET), map_datum],
                "responses": {"200": {"description": "Stations, with `numberMatched` and next/prev `links`; with "
                                                     "`q`, `q_matches` (the amenities, toilet values and kinds the "
                                                     "words named); with a point, `origin` and `evaluated_at`.",
                                      "content": geojson}, "400": error},
            }},
            "/api/stations/{id}": {"get": {
                "summary": "One station as a GeoJSON Feature with state, hours in words and navigation links.",
                "description": "`navigation` has `amap`, `baidu` (marker), `baidu_route`, `apple`, `geo` and `osm` "
                               "links; the routes use `mode`. `rating` is the star level the record qualifies for "
                               "(no review notes: those are the planner's).",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}, lang,
                               q(STATION_AT), q(MODE.replace(description="Travel mode of the navigation links "
                                                                         "(default walk).")),
                               _point_parameter("The worker's position `lon` and `lat` (WGS-84), together: the "
                                                "start of the Baidu route."), map_datum],
                "responses": {"200": {"description": "The station.", "content": geojson}, "400": error,
                              "404": error},
            }},
            "/api/nearest": {"get": {
                "summary": "The k nearest stations by geodesic distance (WGS-84 ellipsoid), nearest first; with "
                           "`need`, the best stations for a worker's needs within the travel mode's distance.",
                "parameters": [q(LON), q(LAT), q(DATUM), q(NEAREST_K), q(NEED), q(MODE), *filters,
                               q(MAX_DISTANCE_M), lang, map_datum],
                "responses": {"200": {"description": (
                    "Stations with `distance_m`, `walk_min`, `open_now`, `state_text`, `next_change` (and "
                    "`travel_min`, `mode` when `mode` is given). With `need`: ranked by `score` (minutes by the "
                    "mode + 15 if not open - 2 per plus amenity); each station adds `matched`, `travel_min`, "
                    "`mode`, `straight_line`, `honour` and `navigation`; the body adds `need`, `mode`, "
                    "`speed_m_per_min`, `cap_m`, `straight_line`, `open_required_at`, `nothing_within_m` (null, or "
                    "the metres searched when no station meets every need) and `partial` (then the nearest "
                    "stations meeting some needs, each with `missing`)."), "content": geojson},
                              "400": error},
            }},
            "/api/view": {"get": {
                "summary": "What the map draws for a view: single stations, or counts per grid cell when many.",
                "parameters": [q(BBOX, required=True), q(ZOOM), *filters, map_datum],
                "responses": {"200": {"description": "`mode` is `points` or `clusters`.",
                                      "content": {"application/json": {"schema": {"type": "object"}}}},
                              "400": error},
            }},
            **_planner_paths(settings, error, geojson),
            **_export_paths(settings, error),
            **register,
            "/report/{adcode}.{format}": {"get": {
                "summary": "A district's coverage report as a union bulletin prints it: HTML or PDF.",
                "description": "Built once on the report pool and cached on disk (`stationmap build-reports` builds "
                               "them ahead). While the pool is full the answer is 503 with `Retry-After`.",
                "parameters": [
                    {"name": "adcode", "in": "path", "required": True, "schema": {"type": "string"},
                     "description": "A district served: its adcode or Chinese name."},
                    {"name": "format", "in": "path", "required": True,
                     "schema": {"type": "string", "enum": ["html", "pdf"]}},
                    lang],
                "responses": {"200": {"description": "The report.",
                                      "content": {"text/html": {}, "application/pdf": {}}},
                              "400": error, "404": error,
                              "503": {"description": "Reports are being built; retry after `Retry-After` seconds.",
                                      "content": {"application/json": {
                                          "schema": {"$ref": "#/components/schemas/Error"}}}}}}},
            "/qr/{adcode}.pdf": {"get": {
                "summary": "A district's printable QR sheet (A4 PDF): one code per open station, with its name and id.",
                "description": "Each code opens this server's worker page of one station with its feedback form, "
                               "`<server>/?station=<id>` (`&lang=en` for English). Built on the report pool and "
                               "not kept; while the pool is full the answer is 503 with `Retry-After`.",
                "parameters": [
                    {"name": "adcode", "in": "path", "required": True, "schema": {"type": "string"},
                     "description": "A district served: its adcode or Chinese name."},
                    lang],
                "responses": {"200": {"description": "The sheet.", "content": {"application/pdf": {}}},
                              "400": error, "404": error,
                              "422": {"description": "The district has no open station.",
                                      "content": {"application/json": {
                                          "schema": {"$ref": "#/components/schemas/Error"}}}},
                              "503": {"description": "Reports are being built; retry after `Retry-After` seconds.",
                                      "content": {"application/json": {
                                          "schema": {"$ref": "#/components/schemas/Error"}}}}}}},
            "/api/openapi.json": {"get": {"summary": "This document.",
                                          "responses": {"200": {"description": "OpenAPI 3.1 document."}}}},
        },
        "components": {
            "schemas": {"Error": {
                "type": "object", "required": ["ok", "error", "status"],
                "properties": {"ok": {"const": False}, "error": {"type": "string"}, "status": {"type": "integer"},
                               "problems": {"type": "array", "description": "422: every problem of the record, "
                                            "as `stationmap validate` words them.", "items": {"type": "object"}},
                               "current": {"type": "object", "description": "412: the station as it is now, "
                                           "with its `version`."}},
            }},
            "securitySchemes": {
                "token": {"type": "http", "scheme": "bearer",
                          "description": "An API token from `stationmap token create NAME`."},
                "session": {"type": "apiKey", "in": "cookie", "name": "stationmap_session",
                            "description": "A browser session from POST /api/login; every write with it also "
                                           "sends the session's CSRF token in the X-CSRF-Token header."},
            },
        },
    }
    document["paths"]["/api/stations"]["post"] = writes["post"]
    document["paths"]["/api/stations/{id}"].update({k: writes[k] for k in ("patch", "put", "delete")})
    return document


def _register_paths(settings: Settings,
                    geojson: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """
    The register's write API, its history and the sign-in (`stationmap.web.edits`, `stationmap.web.auth`).

    Returns the paths of their own, and the write operations of ``/api/stations`` and ``/api/stations/{id}``.
    """
    def refusal(text: str) -> dict[str, Any]:
        schema = {"$ref": "#/components/schemas/Error"}
        return {"description": text, "content": {"application/json": {"schema": schema}}}

    station_id = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
    if_match = {"name": "If-Match", "in": "header", "required": True, "schema": {"type": "string"},
                "description": 'The station\'s ETag as it came, e.g. "3"; a wildcard is refused.'}
    datum = query_parameter(DATUM, settings)
    secured: list[dict[str, list[str]]] = [{"token": []}, {"session": []}]
    written = {"description": "The station after the edit, with `version` and `edit`; the ETag is its version.",
               "content": geojson}
    refusals = {"400": refusal("Malformed body or parameter."), "401": refusal("No account (sign in or send a token)."),
                "403": refusal("The role or districts do not allow it, or the CSRF token is missing."),
                "404": refusal("No such station or edit."),
                "422": refusal("The record is invalid: `problems` lists every problem.")}
    versioned = {**refusals, "412": refusal("Based on an old version: `current` is the station now."),
                 "428": refusal("No If-Match header.")}

    def write(summary: str, params: list[dict[str, Any]], responses: dict[str, Any], body: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"summary": summary, "parameters": params, "security": secured,
                               "responses": {"200": written, **responses}}
        if body:
            out["requestBody"] = {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}
        return out

    edits_page = {"description": "Edits with who, when, why, and the record before and after.",
                  "content": {"application/json": {"schema": {"type": "object"}}}}
    paths = {
        "/api/stations/{id}/history": {"get": {
            "summary": "Every edit of a station, oldest first (needs an account).", "parameters": [station_id],
            "security": secured, "responses": {"200": edits_page, "401": refusals["401"], "404": refusals["404"]}}},
        "/api/stations/{id}/reopen": {"post": write("Reopen a closed station.", [station_id, if_match], versioned,
                                                    body=False)},
        "/api/edits": {"get": {
            "summary": "The latest edits of the register, newest first (needs an account); `next` pages on.",
            "parameters": [query_parameter(EDITS_LIMIT, settings), query_parameter(BEFORE_EDIT, settings)],
            "security": secured, "responses": {"200": edits_page, "400": refusals["400"], "401": refusals["401"]}}},
        "/api/edits/{edit_id}/revert": {"post": write(
            "Undo an edit as a new edit; If-Match names the station's current version.",
            [{"name": "edit_id", "in": "path", "required": True, "schema": {"type": "integer"}}, if_match],
            versioned, body=False)},
        "/api/stations/{id}/feedback": {"post": {
            "summary": "Report a problem, rate the station or confirm it open, without an account. `kind`: "
                       "broken_facility (with `amenity`, one of the station's), closed_at_stated_hours, wrong_location "
                       "(with `location` {lon, lat, datum}), unsafe_or_dirty, confirm_open, other (with `text`); "
                       "optional `text` (at most 500 characters), `rating` (1-5) and `phone` (digits, for a reply; "
                       "shown to editors only, never echoed). 201 with the report's id, state and deadline.",
            "parameters": [station_id],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
            "responses": {"201": {"description": "The report's id, state and deadline (no phone)."},
                          "400": refusals["400"], "404": refusals["404"],
                          "429": refusal("Too many reports from this client (10 an hour), on this station (100 a "
                                         "day) or in the register (5,000 a day): see Retry-After.")}}},
        "/api/feedback": {"get": {
            "summary": "Workers' reports of a district, newest first, with `overdue`, the station's name, the phone "
                       "and `edit_id` (admins and the district's editors; viewers 403); `next` pages on.",
            "parameters": [query_parameter(FEEDBACK_DISTRICT, settings), query_parameter(FEEDBACK_STATE, settings),
                           query_parameter(FEEDBACK_LIMIT, settings), query_parameter(BEFORE_FEEDBACK, settings)],
            "security": secured, "responses": {"200": {"description": "`reports`, and `next` when there are more."},
                                               "400": refusals["400"], "401": refusals["401"],
                                               "403": refusals["403"]}}},
        "/api/feedback/{feedback_id}/state": {"post": {
            "summary": "Move a report: JSON {state, note, expected_state}; new -> acknowledged, resolved or "
                       "rejected; acknowledged -> resolved or rejected (editors of its district, admins). Resolving "
                       "may edit the station in the same call: `edit` ({properties: merge patch, geometry}, WGS-84, "
                       "as PATCH /api/stations/{id} takes it) with `if_match` (the station's version): a normal "
                       "edit whose comment names the report, its id kept as the report's `edit_id`; if the edit is "
                       "refused (403, 412, 422, 428) the report does not change.",
            "parameters": [{"name": "feedback_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["state"],
                "properties": {"state": {"type": "string", "enum": list(FEEDBACK_STATES)},
                               "note": {"type": "string", "maxLength": 500},
                               "expected_state": {"type": "string", "enum": list(FEEDBACK_STATES)},
                               "edit": {"type": "object", "description": "With state resolved only."},
                               "if_match": {"type": "integer", "description": "The station's version (ETag)."}}}}}},
            "security": secured,
            "responses": {"200": {"description": "The report after the change (`edit_id` when it edited)."},
                          "400": refusals["400"], "401": refusals["401"], "403": refusals["403"],
                          "404": refusal("No such report."),
                          "409": refusal("The report was moved since (`expected_state` differs)."),
                          "412": versioned["412"], "422": refusal("The edit does not validate (`problems`)."),
                          "428": refusal("`edit` without `if_match`.")}}},
        "/api/login": {"post": {
            "summary": "Sign in: JSON {name, password}; sets the session cookie and returns the CSRF token.",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
            "responses": {"200": {"description": "The account, its role and districts, and `csrf_token`."},
                          "401": refusals["401"], "429": refusal("Too many failed logins: see Retry-After.")}}},
        "/api/logout": {"post": {"summary": "Sign out.", "responses": {"200": {"description": "Signed out."}}}},
        "/api/me": {"get": {"summary": "The signed-in account (or null) and its CSRF token.",
                            "responses": {"200": {"description": "`user` is null when anonymous."}}}},
    }
    writes = {
            "post": write("Add a station: a GeoJSON Feature (coordinates in `datum`) and an optional `comment`; "
                          "201 with its id.", [datum], refusals | {"409": refusal("The id is taken.")}, body=True),
            "patch": write("Change a station: `properties` merged (null removes one), `geometry` replaced, "
                           "optional `comment`.", [station_id, if_match, datum], versioned, body=True),
            "put": write("Replace a station's record whole.", [station_id, if_match, datum], versioned, body=True),
            "delete": write("Close a station (its history is kept; it can be reopened).", [station_id, if_match],
                            versioned, body=False),
    }
    return paths, writes


def _export_paths(settings: Settings, error: dict[str, Any]) -> dict[str, Any]:
    """The downloads of the whole register: GeoJSON and CSV."""
    params = [query_parameter(EXPORT_DISTRICT, settings), query_parameter(EXPORT_DATUM, settings)]
    attachment = {"Content-Disposition": {"description": "`attachment; filename=\"stations[-adcode][-datum].…\"`",
                                          "schema": {"type": "string"}}}

    def get(summary: str, description: str, media: str) -> dict[str, Any]:
        return {"get": {"summary": summary, "parameters": params,
                        "responses": {"200": {"description": description, "headers": attachment,
                                              "content": {media: {"schema": {"type": "string"}}}},
                                      "400": error, "404": error}}}

    return {
        "/api/export.geojson": get(
            "Download every station (or one district's) as one GeoJSON FeatureCollection, streamed.",
            "All records as `stationmap export` writes them; a gcj02/bd09 download says so in a top-level `datum`.",
            "application/geo+json"),
        "/api/export.csv": get(
            "Download every station (or one district's) as CSV with Chinese headers, streamed.",
            "UTF-8 with BOM (opens in Excel), one row per station, the columns of `stationmap export --headers zh`; "
            "经度/纬度 in `datum`.", "text/csv"),
    }


def _planner_paths(settings: Settings, error: dict[str, Any], geojson: dict[str, Any]) -> dict[str, Any]:
    """The planner's endpoints: coverage, gaps, sites, service areas, what-if and the districts."""
    def q(spec: ParamSpec) -> dict[str, Any]:
        return query_parameter(spec, settings)

    district, radius, at, map_datum = q(DISTRICT), q(RADIUS_M), q(AT), q(PLANNER_MAP_DATUM)
    json_body = {"application/json": {"schema": {"type": "object"}}}
    busy = {"description": "Still computing or busy; retry after `Retry-After` seconds.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}

    def get(summary: str, params: list[dict[str, Any]], description: str, content: dict[str, Any]) -> dict[str, Any]:
        return {"get": {"summary": summary, "parameters": params,
                        "responses": {"200": {"description": description, "content": content}, "400": error,
                                      "404": error, "422": error, "503": busy}}}

    return {
        "/api/districts": {"get": {"summary": "The districts served, with outlines and station counts.",
                                   "parameters": [map_datum],
                                   "responses": {"200": {"description": "FeatureCollection of districts.",
                                                         "content": geojson}, "400": error}}},
        "/api/coverage": get(
            "Share of a district's area within reach of one / two or more stations (areas in m² in local UTM).",
            [district, radius, q(MINUTES), q(MODE.replace(description="Travel mode of `minutes`: walk (75 m/min), "
                                                           "ebike (250 m/min) or drive (500 m/min); default walk.")),
             at, map_datum],
            "`coverage` holds the report; shares are percent. With `minutes`, `query` says the circle: `minutes`, "
            "`mode`, `speed_m_per_min` and `service_circle` (\"15 min on foot (1,125 m straight-line at "
            "75 m/min)\").", json_body),
        "/api/gaps": get(
            "The district's uncovered parts as polygons ranked by area, with the nearest station; with `by`, split "
            "into grid cells or distance bands ranked by uncovered demand, then area (m² in local UTM).",
            [district, radius, at, q(MIN_AREA_M2), q(WEB_BY), q(CELL_M), map_datum],
            "FeatureCollection of gaps (or cells / bands with `uncovered_m2`, `uncovered_share`, the nearest "
            "station and its geodesic distance in m); `summary` has totals, sliver counts and the CRS used.",
            geojson),
        "/api/sites": get(
            "New sites in the district's gaps. No demand data is used (demand is area, where full circles tie), so "
            "the sites are chosen deepest first: each the candidate farthest from every station, earlier site "
            "and the district edge.",
            [district, radius, at, q(WEB_SITES_K), map_datum],
            "FeatureCollection of points with `rank`, `gain` (m²), `cumulative_pct`, `clearance_m`; `summary` has "
            "`method` (deepest-first), `demand_source` (\"area (no demand data)\"), `ties_broken_by`, `optimal` "
            "(false) and the bound on the area any k sites reach.", geojson),
        "/api/service-areas": get(
            "The covered area and the overlap (covered by two or more stations), clipped to the district.",
            [district, radius, at, map_datum], "FeatureCollection with `level` covered / overlap and `area_m2`.",
            geojson),
        "/api/what-if": get(
            "Coverage before and after adding hypothetical stations and removing existing ones.",
            [district, radius, at, q(ADD), q(ADD_DATUM), map_datum, q(REMOVE)],
            "`before`, `after`, `delta` (after - before) and the `added` stations.", json_body),
    }
