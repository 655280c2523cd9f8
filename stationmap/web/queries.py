"""The API's work, without Flask: each function takes the app state and the request arguments and returns a body.

Routes in `stationmap.web.api` are one-line adapters around these (pygeoapi's split), so every answer can be
tested without a request and no function here does file I/O.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import numpy as np

from stationmap import geo, hours, hours_words
from stationmap.analysis.nearest import DISTANCE_METHOD, WALKING_SPEED_M_PER_MIN, NeedMatch, NeedResult
from stationmap.analysis.rating import rate_station
from stationmap.errors import BadRequestError, OpeningHoursError, StationNotFoundError
from stationmap.mapping import navigation_links
from stationmap.needs import MODES, TermMatches, get_mode, get_need, match_terms, travel_min
from stationmap.parameters import LIMIT, MODE, NEAREST_K, NEED, OFFSET, QUERY, ZOOM
from stationmap.schema import AMENITIES
from stationmap.web.params import (
    Args,
    BBox,
    StationFilters,
    parse_bbox,
    parse_datum,
    parse_filters,
    parse_lang,
    parse_lon_lat,
    parse_max_distance,
    parse_optional_point,
    parse_param,
)
from stationmap.web.state import CLUSTER_CELL_PX, AppState, cluster_cell_deg

__all__ = [
    "CLUSTER_CELL_PX",
    "POINTS_LIMIT",
    "list_stations",
    "nearest",
    "station_detail",
    "view",
]

#: Most single stations the map view sends; above it, counts per grid cell are sent instead.
POINTS_LIMIT = 1500


def _metadata(state: AppState) -> dict[str, Any]:
    return {"demo": state.demo, "notices": list(state.notices)}


def _filter_rows(state: AppState, filters: StationFilters, bbox: BBox | None, query: str | None) -> np.ndarray:
    """Return the rows (positions) that pass every filter, in file order."""
    mask = state.index.filter_mask(amenities=filters.amenities, open_at=filters.open_at,
                                   min_stars=filters.min_stars, toilet=filters.toilet)
    rows = (np.arange(len(state.index)) if bbox is None
            else state.rows_in_bbox(bbox.west, bbox.south, bbox.east, bbox.north))
    if mask is not None:
        rows = rows[mask[rows]]
    if filters.district_code:
        rows = rows[state.district_codes[rows] == filters.district_code]
    if query:
        needle = query.lower()
        hits = np.fromiter((needle in state.search_text[r] for r in rows), dtype=bool, count=len(rows))
        terms = match_terms(query)
        if terms:
            hits |= _term_hits(state, rows, terms)
        return rows[hits]
    return rows


def _term_hits(state: AppState, rows: np.ndarray, terms: TermMatches) -> np.ndarray:
    """Which of `rows` have an amenity, a toilet value or a kind that the search words name."""
    index = state.index
    hits = np.zeros(len(rows), dtype=bool)
    if terms.amenities:
        columns = [AMENITIES.keys.index(a) for a in terms.amenities]
        hits |= index.amenity_matrix[rows][:, columns].any(axis=1)
    if terms.toilet:
        hits |= np.isin(index.toilet[rows], list(terms.toilet))
    if terms.kinds:
        hits |= np.isin(index.kinds[rows], list(terms.kinds))
    return hits


def _by_distance(state: AppState, rows: np.ndarray, lon: float, lat: float) -> tuple[np.ndarray, np.ndarray]:
    """`rows` nearest first from (lon, lat) (WGS-84), ties by id, with their geodesic metres."""
    if not len(rows):
        return rows, np.empty(0)
    _, _, dist = geo.GEOD.inv(np.full(len(rows), lon), np.full(len(rows), lat), state.index.lon[rows],
                              state.index.lat[rows])
    dist = np.asarray(dist, dtype=float)
    order = np.lexsort((state.index.ids[rows].astype(str), dist))
    return rows[order], dist[order]


def _query_text(args: Args) -> str | None:
    values = args.getlist("q")
    if len(values) > 1:
        msg = f"parameter 'q' is given {len(values)} times; give it once"
        raise BadRequestError(msg)
    if not values or not values[0].strip():
        return None
    text = values[0].strip()
    max_length = QUERY.max_length
    if max_length is not None and len(text) > max_length:
        msg = f"parameter 'q' must be at most {max_length} characters, got {len(text)}"
        raise BadRequestError(msg)
    return text


def _page_link(base_url: str, args: Args, *, offset: int, rel: str) -> dict[str, str]:
    pairs = [(key, value) for key in args for value in args.getlist(key) if key != "offset"]
    pairs.append(("offset", str(offset)))
    return {"rel": rel, "type": "application/geo+json", "href": f"{base_url}?{urlencode(pairs)}"}


def list_stations(state: AppState, args: Args, *, base_url: str, now: datetime | None = None) -> dict[str, Any]:
    """
    Answer ``GET /api/stations``: a page of stations as an RFC 7946 FeatureCollection.

    Parameters
    ----------
    state
        The app state.
    args
        ``bbox``, ``amenity``, ``min_stars``, ``open_at``/``open_now``, ``toilet``, ``district_code``, ``q``
        (substring of name, address or id, or words naming amenities, toilets or kinds:
        `stationmap.needs.match_terms`), ``lon`` and ``lat`` (with ``datum``: nearest first, with ``distance_m``
        and the open state), ``limit``, ``offset``, ``lang`` and ``map_datum`` (adds ``map_lonlat`` for GCJ-02
        tiles).
    base_url
        URL of this endpoint, for the ``next``/``prev`` links.
    now
        The present moment, for ``open_at=now`` and ``HH:MM`` (tests pass one).

    Raises
    ------
    BadRequestError
        For any malformed parameter, naming it.
    """
    problems = []
    parsed: dict[str, Any] = {}
    for name, parse in (
        ("bbox", lambda: parse_bbox(args)),
        ("filters", lambda: parse_filters(args, now=now)),
        ("limit", lambda: parse_param(args, LIMIT, settings=state.settings)),
        ("offset", lambda: parse_param(args, OFFSET)),
        ("q", lambda: _query_text(args)),
        ("map_datum", lambda: parse_datum(args, "map_datum")),
        ("point", lambda: parse_optional_point(args)),
        ("lang", lambda: parse_lang(args)),
    ):
        try:
            parsed[name] = parse()
        except BadRequestError as err:
            problems.append(str(err))
    if problems:
        msg = "; ".join(problems)
        raise BadRequestError(msg)
    rows = _filter_rows(state, parsed["filters"], parsed["bbox"], parsed["q"])
    dist = None
    if parsed["point"] is not None:
        rows, dist = _by_distance(state, rows, *parsed["point"])
    offset, limit = parsed["offset"], parsed["limit"]
    page = rows[offset: offset + limit]
    links = [_page_link(base_url, args, offset=offset, rel="self")]
    if offset + limit < len(rows):
        links.append(_page_link(base_url, args, offset=offset + limit, rel="next"))
    if offset > 0:
        links.append(_page_link(base_url, args, offset=max(0, offset - limit), rel="prev"))
    features = state.features(page, verified=True)
    for feature in features:
        _with_display(feature, parsed["map_datum"])
    body: dict[str, Any] = {
        "type": "FeatureCollection",
        "numberMatched": len(rows),
        "numberReturned": len(page),
        "links": links,
        "metadata": _metadata(state),
        "features": features,
    }
    if parsed["q"]:
        body["q_matches"] = match_terms(parsed["q"]).to_dict()
    if dist is not None:
        moment = parsed["filters"].open_at or hours.resolve_when(None, now=now)
        for feature, metres in zip(features, dist[offset: offset + limit].tolist(), strict=True):
            feature["properties"]["distance_m"] = round(metres, 1)
        _add_states(features, moment, parsed["lang"])
        body["origin"] = {"lon": parsed["point"][0], "lat": parsed["point"][1]}
        body["evaluated_at"] = moment.isoformat()
    return body


def _state_properties(props: dict[str, Any], moment: datetime, lang: str) -> dict[str, Any]:
    """Open/closed now, the next change and the words for them, for one station's properties."""
    try:
        state = hours.hours_state(props, moment)
        change = hours.next_change(props, moment)
        words = hours_words.describe_state(props, moment, lang=lang)
    except OpeningHoursError:
        state, change, words = "unknown", None, hours_words.describe_state({}, moment, lang=lang)
    return {
        "open_now": True if state == "open" else False if state == "closed" else None,
        "state_text": words,
        "next_change": change.isoformat() if change else None,
    }


