"""The register's write API under ``/api``: thin routes around `stationmap.editing`, with ETags and If-Match.

Every change names the version it is based on (``If-Match: "<version>"``, the ``ETag`` of the station): a stale one
gets 412 with the current record, a missing one 428. The user comes from `stationmap.web.auth` (an API token, or a
browser session with its CSRF token); reads of the history need an account, writes an editor of the district or an
admin.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, current_app, request, url_for

from stationmap import editing
from stationmap.errors import AuthenticationError, BadRequestError, PreconditionRequiredError
from stationmap.geo import parse_datum
from stationmap.parameters import BEFORE_EDIT, EDITS_LIMIT
from stationmap.store import Edit, StationRecord, Store, User
from stationmap.web import auth
from stationmap.web.jsonutil import json_response
from stationmap.web.params import parse_param

__all__ = ["bp", "etag", "json_body", "record_feature"]

bp = Blueprint("edits", __name__, url_prefix="/api")
GEOJSON = "application/geo+json"


def _store() -> Store:
    return current_app.extensions["stationmap_store"]


def _places() -> editing.Places:
    settings = current_app.extensions["stationmap"].settings
    return editing.Places(data_dir=settings.data_dir, cache_dir=settings.cache_dir)


def etag(version: int) -> str:
    """The ETag of a station version, quoted as HTTP wants it: ``"3"``."""
    return f'"{int(version)}"'


def _if_match() -> int | None:
    """The version ``If-Match`` names, None if the header is missing; ``*`` and lists are refused."""
    raw = request.headers.get("If-Match")
    if raw is None:
        return None
    text = raw.strip()
    text = text.removeprefix("W/")
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    if not text.isdigit() or len(text) > 12:
        msg = (f"If-Match {raw[:40]!r} names no station version: send the station's ETag as it came, e.g. "
               'If-Match: "3" (a wildcard or a list is not accepted: nothing is overwritten unseen).')
        raise PreconditionRequiredError(msg) if text == "*" else BadRequestError(msg)
    return int(text)


def _writer() -> User:
    """The account making this change; 401/403 before anything of the request is read."""
    return editing.check_may_edit(auth.current_user(), ())


def json_body() -> dict[str, Any]:
    """Return the request's JSON object (at most ``MAX_CONTENT_LENGTH`` bytes)."""
    raw = request.get_data(cache=True)
    try:
        body = json.loads(raw.decode("utf-8")) if raw else None
    except UnicodeDecodeError as err:
        raise BadRequestError("The request body is not UTF-8 text.") from err
    except json.JSONDecodeError as err:
        msg = f"The request body is not JSON: {err.msg} at line {err.lineno}, column {err.colno}."
        raise BadRequestError(msg) from err
    except RecursionError as err:
        raise BadRequestError("The request body is nested too deeply to be a station.") from err
    if not isinstance(body, dict):
        raise BadRequestError("The request body must be a JSON object (a GeoJSON Feature, or its changes).")
    return body


def _datum() -> str:
    """The datum of the coordinates sent (``?datum=gcj02``), WGS-84 when not given."""
    return parse_datum(request.args.get("datum") or "wgs84")


def record_feature(record: StationRecord | Edit) -> dict[str, Any]:
    """The Feature of a register record or of an edit's result, with its version as a top-level member."""
    feature = record.feature if isinstance(record, StationRecord) else record.after
    return {**feature, "version": record.version}


def _answer(edit: Edit, *, status: int = 200) -> Response:
    body = {**record_feature(edit), "edit": {k: v for k, v in edit.to_json().items() if k not in ("before", "after")}}
    response = json_response(body, status=status, mimetype=GEOJSON)
    response.headers["ETag"] = etag(edit.version)
    response.headers["Location"] = url_for("api.station", station_id=edit.station_id)
    return response


@bp.post("/stations")
def add() -> Response:
    """Add a station: a GeoJSON Feature (coordinates in ``?datum=``), with an optional ``comment``."""
    user = _writer()
    body = json_body()
    edit = editing.add_station(_store(), body, user=user, places=_places(), comment=body.get("comment"),
                               datum=_datum())
    return _answer(edit, status=201)


@bp.patch("/stations/<station_id>")
def change(station_id: str) -> Response:
    """Change a station: ``properties`` merged (null removes), ``geometry`` replaced; needs If-Match."""
    user = _writer()
    body = json_body()
    edit = editing.update_station(_store(), station_id, body, user=user, expected_version=_if_match(),
                                  places=_places(), comment=body.get("comment"), datum=_datum())
    return _answer(edit)


@bp.put("/stations/<station_id>")
def replace(station_id: str) -> Response:
    """Replace a station's record whole (a complete Feature); needs If-Match."""
    user = _writer()
    body = json_body()
    edit = editing.update_station(_store(), station_id, body, user=user, expected_version=_if_match(),
                                  places=_places(), comment=body.get("comment"), datum=_datum(), replace=True)
    return _answer(edit)


@bp.delete("/stations/<station_id>")
def close(station_id: str) -> Response:
    """Close a station (it keeps its history and can be reopened); needs If-Match; ``?comment=`` optional."""
    user = _writer()
    edit = editing.close_station(_store(), station_id, user=user, expected_version=_if_match(),
                                 places=_places(), comment=_comment_of_request())
    return _answer(edit)


@bp.post("/stations/<station_id>/reopen")
def reopen(station_id: str) -> Response:
    """Reopen a closed station; needs If-Match."""
    user = _writer()
    edit = editing.reopen_station(_store(), station_id, user=user, expected_version=_if_match(),
                                  places=_places(), comment=_comment_of_request())
    return _answer(edit)


@bp.post("/edits/<int:edit_id>/revert")
def revert(edit_id: int) -> Response:
    """Undo an edit as a new edit; If-Match names the station's current version."""
    user = _writer()
    edit = editing.revert_edit(_store(), edit_id, user=user, expected_version=_if_match(), places=_places(),
                               comment=_comment_of_request())
    return _answer(edit)


def _comment_of_request() -> str | None:
    if request.get_data(cache=True):
        return json_body().get("comment")
    return request.args.get("comment")


@bp.get("/stations/<station_id>/history")
def history(station_id: str) -> Response:
    """Every edit of a station, oldest first (needs an account)."""
    _reader()
    edits = _store().history(station_id)
    return json_response({"station_id": station_id, "version": edits[-1].version,
                          "edits": [e.to_json() for e in edits]})


@bp.get("/edits")
def recent() -> Response:
    """The latest edits of the register, newest first (needs an account); ``?before=EDIT_ID&limit=N`` pages."""
    _reader()
    limit = int(parse_param(request.args, EDITS_LIMIT))
    before = parse_param(request.args, BEFORE_EDIT)
    edits = _store().recent_edits(limit=limit, before_edit_id=None if before is None else int(before))
    body: dict[str, Any] = {"edits": [e.to_json() for e in edits]}
    if len(edits) == limit:
        body["next"] = url_for("edits.recent", before=edits[-1].edit_id, limit=limit, _external=True)
    return json_response(body)


def _reader() -> None:
    """Refuse an anonymous read of the audit trail (401)."""
    if auth.current_user() is None:
        msg = "The edit history needs an account: sign in, or send an API token (Authorization: Bearer ...)."
        raise AuthenticationError(msg)

