"""Edits of the living register: add, change, close, reopen and revert stations, checked and permitted.

Every entry point validates the station as `stationmap validate` would (the same messages), places it in its
district with `districts.assign_districts`, checks that the user may edit that district (before and after a move),
and hands one `store.Change` to the store, which refuses stale versions. Nothing here knows HTTP or the command
line; the web API and the CLI call these functions.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd

from stationmap import geo
from stationmap.districts import assign_districts
from stationmap.errors import (
    AuthenticationError,
    BadRequestError,
    EditConflictError,
    PermissionDeniedError,
    PreconditionRequiredError,
    StationDataError,
    StationNotFoundError,
)
from stationmap.membership import check_features, merge_problems
from stationmap.store import Change, Edit, FeedbackChange, StationRecord, Store, User
from stationmap.validation import ValidationReport, validate_features

__all__ = [
    "COMMENT_MAX_CHARS",
    "Places",
    "add_station",
    "check_comment",
    "check_may_edit",
    "close_station",
    "merge_patch",
    "reopen_station",
    "revert_edit",
    "update_station",
    "validate_station",
]

#: Longest edit comment kept, in characters.
COMMENT_MAX_CHARS = 500
_ID_TRIES = 50  # ids tried when numbering a new station of a district
_SEQ = re.compile(r"^(\d{6})-(\d+)$")


@dataclasses.dataclass(frozen=True)
class Places:
    """
    Where district boundaries come from when a station is placed: ``Settings.data_dir`` and ``cache_dir``.

    Attributes
    ----------
    data_dir
        The product's data folder (bundled boundaries).
    cache_dir
        Folder of converted boundaries, or None.
    """

    data_dir: Path
    cache_dir: Path | None = None


def check_may_edit(user: User | None, district_codes: set[str] | list[str] | tuple[str, ...]) -> User:
    """
    Return the user if they may edit stations of `district_codes`, else refuse.

    An admin may edit every station; an editor only stations in their districts (a move must start and end in
    them; with no codes, any editor passes); a viewer none.

    Raises
    ------
    AuthenticationError
        If there is no user (401).
    PermissionDeniedError
        If the role or the districts do not allow it (403), naming the districts refused.
    """
    if user is None:
        msg = "Editing the register needs an account: sign in, or send an API token (Authorization: Bearer ...)."
        raise AuthenticationError(msg)
    if user.disabled:
        msg = f"Account {user.name!r} is disabled."
        raise PermissionDeniedError(msg)
    if user.role == "admin":
        return user
    if user.role != "editor":
        msg = f"Account {user.name!r} has the role {user.role!r}, which may not edit stations (editor or admin may)."
        raise PermissionDeniedError(msg)
    refused = sorted({c or "(outside every district)" for c in district_codes} - set(user.districts))
    if refused:
        allowed = ", ".join(user.districts) or "none"
        msg = (f"Account {user.name!r} may edit stations of districts {allowed} only, not of "
               f"{', '.join(refused)}.")
        raise PermissionDeniedError(msg)
    return user


def validate_station(feature: Mapping[str, Any], places: Places) -> tuple[dict[str, Any], str, ValidationReport]:
    """
    Check one station as `stationmap validate` checks a file, and find its district.

    Parameters
    ----------
    feature
        A GeoJSON Feature in WGS-84 (lon/lat).
    places
        Where boundaries come from.

    Returns
    -------
    feature, district_code, report
        The Feature normalised (``id`` on the Feature and in its properties), the adcode of the district it is
        counted in ("" outside China's districts), and every problem (warnings included).

    Raises
    ------
    StationDataError
        If the record has errors; ``problems`` lists them all, named ``record``.
    """
    doc = {"type": "FeatureCollection", "features": [feature]}
    report = validate_features(doc, source="record")
    if report.ok():
        report = merge_problems(report, check_features(doc, data_dir=places.data_dir, cache_dir=places.cache_dir))
    problems = tuple(dataclasses.replace(p, where="record") for p in report.problems)
    report = ValidationReport(problems, 1, "record")
    if not report.ok():
        raise StationDataError(report.message(limit=50), problems=problems)
    props = dict(feature["properties"])
    sid = str(props["id"])
    lon, lat = (float(v) for v in feature["geometry"]["coordinates"][:2])
    frame = gpd.GeoDataFrame({"district_code": [props.get("district_code")], "district": [props.get("district")]},
                             geometry=gpd.points_from_xy([lon], [lat]), crs=geo.WGS84)
    code = str(assign_districts(frame, data_dir=places.data_dir, cache_dir=places.cache_dir).codes[0] or "")
    clean = {"type": "Feature", "id": sid, "geometry": {"type": "Point", "coordinates": [lon, lat]},
             "properties": props}
    return clean, code, report


def check_comment(comment: str | None) -> str:
    """
    Return an edit comment stripped, or refuse it: at most `COMMENT_MAX_CHARS` characters, no control characters.

    Raises
    ------
    BadRequestError
        If it is too long or holds control characters (tab and newline are fine).
    """
    text = str(comment or "").strip()
    if len(text) > COMMENT_MAX_CHARS:
        msg = f"comment has {len(text)} characters; at most {COMMENT_MAX_CHARS} are kept."
        raise BadRequestError(msg)
    if any(ord(ch) < 32 and ch not in "\n\t" for ch in text):
        msg = "comment contains control characters; write plain text."
        raise BadRequestError(msg)
    return text


def _to_wgs84(geometry: Any, datum: str) -> Any:
    """A Point's coordinates converted from `datum` to WGS-84; anything else as given (validation names it)."""
    if not isinstance(geometry, Mapping) or geometry.get("type") != "Point":
        return geometry
    coords = geometry.get("coordinates")
    if geo.parse_datum(datum) == "wgs84" or not isinstance(coords, (list, tuple)) or len(coords) < 2 \
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in coords[:2]):
        return dict(geometry)
    lon, lat = geo.convert_coords(float(coords[0]), float(coords[1]), src=datum, dst="wgs84")
    return {"type": "Point", "coordinates": [round(float(lon), 7), round(float(lat), 7)]}


