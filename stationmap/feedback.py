"""Workers' feedback on stations: reports checked, rate-limited and queued for the editors of their district.

A worker reports a problem (`KINDS`), rates a station 1-5 or confirms it "here and open", without an account. A
report is kept with a keyed hash of the client's address (never the address) and, if given, a phone number for a
reply that only editors see. Each report gets a deadline in working days (Monday to Friday, Asia/Shanghai; public
holidays are not known) and moves ``new`` -> ``acknowledged`` -> ``resolved`` or ``rejected``
(`stationmap.store.FEEDBACK_TRANSITIONS`). A ``confirm_open`` asks nothing of the editors and is kept ``resolved``
at once. Nothing here knows HTTP; `stationmap.web.feedback` calls these functions.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import math
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from stationmap import editing, geo
from stationmap.errors import (
    AuthenticationError,
    BadRequestError,
    DatumError,
    PermissionDeniedError,
    StationNotFoundError,
    TooManyAttemptsError,
)
from stationmap.files import neutralise_formula
from stationmap.parameters import (
    FEEDBACK_CLIENT_PER_HOUR,
    FEEDBACK_PHONE_MAX_DIGITS,
    FEEDBACK_REGISTER_PER_DAY,
    FEEDBACK_STATION_PER_DAY,
    FEEDBACK_TEXT_MAX_CHARS,
)
from stationmap.schema import AMENITIES, Term, Vocabulary
from stationmap.store import (
    FEEDBACK_STATES,
    OPEN_FEEDBACK_STATES,
    Feedback,
    FeedbackChange,
    NthLatest,
    StationRecord,
    Store,
    User,
    utc_now,
)

__all__ = [
    "KINDS",
    "STATES",
    "change_state",
    "check_rate_limits",
    "check_report",
    "client_key",
    "edit_comment",
    "editor_json",
    "is_overdue",
    "list_feedback",
    "public_json",
    "queue_rows",
    "reports_on",
    "select_reports",
    "station_names",
    "submit_feedback",
    "working_deadline",
]

#: What a worker may report, with the labels the page shows.
KINDS = Vocabulary("feedback kind", (
    Term("broken_facility", "设施损坏或缺失", "A listed amenity is broken or missing"),
    Term("closed_at_stated_hours", "开放时间内未开门", "Closed at its stated hours"),
    Term("wrong_location", "位置不对", "Wrong location"),
    Term("unsafe_or_dirty", "不安全或不卫生", "Unsafe or dirty"),
    Term("confirm_open", "在这里，开着", "Here and open"),
    Term("other", "其他", "Other"),
))
#: The queue's states with their labels (the order of `stationmap.store.FEEDBACK_STATES`).
STATES = Vocabulary("feedback state", (
    Term("new", "新报告", "New"),
    Term("acknowledged", "已受理", "Acknowledged"),
    Term("resolved", "已解决", "Resolved"),
    Term("rejected", "已驳回", "Rejected"),
))
_SHANGHAI = ZoneInfo("Asia/Shanghai")
_MEMBERS = ("kind", "amenity", "text", "rating", "location", "phone")


def _control_free(text: str) -> bool:
    """Whether `text` has no control characters (NUL, escape, DEL, C1) other than newline and tab."""
    return not any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in text)


def _text(value: Any, name: str, problems: list[str]) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        problems.append(f"{name} must be text, got {type(value).__name__}")
        return ""
    text = value.strip()
    if len(text) > FEEDBACK_TEXT_MAX_CHARS:
        problems.append(f"{name} has {len(text)} characters; at most {FEEDBACK_TEXT_MAX_CHARS} are kept")
    elif not _control_free(text):
        problems.append(f"{name} contains control characters; write plain text")
    return text


def _location(value: Any, problems: list[str]) -> tuple[float | None, float | None]:
    if not isinstance(value, Mapping) or set(value) - {"lon", "lat", "datum"}:
        problems.append('location must be {"lon": ..., "lat": ..., "datum": "wgs84"} (datum optional)')
        return None, None
    lon, lat = value.get("lon"), value.get("lat")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in (lon, lat)):
        problems.append("location needs numbers lon and lat")
        return None, None
    if not (-180 <= float(lon) <= 180 and -90 <= float(lat) <= 90):  # type: ignore[arg-type]
        problems.append(f"location lon {lon} / lat {lat} is outside -180..180 / -90..90 degrees")
        return None, None
    try:
        datum = geo.parse_datum(str(value.get("datum") or "wgs84")[:40])
    except DatumError as err:
        problems.append(f"location: {err}")
        return None, None
    out = geo.convert_coords(float(lon), float(lat), src=datum, dst="wgs84")  # type: ignore[arg-type]
    return float(out[0]), float(out[1])


def check_report(body: Mapping[str, Any], station: StationRecord) -> dict[str, Any]:
    """
    Check what a worker sent about `station`, every problem at once.

    Parameters
    ----------
    body
        ``kind`` (one of `KINDS`), and as they apply ``amenity`` (required for ``broken_facility``: one of the
        station's listed amenities), ``text`` (required for ``other``; at most 500 characters, no control
        characters), ``rating`` (a whole number 1-5, with any kind), ``location`` (required for
        ``wrong_location``: ``{"lon", "lat", "datum"}``, datum WGS-84 unless given) and ``phone`` (digits only, at
        most 20).
    station
        The station reported on.

    Returns
    -------
    fields
        ``kind``, ``amenity``, ``text``, ``rating``, ``lon``, ``lat`` (WGS-84 degrees) and ``phone``, normalised.

    Raises
    ------
    BadRequestError
        Naming every problem.
    """
    problems: list[str] = []
    unknown = sorted(str(k)[:40] for k in body if k not in _MEMBERS)
    if unknown:
        problems.append(f"unknown member(s) {', '.join(map(repr, unknown))} (expected: {', '.join(_MEMBERS)})")
    kind = body.get("kind")
    if kind not in KINDS:
        problems.append(KINDS.unknown_message(str(kind)[:40]))
    amenity = body.get("amenity")
    listed = [str(a) for a in station.feature.get("properties", {}).get("amenities") or ()]
    if kind == "broken_facility":
        if amenity not in listed:
            problems.append(f"amenity must be one of the station's listed amenities ({', '.join(listed) or 'none'}),"
                            f" got {str(amenity)[:40]!r}")
    elif amenity is not None:
        problems.append("amenity applies to kind 'broken_facility' only")
    text = _text(body.get("text"), "text", problems)
    if kind == "other" and not text:
        problems.append("kind 'other' needs a short text")
    rating = body.get("rating")
    if rating is not None and (not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5):
        problems.append(f"rating must be a whole number from 1 to 5, got {str(rating)[:20]!r}")
    lon = lat = None
    if kind == "wrong_location":
        if body.get("location") is None:
            problems.append("kind 'wrong_location' needs a location (tap the map)")
        else:
            lon, lat = _location(body["location"], problems)
    elif body.get("location") is not None:
        problems.append("location applies to kind 'wrong_location' only")
    phone = body.get("phone")
    if phone is not None and (not isinstance(phone, str) or not phone.isascii() or not phone.isdigit()
                              or len(phone) > FEEDBACK_PHONE_MAX_DIGITS):
        problems.append(f"phone must be digits only, at most {FEEDBACK_PHONE_MAX_DIGITS} of them")
    if problems:
        msg = f"Feedback on station {station.id!r} refused: " + "; ".join(problems) + "."
        raise BadRequestError(msg)
    return {"kind": kind, "amenity": amenity or "", "text": text, "rating": rating, "lon": lon, "lat": lat,
            "phone": phone or ""}


def client_key(address: str, secret: str) -> str:
    """Return the keyed hash (HMAC-SHA256, hex) the rate limits count a client by; the address is not kept."""
    return hmac.new(secret.encode(), address.encode(), hashlib.sha256).hexdigest()


def working_deadline(created_at: datetime, days: int) -> datetime:
    """
    Return the end of the `days`-th working day (Monday to Friday, Asia/Shanghai) after `created_at`, in UTC.

    A report of Friday 10:00 with 3 days is due at the end of Wednesday (Thursday 00:00 Asia/Shanghai).
    """
    day = created_at.astimezone(_SHANGHAI).date()
    left = days
    while left:
        day += timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=_SHANGHAI)
    return end.astimezone(created_at.tzinfo or _SHANGHAI)


def is_overdue(report: Feedback, now: datetime | None = None) -> bool:
    """Whether a report still open (``new`` or ``acknowledged``) is past its deadline at `now` (default now)."""
    return report.state in OPEN_FEEDBACK_STATES and (now or utc_now()) > report.deadline


def _limit(nth_latest: datetime | None, limit: int, window: timedelta, now: datetime, what: str) -> None:
    if nth_latest is not None:
        frees_at = nth_latest + window  # the oldest report that counts leaves the window
        retry_after_s = max(1, math.ceil((frees_at - now).total_seconds()))
        msg = f"Too many reports {what}; try again in {max(1, math.ceil(retry_after_s / 60))} minute(s)."
        raise TooManyAttemptsError(msg, retry_after_s=retry_after_s)


def check_rate_limits(nth_latest: NthLatest, *, key: str, station_id: str, now: datetime) -> None:
    """
    Refuse a report beyond the limits: 10 per client per hour, 100 per station and 5,000 per register per day.

    Parameters
    ----------
    nth_latest
        `Store.nth_latest_feedback_time`, or the function `Store.add_feedback` passes its check inside the
        transaction that keeps the report (so concurrent posts cannot overshoot a limit).

    Raises
    ------
    TooManyAttemptsError
        With ``retry_after_s`` (429, ``Retry-After``).
    """
    hour, day = timedelta(hours=1), timedelta(days=1)
    _limit(nth_latest(now - hour, FEEDBACK_CLIENT_PER_HOUR, client_key=key),
           FEEDBACK_CLIENT_PER_HOUR, hour, now, f"from this address ({FEEDBACK_CLIENT_PER_HOUR} an hour)")
    _limit(nth_latest(now - day, FEEDBACK_STATION_PER_DAY, station_id=station_id),
           FEEDBACK_STATION_PER_DAY, day, now, f"on this station ({FEEDBACK_STATION_PER_DAY} a day)")
    _limit(nth_latest(now - day, FEEDBACK_REGISTER_PER_DAY),
           FEEDBACK_REGISTER_PER_DAY, day, now, f"today ({FEEDBACK_REGISTER_PER_DAY} a day for the register)")


def submit_feedback(store: Store, station_id: str, body: Mapping[str, Any], *, client: str, secret: str,
                    deadline_days: int, now: datetime | None = None) -> Feedback:
    """
    Check, rate-limit and keep a worker's report on a station.

    Parameters
    ----------
    store
        The register.
    station_id
        The station reported on (must be in the register).
    body
        What the worker sent (see `check_report`).
    client, secret
        The client's address and the key its hash is made with (`client_key`).
    deadline_days
        Working days to the deadline (``Settings.feedback_deadline_days``).
    now
        The current time (UTC; for tests).

    Raises
    ------
    StationNotFoundError, BadRequestError, TooManyAttemptsError
    """
    now = now or utc_now()
    station = store.get(station_id)
    fields = check_report(body, station)
    key = client_key(client, secret)
    done = fields["kind"] == "confirm_open"  # asks nothing of the editors
    return store.add_feedback(Feedback(
        id=0, station_id=station.id, district_code=station.district_code, created_at=now,
        deadline=now if done else working_deadline(now, deadline_days), client_key=key,
        state="resolved" if done else "new", state_changed_at=now if done else None, **fields),
        check=functools.partial(check_rate_limits, key=key, station_id=station.id, now=now))


def _check_handler(user: User | None, district_codes: Sequence[str]) -> User:
    """The user if they may see and handle the reports of `district_codes` (admin, or editor of all of them)."""
    if user is None:
        raise AuthenticationError("The feedback queue needs an account: sign in, or send an API token.")
    if user.disabled or user.role not in ("admin", "editor"):
        msg = f"Account {user.name!r} ({user.role}) may not handle workers' reports (editor or admin may)."
        raise PermissionDeniedError(msg)
    refused = sorted({c or "(outside every district)" for c in district_codes} - set(user.districts))
    if user.role == "editor" and refused:
        msg = (f"Account {user.name!r} handles the reports of districts {', '.join(user.districts) or 'none'} only, "
               f"not of {', '.join(refused)}.")
        raise PermissionDeniedError(msg)
    return user


def list_feedback(store: Store, user: User | None, *, district: str | None = None, states: Sequence[str] = (),
                  limit: int = 50, before_id: int | None = None) -> list[Feedback]:
    """
    Return the reports of one district (or every district the user handles), newest first.

    Admins see every district; editors theirs; viewers and anonymous users none.

    Raises
    ------
    AuthenticationError
        Without an account (401).
    PermissionDeniedError
        For a viewer, or an editor asking for another district (403).
    """
    handler = _check_handler(user, [district] if district else [])
    codes = [district] if district else (None if handler.role == "admin" else list(handler.districts))
    return store.feedback_for(codes, states=states, limit=limit, before_id=before_id)


def edit_comment(report: Feedback, note: str = "") -> str:
    """
    The comment of the edit that resolves `report`: ``反馈 #12: `` and the editor's note, else the kind (and amenity).

    At most `editing.COMMENT_MAX_CHARS` characters (a long note is cut with an ellipsis).
    """
    amenity = AMENITIES.label(report.amenity, "zh") if report.amenity in AMENITIES else report.amenity
    what = note or KINDS.label(report.kind, "zh") + (f"（{amenity}）" if amenity else "")
    text = f"反馈 #{report.id}: {what}"
    limit = editing.COMMENT_MAX_CHARS
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _version(value: Any) -> int | None:
    """The station version ``if_match`` names: a whole number, or its ETag text (``"3"``); None if not given."""
    if value is None:
        return None
    text = str(value).strip().removeprefix("W/").strip('"') if isinstance(value, str) else value
    if isinstance(text, bool) or not (isinstance(text, int) or (isinstance(text, str) and text.isdigit()
                                                                 and len(text) <= 12)):
        msg = f"if_match must be the station's version (a whole number, its ETag), got {str(value)[:40]!r}."
        raise BadRequestError(msg)
    return int(text)


def change_state(store: Store, feedback_id: int, user: User | None, *, state: str, note: str | None = None,
                 expected_state: str | None = None, now: datetime | None = None,
                 edit: Mapping[str, Any] | None = None, if_match: Any = None,
                 places: editing.Places | None = None) -> Feedback:
    """
    Move a report along the queue, as an admin or an editor of its district; resolving may edit the station.

    Parameters
    ----------
    expected_state
        The state the editor saw; a report moved since is refused (409). Default: its state now.
    edit
        With ``state="resolved"`` only: a change of the reported station as `editing.update_station` takes it
        (``{"properties": {...merge patch...}, "geometry": {...}}``, WGS-84 lon/lat), made as a normal edit
        whose comment names the report (`edit_comment`); the report records its id. The edit and the state
        change happen in one transaction: if either is refused, neither happens.
    if_match
        The station version the edit is based on (its ETag); required with `edit` (428 without, 412 if stale).
    places
        Where district boundaries come from; required with `edit`.

    Raises
    ------
    AuthenticationError, PermissionDeniedError, StationNotFoundError, EditConflictError
    BadRequestError
        For an unknown state, a transition the queue does not allow, an edit with a state other than
        ``resolved``, or a note too long or with control characters.
    PreconditionRequiredError, VersionConflictError, StationDataError
        From the edit, as the edit API gives them (428, 412, 422).
    """
    if user is None:
        _check_handler(user, ())
    report = store.get_feedback(feedback_id)
    handler = _check_handler(user, [report.district_code])
    if state not in FEEDBACK_STATES:
        raise BadRequestError(STATES.unknown_message(str(state)[:40]) + ".")
    problems: list[str] = []
    text = _text(note, "note", problems)
    if state == "rejected" and not text and not problems:
        problems.append(f"Rejecting report {feedback_id} needs a note saying why (the worker's report is evidence "
                        "for the star review)")
    if problems:
        raise BadRequestError(problems[0] + ".")
    move = FeedbackChange(feedback_id, state=state, user=handler.name, note=text,
                          expected_state=expected_state or report.state, at=now)
    if edit is None:
        return store.set_feedback_state(feedback_id, state=move.state, user=move.user, note=move.note,
                                        expected_state=move.expected_state, at=now)
    if state != "resolved":
        msg = f"An edit of the station goes with state 'resolved' only, not {str(state)[:40]!r}."
        raise BadRequestError(msg)
    if not isinstance(edit, Mapping):
        raise BadRequestError('"edit" must be an object: {"properties": {...}} and/or {"geometry": {...}}.')
    if places is None:
        msg = "Resolving with an edit needs to know where district boundaries come from (places)."
        raise BadRequestError(msg)
    editing.update_station(store, report.station_id, edit, user=user, expected_version=_version(if_match),
                           places=places, comment=edit_comment(report, text), feedback=move)
    return store.get_feedback(feedback_id)


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.astimezone(_SHANGHAI).isoformat()


def public_json(report: Feedback) -> dict[str, Any]:
    """What the worker who sent a report gets back: id, station, kind, state and deadline; never the phone."""
    return {"id": report.id, "station_id": report.station_id, "kind": report.kind, "state": report.state,
            "created_at": _iso(report.created_at), "deadline": _iso(report.deadline)}


def editor_json(report: Feedback, now: datetime | None = None, *, station_name: str | None = None) -> dict[str, Any]:
    """A report as the editors' queue shows it: everything but the client hash, with ``overdue`` (and the name)."""
    return {**public_json(report), "station_name": station_name, "district_code": report.district_code,
            "amenity": report.amenity or None,
            "text": report.text, "rating": report.rating,
            "location": None if report.lon is None else {"lon": report.lon, "lat": report.lat},
            "phone": report.phone or None, "state_changed_at": _iso(report.state_changed_at),
            "state_changed_by": report.state_changed_by or None, "note": report.note,
            "edit_id": report.edit_id, "overdue": is_overdue(report, now)}