@functools.lru_cache(maxsize=8192)
def _state_at_minute(opening_hours: str | None, status: str | None, minute: datetime,
                     lang: str) -> dict[str, Any]:
    """`_state_properties` of hours and status at a whole minute: kept across requests, as hours are per minute."""
    return _state_properties({"opening_hours": opening_hours, "status": status}, minute, lang)


def _add_states(features: list[dict[str, Any]], moment: datetime, lang: str) -> None:
    """
    Add ``open_now``, ``state_text`` and ``next_change`` at `moment` to each feature's properties.

    The words depend only on the hours, the status and the minute (opening hours have no seconds), so they are
    computed once per minute for all requests; a station whose fields are not plain text is computed alone.
    """
    minute = moment.replace(second=0, microsecond=0)
    for feature in features:
        props = feature["properties"]
        opening_hours, status = hours.hours_fields(props)
        if not all(isinstance(v, (str, type(None))) for v in (opening_hours, status)):
            props.update(_state_properties(props, moment, lang))
            continue
        props.update(_state_at_minute(opening_hours, status, minute, lang))


def _with_display(feature: dict[str, Any], display_datum: str) -> None:
    if display_datum != "wgs84":
        lon, lat = feature["geometry"]["coordinates"]
        d_lon, d_lat = geo.convert_coords(lon, lat, src="wgs84", dst=display_datum)
        feature["properties"]["map_lonlat"] = [round(d_lon, 7), round(d_lat, 7)]


