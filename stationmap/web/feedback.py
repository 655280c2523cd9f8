"""Workers' feedback under ``/api``: the public report route and the editors' queue, thin routes around
`stationmap.feedback`.

``POST /api/stations/<id>/feedback`` needs no account (and is not CORS-open: only read-only routes are); the queue
(``GET /api/feedback``, ``POST /api/feedback/<id>/state``) is for admins and the editors of the report's district;
a browser session's write needs its CSRF token as every write does (`stationmap.web.auth.current_user`).
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request, url_for

from stationmap import editing, feedback
from stationmap.parameters import BEFORE_FEEDBACK, FEEDBACK_DISTRICT, FEEDBACK_LIMIT, FEEDBACK_STATE
from stationmap.store import Store, utc_now
from stationmap.web import auth
from stationmap.web.edits import json_body
from stationmap.web.jsonutil import json_response
from stationmap.web.params import parse_param

__all__ = ["bp"]

bp = Blueprint("feedback", __name__, url_prefix="/api")


def _store() -> Store:
    return current_app.extensions["stationmap_store"]


def _private(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/stations/<station_id>/feedback")
def submit(station_id: str) -> Response:
    """Report a problem, rate a station or confirm it open, without an account; 201 with the id and deadline."""
    report = feedback.submit_feedback(
        _store(), station_id, json_body(), client=request.remote_addr or "unknown", secret=str(current_app.secret_key),
        deadline_days=current_app.extensions["stationmap"].settings.feedback_deadline_days)
    return _private(json_response({"ok": True, **feedback.public_json(report)}, status=201))


@bp.get("/feedback")
def queue() -> Response:
    """The reports of a district, newest first, with station names, for its editors and admins; ``?state=&before=``."""
    limit = int(parse_param(request.args, FEEDBACK_LIMIT))
    before, state = parse_param(request.args, BEFORE_FEEDBACK), parse_param(request.args, FEEDBACK_STATE)
    reports = feedback.list_feedback(_store(), auth.current_user(), district=parse_param(request.args,
                                     FEEDBACK_DISTRICT), states=[state] if state else [], limit=limit,
                                     before_id=None if before is None else int(before))
    now = utc_now()
    names = feedback.station_names(_store(), [r.station_id for r in reports])
    body: dict[str, object] = {"reports": [feedback.editor_json(r, now, station_name=names[r.station_id])
                                           for r in reports]}
    if len(reports) == limit:
        query: dict[str, object] = {**request.args, "before": reports[-1].id}
        body["next"] = url_for("feedback.queue", _external=True, **query)  # type: ignore[arg-type]
    return _private(json_response(body))


@bp.post("/feedback/<int:feedback_id>/state")
def change(feedback_id: int) -> Response:
    """Move a report along the queue: ``{"state", "note", "expected_state"}``; resolving with ``edit`` + ``if_match``."""
    user = auth.current_user()
    body = json_body()
    settings = current_app.extensions["stationmap"].settings
    report = feedback.change_state(_store(), feedback_id, user, state=str(body.get("state")),
                                   note=body.get("note"), expected_state=body.get("expected_state"),
                                   edit=body.get("edit"), if_match=body.get("if_match"),
                                   places=editing.Places(data_dir=settings.data_dir, cache_dir=settings.cache_dir))
    return _private(json_response(feedback.editor_json(report)))