def station_names(store: Store, station_ids: Sequence[str]) -> dict[str, str]:
    """The current name of each station reported on ("" for one the register no longer holds)."""
    names: dict[str, str] = {}
    for sid in dict.fromkeys(station_ids):
        try:
            names[sid] = str(store.get(sid).feature.get("properties", {}).get("name") or "")
        except StationNotFoundError:
            names[sid] = ""
    return names


def select_reports(store: Store, *, district: str | None = None, states: Sequence[str] = (), overdue: bool = False,
                   now: datetime | None = None, page: int = 500) -> list[Feedback]:
    """
    Return every report of `district` (None: all districts) in `states` (empty: all), newest first.

    For the command line, which reads the register directly (no account: whoever holds the database URL reads it
    all). With `overdue`, only reports still open and past their deadline at `now` (default now).
    """
    wanted = [s for s in (states or FEEDBACK_STATES) if not overdue or s in OPEN_FEEDBACK_STATES]
    if not wanted:
        return []
    out: list[Feedback] = []
    before: int | None = None
    while True:
        batch = store.feedback_for([district] if district else None, states=wanted, limit=page, before_id=before)
        out.extend(r for r in batch if not overdue or is_overdue(r, now))
        if len(batch) < page:
            return out
        before = batch[-1].id