def nearest(state: AppState, args: Args, *, now: datetime | None = None) -> dict[str, Any]:
    """
    Answer ``GET /api/nearest``: the `k` nearest stations by geodesic distance, or with ``need`` the best for a
    worker's needs.

    Without ``need`` the stations come nearest first, filtered by the station filters. With ``need``
    (`stationmap.needs.NEEDS`) they are the stations within the travel mode's cap that meet every need, ranked
    by `stationmap.needs.score`; when none does, ``nothing_within_m`` says how far was searched and ``partial``
    lists the nearest that meet some needs with what they lack (`stationmap.needs` documents every field).

    Parameters
    ----------
    state
        The app state.
    args
        ``lon``, ``lat`` (required; WGS-84 unless ``datum`` says ``gcj02``/``bd09``), ``k`` (1 to
        ``max_results``, default 10), ``need``, ``mode``, ``amenity``, ``open_at``/``open_now``, ``min_stars``,
        ``toilet``, ``max_distance_m``, ``lang`` and ``map_datum`` (adds ``map_lonlat`` for GCJ-02 tiles).
    now
        The present moment (tests pass one).

    Raises
    ------
    BadRequestError
        For any malformed parameter, naming it; every problem is reported at once.
    """
    problems = []
    parsed: dict[str, Any] = {}
    for name, parse in (
        ("point", lambda: parse_lon_lat(args)),
        ("k", lambda: parse_param(args, NEAREST_K, settings=state.settings)),
        ("filters", lambda: parse_filters(args, now=now)),
        ("max_distance_m", lambda: parse_max_distance(args)),
        ("lang", lambda: parse_lang(args)),
        ("datum", lambda: parse_datum(args, "datum")),
        ("map_datum", lambda: parse_datum(args, "map_datum")),
        ("need", lambda: parse_param(args, NEED)),
        ("mode", lambda: parse_param(args, MODE)),
    ):
        try:
            parsed[name] = parse()
        except BadRequestError as err:
            problems.append(str(err))
    if "filters" in parsed and parsed["filters"].district_code:
        problems.append("parameter 'district_code' is not supported by /api/nearest; nearest searches every district")
    if problems:
        msg = "; ".join(problems)
        raise BadRequestError(msg)
    lon, lat = parsed["point"]
    if parsed["datum"] != "wgs84":
        lon, lat = geo.convert_coords(lon, lat, src=parsed["datum"], dst="wgs84")
    if parsed["need"] is not None:
        return _nearest_for_need(state, parsed, lon, lat, now=now)
    filters: StationFilters = parsed["filters"]
    result = state.index.query(lon, lat, k=parsed["k"], amenities=filters.amenities, open_at=filters.open_at,
                               min_stars=filters.min_stars, toilet=filters.toilet,
                               max_distance_m=parsed["max_distance_m"])
    moment = filters.open_at or hours.resolve_when(None, now=now)
    features = state.features([s.row for s in result.stations], verified=True)
    mode = get_mode(parsed["mode"]) if parsed["mode"] else None
    for rank, (feature, found) in enumerate(zip(features, result.stations, strict=True), start=1):
        props = feature["properties"]
        props.update({"rank": rank, "distance_m": round(found.distance_m, 1), "walk_min": found.walk_min})
        if mode is not None:
            props.update({"travel_min": travel_min(found.distance_m, mode), "mode": mode.key})
        _with_display(feature, parsed["map_datum"])
    _add_states(features, moment, parsed["lang"])
    return {
        "type": "FeatureCollection",
        "query": _query_echo(parsed, result.lon, result.lat),
        "origin": _origin(result.lon, result.lat, parsed["map_datum"]),
        "evaluated_at": moment.isoformat(),
        "distance_method": result.method,
        "walking_speed_m_per_min": WALKING_SPEED_M_PER_MIN,
        "numberReturned": len(features),
        "metadata": _metadata(state),
        "features": features,
    }