def _require_version(expected_version: int | None) -> int:
    if expected_version is None:
        msg = ("A change to a station must say which version it is based on (HTTP header If-Match with the "
               "station's ETag); fetch the station first.")
        raise PreconditionRequiredError(msg)
    return int(expected_version)


def merge_patch(target: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """
    Apply a JSON Merge Patch (RFC 7396) to station properties: a value replaces, ``null`` removes.

    Nested objects merge the same way; lists are replaced whole.
    """
    out = dict(target)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge_patch(out[key], value)
        else:
            out[key] = value
    return out


def _new_id(store: Store, district_code: str) -> str:
    """The next free ``<adcode>-NNN`` id of a district (tries a few numbers past the register's count)."""
    prefix = district_code or "000000"
    n = max(1, store.count() + 1)
    for candidate in range(n, n + _ID_TRIES):
        sid = f"{prefix}-{candidate:03d}"
        try:
            store.get(sid)
        except StationNotFoundError:
            return sid
    msg = f"Could not find a free station id of district {prefix}; give the new station an id."
    raise EditConflictError(msg)


def add_station(store: Store, feature: Mapping[str, Any], *, user: User | None, places: Places,
                comment: str | None = None, datum: str = "wgs84") -> Edit:
    """
    Add a station to the register.

    Parameters
    ----------
    store
        The register.
    feature
        A GeoJSON Feature; its coordinates in `datum`. Without an id it gets the next ``<adcode>-NNN`` of its
        district. ``status`` defaults to ``open``.
    user
        Who adds it (admin, or editor of its district).
    places
        Where boundaries come from.
    comment
        Why (kept with the edit).
    datum
        ``wgs84``, ``gcj02`` or ``bd09``: the datum of the coordinates given; stored coordinates are WGS-84.

    Returns
    -------
    edit
        The committed edit (version 1).

    Raises
    ------
    StationDataError
        If the record is invalid (``problems`` lists every problem).
    EditConflictError
        If the id is taken.
    AuthenticationError, PermissionDeniedError
        If the user may not add a station there.
    """
    text = check_comment(comment)
    if not isinstance(feature, Mapping):
        raise StationDataError("A station must be a GeoJSON Feature object.")
    props = dict(feature.get("properties") or {}) if isinstance(feature.get("properties"), Mapping) else {}
    given_id = props.get("id", feature.get("id"))
    props.setdefault("status", "open")
    props.pop("version", None)
    draft = {"type": "Feature", "geometry": _to_wgs84(feature.get("geometry"), datum), "properties": props}
    writer = check_may_edit(user, ())
    if given_id in (None, ""):
        props["id"] = "000000-000"  # a placeholder to validate the rest; replaced by the district's next id
        clean, code, _ = validate_station(draft, places)
        sid = _new_id(store, code)
        clean["id"] = sid
        clean["properties"]["id"] = sid
    else:
        props["id"] = given_id
        clean, code, _ = validate_station(draft, places)
    check_may_edit(user, {code})
    return store.apply([Change(clean["id"], "add", clean, code)], user=writer.name, comment=text)[0]


def update_station(store: Store, station_id: str, patch: Mapping[str, Any], *, user: User | None,
                   expected_version: int | None, places: Places, comment: str | None = None,
                   datum: str = "wgs84", replace: bool = False, feedback: FeedbackChange | None = None) -> Edit:
    """
    Change a station: a partial Feature whose ``properties`` merge into the record (RFC 7396) and/or a new geometry.

    Parameters
    ----------
    store
        The register.
    station_id
        The station.
    patch
        ``{"properties": {...}}`` and/or ``{"geometry": {"type": "Point", "coordinates": [lon, lat]}}`` in
        `datum`. ``properties.id`` cannot change. Setting ``status`` to ``closed`` closes the station; to
        ``open`` reopens it.
    user
        Who changes it (admin, or editor of its district before and after the change).
    expected_version
        The version the change is based on (the ``If-Match`` ETag).
    places, comment, datum
        As in `add_station`.
    replace
        Replace the record whole (HTTP ``PUT``): `patch` is a complete Feature, with ``properties`` and
        ``geometry``; fields it leaves out are removed.
    feedback
        A worker's report moved along the queue in the same transaction (`stationmap.feedback.change_state`
        resolving with an edit): if either is refused, neither happens.

    Raises
    ------
    PreconditionRequiredError
        If `expected_version` is None (428).
    VersionConflictError
        If the station has changed since that version (412, with the current record).
    StationDataError, StationNotFoundError, AuthenticationError, PermissionDeniedError
    """
    writer = check_may_edit(user, ())
    version = _require_version(expected_version)
    text = check_comment(comment)
    if not isinstance(patch, Mapping) or not ({"properties", "geometry"} & set(patch)):
        msg = 'A change needs "properties" (fields to set; null removes one) and/or "geometry".'
        raise BadRequestError(msg)
    extra = sorted(set(patch) - {"type", "id", "properties", "geometry", "comment"})
    if extra:
        msg = f"Unknown members {', '.join(map(repr, extra))}: a change has properties, geometry and comment."
        raise BadRequestError(msg)
    given = patch.get("properties", {})
    if not isinstance(given, Mapping):
        raise StationDataError('"properties" must be an object of fields to set.')
    if "id" in given and given["id"] != station_id:
        msg = f"A station's id cannot change ({station_id!r} to {given['id']!r}); close it and add a new one."
        raise StationDataError(msg)
    if replace and not {"properties", "geometry"} <= set(patch):
        msg = 'Replacing a station needs the whole Feature: "properties" and "geometry".'
        raise BadRequestError(msg)
    current = store.get(station_id)
    base = {} if replace else current.feature["properties"]
    props = merge_patch(base, {k: v for k, v in given.items() if k != "version"})
    props["id"] = station_id
    geometry = _to_wgs84(patch["geometry"], datum) if "geometry" in patch else current.feature["geometry"]
    clean, code, _ = validate_station({"type": "Feature", "geometry": geometry, "properties": props}, places)
    check_may_edit(user, {current.district_code, code})
    action = _status_action(current, clean)
    return store.apply([Change(station_id, action, clean, code, expected_version=version)],
                       user=writer.name, comment=text, feedback=feedback)[0]


def _status_action(current: StationRecord, after: Mapping[str, Any]) -> str:
    before, now = current.status, str(after["properties"].get("status") or "open")
    if now == "closed" and before != "closed":
        return "close"
    if before == "closed" and now != "closed":
        return "reopen"
    return "modify"


def close_station(store: Store, station_id: str, *, user: User | None, expected_version: int | None,
                  places: Places, comment: str | None = None) -> Edit:
    """
    Close a station: it stays in the register with its history (``status`` = ``closed``) and can be reopened.

    Raises
    ------
    BadRequestError
        If it is closed already.
    PreconditionRequiredError, VersionConflictError, StationNotFoundError, AuthenticationError, PermissionDeniedError
    """
    check_may_edit(user, ())
    _require_version(expected_version)
    if store.get(station_id).status == "closed":
        msg = f"Station {station_id!r} is closed already; reopen it with POST /api/stations/{station_id}/reopen."
        raise BadRequestError(msg)
    return update_station(store, station_id, {"properties": {"status": "closed"}}, user=user,
                          expected_version=expected_version, places=places, comment=comment)


def reopen_station(store: Store, station_id: str, *, user: User | None, expected_version: int | None,
                   places: Places, comment: str | None = None) -> Edit:
    """
    Reopen a closed station (``status`` = ``open``).

    Raises
    ------
    BadRequestError
        If it is not closed.
    PreconditionRequiredError, VersionConflictError, StationNotFoundError, AuthenticationError, PermissionDeniedError
    """
    check_may_edit(user, ())
    _require_version(expected_version)
    if store.get(station_id).status != "closed":
        msg = f"Station {station_id!r} is not closed; there is nothing to reopen."
        raise BadRequestError(msg)
    return update_station(store, station_id, {"properties": {"status": "open"}}, user=user,
                          expected_version=expected_version, places=places, comment=comment)


def revert_edit(store: Store, edit_id: int, *, user: User | None, expected_version: int | None, places: Places,
                comment: str | None = None) -> Edit:
    """
    Undo an edit as a new edit: the station goes back to the record before it (an added station is closed).

    The revert is based on the station's current version (`expected_version`), so it never silently undoes
    changes made after the edit reverted: the caller sees the current record first.

    Raises
    ------
    PreconditionRequiredError, VersionConflictError, StationNotFoundError, AuthenticationError, PermissionDeniedError
    StationDataError
        If the record before the edit no longer validates (e.g. its district rules changed).
    """
    writer = check_may_edit(user, ())
    version = _require_version(expected_version)
    text = check_comment(comment) or f"revert edit {edit_id}"
    edit = store.edit(edit_id)
    current = store.get(edit.station_id)
    if edit.before is None:
        target = {**current.feature, "properties": {**current.feature["properties"], "status": "closed"}}
    else:
        target = edit.before
    clean, code, _ = validate_station(target, places)
    check_may_edit(user, {current.district_code, code})
    return store.apply([Change(edit.station_id, "revert", clean, code, expected_version=version,
                               reverts=int(edit_id))], user=writer.name, comment=text)[0]