def reports_on(store: Store, station_ids: Iterable[str], district_codes: Sequence[str] | None, *,
               page: int = 1000) -> list[Feedback]:
    """
    Return every report, in any state, on the stations `station_ids`, newest first.

    Read page by page from the reports of `district_codes` (None: every district), for the star review
    (`stationmap.analysis.rating.feedback_triggers`) and the district reports' feedback figures.
    """
    ids = {str(i) for i in station_ids}
    out: list[Feedback] = []
    before: int | None = None
    while True:
        batch = store.feedback_for(district_codes, limit=page, before_id=before)
        out.extend(r for r in batch if r.station_id in ids)
        if len(batch) < page:
            return out
        before = batch[-1].id


def queue_rows(reports: Sequence[Feedback], names: Mapping[str, str], *, lang: str = "zh",
               now: datetime | None = None, spreadsheet: bool = False) -> list[dict[str, Any]]:
    """
    The reports as flat rows for a table or CSV: ids, labels in `lang`, times in China time, ``overdue``.

    Parameters
    ----------
    names
        Station id -> name (`station_names`).
    spreadsheet
        Quote text a spreadsheet would run as a formula (CSV for Excel or WPS), as `stationmap export` does.
    """
    now = now or utc_now()
    rows = []
    for r in reports:
        row = {"id": r.id, "state": r.state, "state_label": STATES.label(r.state, lang), "overdue": is_overdue(r, now),
               "created_at": _iso(r.created_at), "deadline": _iso(r.deadline), "district_code": r.district_code,
               "station_id": r.station_id, "station_name": names.get(r.station_id, ""), "kind": r.kind,
               "kind_label": KINDS.label(r.kind, lang), "amenity": r.amenity,
               "amenity_label": AMENITIES.label(r.amenity, lang) if r.amenity in AMENITIES else r.amenity,
               "rating": r.rating, "text": r.text, "phone": r.phone, "note": r.note,
               "state_changed_at": _iso(r.state_changed_at), "state_changed_by": r.state_changed_by,
               "edit_id": r.edit_id}
        rows.append({k: neutralise_formula(v) for k, v in row.items()} if spreadsheet else row)
    return rows