def _query_echo(parsed: dict[str, Any], lon: float, lat: float) -> dict[str, Any]:
    filters: StationFilters = parsed["filters"]
    echo = {
        "lon": lon, "lat": lat, "k": parsed["k"], "amenity": list(filters.amenities),
        "open_at": filters.open_at.isoformat() if filters.open_at else None, "min_stars": filters.min_stars,
        "toilet": list(filters.toilet), "max_distance_m": parsed["max_distance_m"],
    }
    if parsed["need"] is not None or parsed["mode"] is not None:
        echo.update({"need": parsed["need"], "mode": parsed["mode"]})
    return echo


def _origin(lon: float, lat: float, map_datum: str) -> dict[str, Any]:
    origin: dict[str, Any] = {"lon": lon, "lat": lat}
    if map_datum != "wgs84":
        o_lon, o_lat = geo.convert_coords(lon, lat, src="wgs84", dst=map_datum)
        origin["map_lonlat"] = [round(o_lon, 7), round(o_lat, 7)]
    return origin


def _nearest_for_need(state: AppState, parsed: dict[str, Any], lon: float, lat: float, *,
                      now: datetime | None) -> dict[str, Any]:
    """The ``need=`` form of `nearest`: stations meeting the needs within the mode's cap, or partial matches."""
    need = get_need(parsed["need"])
    mode = get_mode(parsed["mode"]) if parsed["mode"] else MODES[need.default_mode]
    filters: StationFilters = parsed["filters"]
    if filters.open_at is not None:  # the user's time: being open then is required
        moment, open_required = filters.open_at, True
    elif need.open_at is not None:  # the group's usual hour, today
        moment, open_required = hours.resolve_when(need.open_at, now=now), True
    else:  # open now only ranks
        moment, open_required = hours.resolve_when(None, now=now), False
    result = state.index.for_need(lon, lat, need, mode=mode, k=parsed["k"], moment=moment,
                                  open_required=open_required, amenities=filters.amenities,
                                  min_stars=filters.min_stars, toilet=filters.toilet,
                                  max_distance_m=parsed["max_distance_m"])
    features = _need_features(state, result, result.stations, parsed)
    _add_states(features, moment, parsed["lang"])
    partial = [_partial(state, found, parsed["map_datum"]) for found in result.partial]
    return {
        "type": "FeatureCollection",
        "query": _query_echo(parsed, result.lon, result.lat),
        "origin": _origin(result.lon, result.lat, parsed["map_datum"]),
        "need": need.key,
        "mode": mode.key,
        "speed_m_per_min": mode.speed_m_per_min,
        "cap_m": result.cap_m,
        "straight_line": True,
        "evaluated_at": moment.isoformat(),
        "open_required_at": moment.isoformat() if open_required else None,
        "nothing_within_m": None if result.stations else result.cap_m,
        "partial": partial,
        "distance_method": DISTANCE_METHOD,
        "walking_speed_m_per_min": WALKING_SPEED_M_PER_MIN,
        "numberReturned": len(features),
        "metadata": _metadata(state),
        "features": features,
    }


def _need_features(state: AppState, result: NeedResult, found: tuple[NeedMatch, ...],
                   parsed: dict[str, Any]) -> list[dict[str, Any]]:
    rows = np.array([m.row for m in found], dtype=np.intp)
    features = state.features(rows, verified=True)
    honours = state.best_honours(rows) if len(rows) else []
    for rank, (feature, match, honour) in enumerate(zip(features, found, honours, strict=True), start=1):
        props = feature["properties"]
        links = navigation_links(match.lon, match.lat, name=match.name or match.station_id, mode=result.mode.key,
                                 origin=(result.lon, result.lat))
        props.update({
            "rank": rank, "distance_m": round(match.distance_m, 1),
            "walk_min": travel_min(match.distance_m, MODES["walk"]),
            "travel_min": match.travel_min, "mode": result.mode.key, "straight_line": True,
            "score": round(match.score, 2), "matched": list(match.matched), "honour": honour,
            "navigation": links.to_dict(),
        })
        _with_display(feature, parsed["map_datum"])
    return features


