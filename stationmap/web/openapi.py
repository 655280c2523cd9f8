"""The OpenAPI 3.1 document served at ``/api/openapi.json``."""

from __future__ import annotations

from typing import Any

from stationmap.config import Settings
from stationmap.schema import AMENITIES, TOILET
from stationmap.web.planner import LIMITS

__all__ = ["openapi_document"]


def _param(name: str, description: str, schema: dict[str, Any], *, required: bool = False,
           explode: bool | None = None) -> dict[str, Any]:
    param: dict[str, Any] = {"name": name, "in": "query", "required": required, "description": description,
                             "schema": schema}
    if explode is not None:
        param["style"], param["explode"] = "form", explode
    return param


def openapi_document(settings: Settings) -> dict[str, Any]:
    """
    Return the OpenAPI 3.1 description of the JSON API.

    Parameters
    ----------
    settings
        For limits such as ``max_results``.
    """
    filters = [
        _param("amenity", "Amenity keys every station must have; repeat or comma-separate. Chinese labels and "
               "synonyms are accepted.", {"type": "array", "items": {"type": "string", "enum": list(AMENITIES.keys)}},
               explode=True),
        _param("open_at", "Keep stations open at this moment: `now`, `HH:MM` (today, Asia/Shanghai) or an ISO 8601 "
               "date-time.", {"type": "string"}),
        _param("open_now", "Shorthand for `open_at=now`.", {"type": "boolean"}),
        _param("min_stars", "Minimum star level.", {"type": "integer", "minimum": 0, "maximum": 5}),
        _param("toilet", "Accepted toilet values; repeat or comma-separate.",
               {"type": "array", "items": {"type": "string", "enum": list(TOILET.keys)}}, explode=True),
    ]
    lang = _param("lang", "Language of words in the answer.", {"type": "string", "enum": ["zh", "en"], "default": "zh"})
    map_datum = _param("map_datum", "Also give `map_lonlat` in this datum, for drawing on GCJ-02 (Amap) tiles.",
                       {"type": "string", "enum": ["wgs84", "gcj02", "bd09"], "default": "wgs84"})
    bbox = _param("bbox", "west,south,east,north in WGS-84 degrees (RFC 7946 order).",
                  {"type": "string", "example": "108.9,34.2,109.2,34.4"})
    error = {"description": "Bad parameter (the message names it) or not found.",
             "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    geojson = {"application/geo+json": {"schema": {"type": "object"}}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "stationmap API",
            "version": "1",
            "description": "Trade-union outdoor-worker service stations (工会户外劳动者服务站点). Coordinates are "
                           "WGS-84 lon/lat (RFC 7946). Distances are geodesic on the WGS-84 ellipsoid, in meters; "
                           "walking minutes assume 75 m per minute. Times are Asia/Shanghai.",
        },
        "paths": {
            "/api/stations": {"get": {
                "summary": "List stations (GeoJSON FeatureCollection) with filters and paging.",
                "parameters": [bbox, *filters,
                               _param("district_code", "6-digit adcode.", {"type": "string", "pattern": r"^\d{6}$"}),
                               _param("q", "Substring of name, English name, address or id.",
                                      {"type": "string", "maxLength": 100}),
                               _param("limit", "Page size.", {"type": "integer", "minimum": 1,
                                                              "maximum": settings.max_results}),
                               _param("offset", "Records to skip.", {"type": "integer", "minimum": 0}), map_datum],
                "responses": {"200": {"description": "Stations, with `numberMatched` and next/prev `links`.",
                                      "content": geojson}, "400": error},
            }},
            "/api/stations/{id}": {"get": {
                "summary": "One station as a GeoJSON Feature with state, hours in words and navigation links.",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}, lang,
                               _param("at", "Moment for the open/closed state (default now).", {"type": "string"}),
                               map_datum],
                "responses": {"200": {"description": "The station.", "content": geojson}, "400": error,
                              "404": error},
            }},
            "/api/nearest": {"get": {
                "summary": "The k nearest stations by geodesic distance (WGS-84 ellipsoid), nearest first.",
                "parameters": [
                    _param("lon", "Longitude in degrees.", {"type": "number", "minimum": -180, "maximum": 180},
                           required=True),
                    _param("lat", "Latitude in degrees.", {"type": "number", "minimum": -90, "maximum": 90},
                           required=True),
                    _param("datum", "Datum of lon/lat (default WGS-84).",
                           {"type": "string", "enum": ["wgs84", "gcj02", "bd09"]}),
                    _param("k", "Number of stations.", {"type": "integer", "minimum": 1,
                                                        "maximum": settings.max_results, "default": 10}),
                    *filters,
                    _param("max_distance_m", "Farthest distance in meters.", {"type": "number", "minimum": 0}),
                    lang, map_datum],
                "responses": {"200": {"description": "Stations with `distance_m`, `walk_min`, `open_now`, "
                                                     "`state_text`, `next_change`.", "content": geojson},
                              "400": error},
            }},
            "/api/view": {"get": {
                "summary": "What the map draws for a view: single stations, or counts per grid cell when many.",
                "parameters": [{**bbox, "required": True},
                               _param("zoom", "Map zoom level.", {"type": "integer", "minimum": 0, "maximum": 22},
                                      required=True), *filters, map_datum],
                "responses": {"200": {"description": "`mode` is `points` or `clusters`.",
                                      "content": {"application/json": {"schema": {"type": "object"}}}},
                              "400": error},
            }},
            **_planner_paths(settings, error, geojson),
            "/api/openapi.json": {"get": {"summary": "This document.",
                                          "responses": {"200": {"description": "OpenAPI 3.1 document."}}}},
        },
        "components": {"schemas": {"Error": {
            "type": "object", "required": ["ok", "error", "status"],
            "properties": {"ok": {"const": False}, "error": {"type": "string"}, "status": {"type": "integer"}},
        }}},
    }