def _partial(state: AppState, match: NeedMatch, display_datum: str) -> dict[str, Any]:
    """A station meeting some of the needs, with what it lacks (WGS-84, plus ``map_lonlat`` for GCJ-02 tiles)."""
    props = state.features([match.row])[0]["properties"]
    out = {"id": match.station_id, "name": match.name, "lon": round(match.lon, 7), "lat": round(match.lat, 7),
           "distance_m": round(match.distance_m, 1), "travel_min": match.travel_min, "missing": list(match.missing),
           "matched": list(match.matched), "toilet": props.get("toilet"), "open_now": match.is_open,
           "stars": props.get("stars")}
    if display_datum != "wgs84":
        d_lon, d_lat = geo.convert_coords(match.lon, match.lat, src="wgs84", dst=display_datum)
        out["map_lonlat"] = [round(float(d_lon), 7), round(float(d_lat), 7)]
    return out


def station_detail(state: AppState, station_id: str, args: Args, *, now: datetime | None = None) -> dict[str, Any]:
    """
    Answer ``GET /api/stations/<id>``: one Feature with its state now, hours in words, navigation links and the
    star level its recorded attributes qualify for under the rubric (``rating``).

    Parameters
    ----------
    state
        The app state.
    station_id
        The station's id.
    args
        ``lang`` (``zh``/``en``), ``at`` (a moment other than now), ``mode`` (``walk``/``ebike``/``drive``, for
        the navigation links; default walk), ``lon`` and ``lat`` (the worker's position, the start of Baidu's
        route; optional) and ``map_datum``.
    now
        The present moment (tests pass one).

    Raises
    ------
    StationNotFoundError
        If no station has `station_id`.
    BadRequestError
        For a malformed parameter.
    """
    lang = parse_lang(args)
    map_datum = parse_datum(args, "map_datum")
    mode = parse_param(args, MODE) or "walk"
    origin = parse_optional_point(args)
    at = args.getlist("at")
    try:
        moment = hours.resolve_when(at[0] if at else None, now=now)
    except BadRequestError as err:
        msg = f"parameter 'at': {err}"
        raise BadRequestError(msg) from err
    row = state.row_of.get(station_id)
    if row is None:
        msg = f"Station {station_id!r} not found."
        raise StationNotFoundError(msg)
    feature = state.features([row], verified=True)[0]
    props = feature["properties"]
    props.update(_state_properties(props, moment, lang))
    text = props.get("opening_hours")
    try:
        props["hours_text"] = hours_words.describe_hours(text, lang=lang) if text else None
    except OpeningHoursError:
        props["hours_text"] = text
    lon, lat = feature["geometry"]["coordinates"]
    links = navigation_links(lon, lat, name=str(props.get("name") or station_id), mode=mode, origin=origin)
    props["navigation"] = links.to_dict()
    props["mode"] = mode
    if state.rubric is not None:
        props["rating"] = _worker_rating(rate_station(props, state.rubric, when_checked=moment), lang)
    _with_display(feature, map_datum)
    feature["metadata"] = _metadata(state)
    return feature


#: The parts of a star assessment a worker sees: the level the station qualifies for and what the next one needs.
_WORKER_RATING = ("station_id", "qualified_stars", "next_level", "missing_for_next", "headline", "rubric_version")


def _worker_rating(assessment: Any, lang: str) -> dict[str, Any]:
    """
    The star assessment without the planner's review notes.

    Whether the recorded level should be reviewed (``review_candidate``, "建议复核"), downgrade findings, and what
    could not be checked are for the district union's review list (`stationmap stars`, the report), not for a
    worker looking for a station; the headline is written without them.
    """
    shown = dataclasses.replace(assessment, review_candidate=False, downgrades=())
    body = shown.to_dict(lang=lang)
    return {key: body[key] for key in _WORKER_RATING}


def view(state: AppState, args: Args, *, now: datetime | None = None) -> dict[str, Any]:
    """
    Answer ``GET /api/view``: what the map draws for a bbox and zoom.

    Up to `POINTS_LIMIT` single stations (``mode: "points"``: id, name, position, stars, open now, best
    honour), or above that, counts per grid cell of about `CLUSTER_CELL_PX` screen pixels
    (``mode: "clusters"``), so the payload stays small at national scale.

    Parameters
    ----------
    state
        The app state.
    args
        ``bbox`` and ``zoom`` (required), the station filters, and ``map_datum`` for the tiles' datum.
    now
        The present moment (tests pass one).

    Raises
    ------
    BadRequestError
        For any malformed or missing parameter, naming it.
    """
    problems = []
    parsed: dict[str, Any] = {}
    for name, parse in (
        ("bbox", lambda: parse_bbox(args)),
        ("zoom", lambda: parse_param(args, ZOOM)),
        ("filters", lambda: parse_filters(args, now=now)),
        ("map_datum", lambda: parse_datum(args, "map_datum")),
    ):
        try:
            parsed[name] = parse()
        except BadRequestError as err:
            problems.append(str(err))
    for name in ("bbox", "zoom"):
        if name not in args:
            problems.append(f"parameter {name!r} is required")
    if problems:
        msg = "; ".join(dict.fromkeys(problems))
        raise BadRequestError(msg)
    bbox: BBox = parsed["bbox"]
    zoom: int = parsed["zoom"]
    rows = _filter_rows(state, parsed["filters"], bbox, None)
    every = len(rows) == len(state.index)  # rows is then 0..n-1: skip copying the columns
    lon, lat = (state.index.lon, state.index.lat) if every else (state.index.lon[rows], state.index.lat[rows])
    if parsed["map_datum"] != "wgs84" and len(rows):
        lon, lat = geo.convert_coords(lon, lat, src="wgs84", dst=parsed["map_datum"])
    body: dict[str, Any] = {"zoom": zoom, "total": len(rows), "metadata": _metadata(state)}
    if len(rows) <= POINTS_LIMIT:
        open_now = state.open_at_rows(rows, hours.resolve_when(None, now=now))
        body["mode"] = "points"
        body["items"] = [
            {"id": str(sid), "name": str(name), "lon": round(x, 7), "lat": round(y, 7), "stars": stars,
             "open": is_open, "honour": honour}
            for sid, name, x, y, stars, is_open, honour in zip(
                state.index.ids[rows].tolist(), state.index.names[rows].tolist(), np.asarray(lon).tolist(),
                np.asarray(lat).tolist(), state.index.stars[rows].tolist(), open_now.tolist(),
                state.best_honours(rows), strict=True)
        ]
        return body
    cell = cluster_cell_deg(zoom, cell_px=CLUSTER_CELL_PX)
    if parsed["map_datum"] == "wgs84" and every:
        counts, sum_lon, sum_lat = state.cluster_totals(cell)
    else:
        if parsed["map_datum"] == "wgs84":
            cell_of, n_cells = state.cluster_cells(cell)
            inverse = cell_of[rows]
        else:
            keys = np.floor(lon / cell).astype(np.int64) * 10_000_000 + np.floor(lat / cell).astype(np.int64)
            _, inverse = np.unique(keys, return_inverse=True)
            inverse, n_cells = inverse.reshape(-1), int(inverse.max()) + 1
        if len(inverse) * 8 < n_cells:  # few stations among many cells: number only the cells they use
            used, inverse = np.unique(inverse, return_inverse=True)
            inverse, n_cells = inverse.reshape(-1), len(used)
        # bincount adds each cell's members in row order, as a per-request np.unique over the rows would
        counts = np.bincount(inverse, minlength=n_cells)
        sum_lon = np.bincount(inverse, weights=lon, minlength=n_cells)
        sum_lat = np.bincount(inverse, weights=lat, minlength=n_cells)
    used = np.flatnonzero(counts)
    mean_lon = sum_lon[used] / counts[used]
    mean_lat = sum_lat[used] / counts[used]
    counts = counts[used]
    body["mode"] = "clusters"
    body["cell_deg"] = cell
    body["items"] = [{"lon": round(x, 6), "lat": round(y, 6), "count": c}
                     for x, y, c in zip(mean_lon.tolist(), mean_lat.tolist(), counts.tolist(), strict=True)
                     if math.isfinite(x) and math.isfinite(y)]
    return body