def _planner_paths(settings: Settings, error: dict[str, Any], geojson: dict[str, Any]) -> dict[str, Any]:
    """The planner's endpoints: coverage, gaps, sites, service areas, what-if and the districts."""
    district = _param("district", "A district served (see /api/districts): its adcode, or its Chinese name "
                      "(灞桥区, 西安市 灞桥区, 灞桥).", {"type": "string", "minLength": 1, "example": "610111"},
                      required=True)
    radius = _param("radius_m", "Service radius in metres (straight-line).",
                    {"type": "number", "minimum": LIMITS.radius_min_m, "maximum": LIMITS.radius_max_m,
                     "default": min(max(settings.default_radius_m, LIMITS.radius_min_m), LIMITS.radius_max_m)})
    at = _param("at", "Count only stations open at this time: `HH:MM` (today, Asia/Shanghai), an ISO 8601 "
                "date-time, or `any` (default: every station in service).", {"type": "string", "example": "05:00"})
    map_datum = _param("map_datum", "Answer with geometries in this datum, for drawing on GCJ-02 (Amap) tiles; the "
                       "body then says `map_datum` (default wgs84, RFC 7946).",
                       {"type": "string", "enum": ["wgs84", "gcj02", "bd09"]})
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
                                                         "content": geojson}}}},
        "/api/coverage": get(
            "Share of a district's area within reach of one / two or more stations (areas in m² in local UTM).",
            [district, radius, at, map_datum], "`coverage` holds the report; shares are percent.", json_body),
        "/api/gaps": get(
            "The district's uncovered parts as polygons ranked by area, with the nearest station.",
            [district, radius, at, _param("min_area_m2", "Gaps smaller than this (m²) are dropped and counted.",
                                          {"type": "number", "minimum": 0, "maximum": LIMITS.min_area_max_m2,
                                           "default": 10000}), map_datum],
            "FeatureCollection of gaps; `summary` has totals, sliver counts and the CRS used.", geojson),
        "/api/sites": get(
            "New sites that cover the most uncovered area, numbered by marginal gain (max-cover).",
            [district, radius, at, _param("k", "Number of new sites.",
                                          {"type": "integer", "minimum": 1, "maximum": LIMITS.k_max, "default": 5}),
             map_datum],
            "FeatureCollection of points with `rank`, `gain`, `cumulative_pct`; `summary` has `method` "
            "(ilp/greedy), `optimal` and `gap_pct`.", geojson),
        "/api/service-areas": get(
            "The covered area and the overlap (covered by two or more stations), clipped to the district.",
            [district, radius, at, map_datum], "FeatureCollection with `level` covered / overlap and `area_m2`.",
            geojson),
        "/api/what-if": get(
            "Coverage before and after adding hypothetical stations and removing existing ones.",
            [district, radius, at,
             _param("add", f"New stations `lon,lat;lon,lat` (at most {LIMITS.add_max}), in `datum`.",
                    {"type": "string", "example": "109.10,34.30"}),
             _param("datum", "Datum of `add` (default wgs84; gcj02 for taps on Amap tiles).",
                    {"type": "string", "enum": ["wgs84", "gcj02", "bd09"]}), map_datum,
             _param("remove", f"Ids of the district's stations to remove, comma-separated (at most "
                    f"{LIMITS.remove_max}).", {"type": "string", "example": "610111-001"})],
            "`before`, `after`, `delta` (after - before) and the `added` stations.", json_body),
    }
