"""The station register's storage interface: records with versions, edits with who/when/why, users and tokens.

A `Store` keeps the living register. It knows nothing of validation, districts or permissions (the callers in
`stationmap.editing` and `stationmap.accounts` do that); it guarantees that

- every change is an `Edit` in one transaction with the record before and after, its user, its time and a comment,
  grouped in a changeset (one API call or one import);
- an edit based on a version that is no longer current is refused (`VersionConflictError`), so nothing is ever
  overwritten silently; versions count from 1 per station;
- nothing is deleted: closing a station is an edit that sets ``status`` to ``closed``;
- the register as it was at any past moment can be rebuilt from the edits (`Store.snapshot` with ``as_of``);
- `Store.revision` grows with every committed edit, so each process serving the register can tell cheaply that it
  must refresh.

Times are timezone-aware UTC `datetime` values; features are RFC 7946 Features in WGS-84 (EPSG:4326), lon/lat.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Self

from stationmap.errors import BadRequestError, EditConflictError, StationNotFoundError, VersionConflictError

__all__ = [
    "ACTIONS",
    "FEEDBACK_STATES",
    "FEEDBACK_TRANSITIONS",
    "OPEN_FEEDBACK_STATES",
    "ROLES",
    "SCHEMA_VERSION",
    "Change",
    "Edit",
    "Feedback",
    "FeedbackChange",
    "NthLatest",
    "Snapshot",
    "StationRecord",
    "Store",
    "User",
    "check_change",
    "check_feedback_transition",
    "dump_json",
    "stored_feature",
    "utc_now",
]

#: Version of the database layout; a database of another version is refused with a message.
SCHEMA_VERSION = 1
#: What an edit did to a station.
ACTIONS = ("add", "modify", "close", "reopen", "revert")
#: Roles of user accounts: ``admin`` may do everything, ``editor`` edits stations of their districts only,
#: ``viewer`` may read the history and the planner's tools but not edit.
ROLES = ("admin", "editor", "viewer")
#: States of a worker's feedback report, in queue order (``stationmap.feedback`` has their labels).
FEEDBACK_STATES = ("new", "acknowledged", "resolved", "rejected")
#: The states of a report still owed an answer (the others are final).
OPEN_FEEDBACK_STATES = ("new", "acknowledged")
#: The state changes a report may take: ``new`` may be acknowledged, or closed at once (spam, a confirmation);
#: ``resolved`` and ``rejected`` are final.
FEEDBACK_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("acknowledged", "resolved", "rejected"),
    "acknowledged": ("resolved", "rejected"),
    "resolved": (),
    "rejected": (),
}


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def stored_feature(feature: dict[str, Any]) -> dict[str, Any]:
    """
    The Feature as every backend stores and returns it: type, id, geometry, properties, in that order.

    A plain copy (JSONB reorders object keys, so PostGIS rebuilds it on reading too); the version lives in its own
    column, never in the properties.
    """
    return {"type": "Feature", "id": feature.get("id", feature.get("properties", {}).get("id")),
            "geometry": feature["geometry"], "properties": dict(feature.get("properties") or {})}


def dump_json(value: Any) -> str:
    """Serialise a record for the database: UTF-8 text, Chinese kept as is, keys in the order given."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


@dataclass(frozen=True)
class StationRecord:
    """
    A station as the register holds it now (or held it at the moment a snapshot was taken for).

    Attributes
    ----------
    id
        The station id (``properties.id``).
    version
        1 for a new station, one more with each edit; the HTTP ``ETag``.
    feature
        The RFC 7946 Feature (WGS-84 lon/lat Point); ``properties.status`` is ``closed`` for a closed station.
    district_code
        The county-level district the station is counted in ("" outside China's districts), as
        `stationmap.districts.assign_districts` placed it when the edit was made.
    updated_at
        When the last edit was recorded (UTC).
    """

    id: str
    version: int
    feature: dict[str, Any]
    district_code: str
    updated_at: datetime

    @property
    def status(self) -> str:
        """``open``, ``temporarily_closed`` or ``closed`` (``open`` when the record has none)."""
        return str(self.feature.get("properties", {}).get("status") or "open")


@dataclass(frozen=True)
class Change:
    """
    One change to one station, as a caller asks the store to apply it.

    Attributes
    ----------
    station_id
        The station changed.
    action
        One of `ACTIONS`.
    after
        The whole Feature after the change (already validated by the caller).
    district_code
        The district the station is in after the change ("" outside China's districts).
    expected_version
        The version the change is based on: None only for ``add``; for anything else the store refuses the
        change with `VersionConflictError` unless it equals the current version.
    reverts
        For ``revert``: the id of the edit undone.
    """

    station_id: str
    action: str
    after: dict[str, Any]
    district_code: str
    expected_version: int | None = None
    reverts: int | None = None


@dataclass(frozen=True)
class Edit:
    """
    One committed change: the OSM-changeset-like record of who changed what, when and why.

    Attributes
    ----------
    edit_id
        Position in the register's edit log (grows by one per edit, across all stations).
    changeset_id
        The changeset (one API call or one import) the edit belongs to.
    station_id, action, version
        The station, what was done (`ACTIONS`) and the version it has after the edit.
    user
        The account that made it (``import`` runs name the account given on the command line).
    recorded_at
        When the edit was committed (UTC).
    effective_at
        When the change took effect in the world (UTC): the recorded time unless an import was dated
        (``--effective``); `Store.snapshot` with ``as_of`` uses it.
    comment
        Why, in the editor's words; the changeset's comment.
    before, after
        The whole Feature before (None for an added station) and after.
    district_code
        The district after the edit.
    reverts
        For a ``revert``, the edit it undid.
    """

    edit_id: int
    changeset_id: int
    station_id: str
    action: str
    version: int
    user: str
    recorded_at: datetime
    effective_at: datetime
    comment: str
    before: dict[str, Any] | None
    after: dict[str, Any]
    district_code: str = ""
    reverts: int | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: times as ISO 8601 UTC strings."""
        return {"edit_id": self.edit_id, "changeset_id": self.changeset_id, "station_id": self.station_id,
                "action": self.action, "version": self.version, "user": self.user,
                "recorded_at": _iso(self.recorded_at), "effective_at": _iso(self.effective_at),
                "comment": self.comment, "district_code": self.district_code, "reverts": self.reverts,
                "before": self.before, "after": self.after}


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Snapshot:
    """
    The register at one moment: every station that existed then, closed ones included.

    Attributes
    ----------
    records
        In the order the stations were first added.
    revision
        `Store.revision` the snapshot reflects (for a past moment: the last edit counted).
    metadata
        The ``metadata`` members of the files the register was seeded from (demo notices), in order.
    as_of
        The moment, or None for now.
    """

    records: list[StationRecord]
    revision: int
    metadata: list[dict[str, Any]] = field(default_factory=list)
    as_of: datetime | None = None


@dataclass(frozen=True)
class User:
    """
    An account that may sign in or hold API tokens.

    Attributes
    ----------
    name
        Login name.
    role
        One of `ROLES`.
    districts
        Adcodes an ``editor`` may edit (empty for the other roles).
    password_hash
        The KDF string `stationmap.accounts` wrote ("" for an account without a password: tokens only).
    created_at
        When the account was added.
    disabled
        A disabled account can neither sign in nor use its tokens.
    session_epoch
        Grows when the password changes, so older browser sessions stop working.
    """

    name: str
    role: str
    districts: tuple[str, ...] = ()
    password_hash: str = field(default="", repr=False)
    created_at: datetime | None = None
    disabled: bool = False
    session_epoch: int = 0


@dataclass(frozen=True)
class Feedback:
    """
    A worker's report on a station (a problem, a rating or "here and open"), and where it stands in the queue.

    Attributes
    ----------
    id
        Grows by one per report, across the register (0 before the store has kept it).
    station_id, district_code
        The station reported on, and its district when the report came in (the editors' queue).
    kind
        One of `stationmap.feedback.KINDS`.
    amenity, text, rating
        The amenity reported broken or missing, the worker's words, a 1-5 rating ("", "", None when not given).
    lon, lat
        For ``wrong_location``: where the station really is, WGS-84 degrees (None otherwise).
    phone
        A number for a reply, digits only ("" when not given); shown to editors only.
    client_key
        A keyed hash of the client's address, for the rate limits; never the address.
    created_at, deadline
        When the report came in and by when it must be closed (UTC).
    state, state_changed_at, state_changed_by, note
        Where it stands (`FEEDBACK_STATES`), since when, by whom ("" while ``new``), and the editor's note.
    edit_id
        The edit of the station made when the report was resolved, or None.
    """

    id: int
    station_id: str
    district_code: str
    kind: str
    created_at: datetime
    deadline: datetime
    client_key: str = field(default="", repr=False)
    amenity: str = ""
    text: str = ""
    rating: int | None = None
    lon: float | None = None
    lat: float | None = None
    phone: str = field(default="", repr=False)
    state: str = "new"
    state_changed_at: datetime | None = None
    state_changed_by: str = ""
    note: str = ""
    edit_id: int | None = None

    def state_at(self, now: datetime) -> str:
        """
        Where the report stood at `now` (timezone-aware): its state, or ``new`` if that state was reached later.

        The queue keeps only a report's latest state, so a report moved after `now` is taken as not yet handled
        then; the star review and the reports judge reports as of a past day this way.
        """
        changed = self.state_changed_at
        return self.state if changed is None or changed <= now else "new"


@dataclass(frozen=True)
class FeedbackChange:
    """
    A report's move along the queue, made in the same transaction as an edit (`Store.apply` with ``feedback``).

    Attributes
    ----------
    feedback_id, state, user, note, expected_state, at
        As the arguments of `Store.set_feedback_state`.
    """

    feedback_id: int
    state: str
    user: str
    note: str
    expected_state: str
    at: datetime | None = None



#: ``(since, n, *, client_key=None, station_id=None) -> datetime | None``: `Store.nth_latest_feedback_time` as of
#: the transaction a `Store.add_feedback` check runs in.
NthLatest = Callable[..., "datetime | None"]


class Store(abc.ABC):
    """
    The register's storage, with one implementation per database (`SQLiteStore`, `PostGISStore`).

    Every method is safe to call from several threads; several processes may open the same database. Methods
    raise `StorageError` when the database fails, `StationNotFoundError` for an unknown station, and the
    conflict errors named below; nothing is retried silently.
    """

    url: str

    # --- the register -----------------------------------------------------------------------------------------

    @abc.abstractmethod
    def revision(self) -> int:
        """The id of the last committed edit (0 for an empty register): cheap, for a per-request freshness check."""

    @abc.abstractmethod
    def count(self) -> int:
        """How many stations the register holds, closed ones included."""

    @abc.abstractmethod
    def snapshot(self, *, as_of: datetime | None = None) -> Snapshot:
        """
        Return every station as it is now, or as it was at `as_of` (UTC).

        For a past moment each station is as its last edit with ``effective_at <= as_of`` left it (ties in edit
        order); stations first added later are absent.
        """

    @abc.abstractmethod
    def get(self, station_id: str) -> StationRecord:
        """Return one station as it is now; `StationNotFoundError` if the register never held it."""

    @abc.abstractmethod
    def changed_since(self, revision: int) -> tuple[list[StationRecord], int]:
        """Return the current records of the stations edited after `revision`, and the revision they reflect."""

    @abc.abstractmethod
    def apply(self, changes: Sequence[Change], *, user: str, comment: str,
              effective_at: datetime | None = None, feedback: FeedbackChange | None = None) -> list[Edit]:
        """
        Commit `changes` as one changeset in one transaction: all of them, or none.

        Parameters
        ----------
        changes
            At most one change per station.
        user
            Who makes them.
        comment
            Why (the changeset comment).
        effective_at
            When they took effect (UTC); default now. It may not be earlier than the effective time of a
            station's last edit (history stays in order), else `BadRequestError`.
        feedback
            A report moved in the same transaction (it records the first edit's id): both happen, or neither
            (the errors of `set_feedback_state` too).

        Returns
        -------
        edits
            The committed edits, in the order of `changes`.

        Raises
        ------
        EditConflictError
            If an ``add`` names an id the register holds.
        VersionConflictError
            If a change's ``expected_version`` is not the station's current version (``current`` carries it).
        StationNotFoundError
            If a change other than ``add`` names an unknown station.
        """

    @abc.abstractmethod
    def history(self, station_id: str) -> list[Edit]:
        """Every edit of one station, oldest first; `StationNotFoundError` if it has none."""

    @abc.abstractmethod
    def edit(self, edit_id: int) -> Edit:
        """One edit by id; `StationNotFoundError` if there is none."""

    @abc.abstractmethod
    def recent_edits(self, *, limit: int = 50, before_edit_id: int | None = None) -> list[Edit]:
        """The latest edits of the whole register, newest first (for an audit page)."""

    # --- metadata -------------------------------------------------------------------------------------------

    @abc.abstractmethod
    def get_meta(self, key: str) -> Any:
        """A JSON value kept with the register (None if unset): seed metadata, the session secret ..."""

    @abc.abstractmethod
    def set_meta(self, key: str, value: Any) -> None:
        """Keep a JSON value with the register."""

    @abc.abstractmethod
    def set_meta_if_absent(self, key: str, value: Any) -> Any:
        """Keep `value` under `key` unless one is there; return the value kept (race-free across processes)."""

    # --- accounts -------------------------------------------------------------------------------------------

    @abc.abstractmethod
    def put_user(self, user: User) -> None:
        """Add an account, or replace the one with the same name."""

    @abc.abstractmethod
    def get_user(self, name: str) -> User | None:
        """The account of that name, or None."""

    @abc.abstractmethod
    def users(self) -> list[User]:
        """Every account, by name."""

    @abc.abstractmethod
    def add_token(self, token_hash: str, *, user: str, label: str) -> None:
        """Keep an API token's hash (never the token) for `user`."""

    @abc.abstractmethod
    def token_user(self, token_hash: str) -> User | None:
        """The account holding a token that is not revoked, or None."""

    @abc.abstractmethod
    def revoke_tokens(self, user: str, *, label: str | None = None) -> int:
        """Revoke a user's tokens (those with `label`, or all); return how many."""

    @abc.abstractmethod
    def note_login_failure(self, key: str, at: datetime) -> None:
        """Remember a failed login for `key` (a user name or client address)."""

    @abc.abstractmethod
    def login_failures(self, key: str, since: datetime) -> list[datetime]:
        """Times of the failed logins for `key` since `since`, oldest first."""

    @abc.abstractmethod
    def clear_login_failures(self, key: str) -> None:
        """Forget the failed logins for `key` (after a successful one)."""

    # --- workers' feedback ----------------------------------------------------------------------------------

    @abc.abstractmethod
    def add_feedback(self, report: Feedback, *, check: Callable[[NthLatest], None] | None = None) -> Feedback:
        """
        Keep a report (already checked by `stationmap.feedback`); return it with its new id.

        Parameters
        ----------
        check
            Called inside the write transaction, before the report is kept, with a function answering
            `nth_latest_feedback_time` as of that transaction; what it raises (the rate limits'
            `TooManyAttemptsError`) refuses the report. Reports are kept one at a time, so two concurrent posts
            cannot both pass a limit that has room for one.
        """

    @abc.abstractmethod
    def get_feedback(self, feedback_id: int) -> Feedback:
        """One report by id; `StationNotFoundError` if there is none."""

    @abc.abstractmethod
    def feedback_for(self, district_codes: Sequence[str] | None, *, states: Sequence[str] = (), limit: int = 50,
                     before_id: int | None = None) -> list[Feedback]:
        """
        Return the reports of `district_codes` (None: every district), newest first.

        Parameters
        ----------
        district_codes
            Adcodes whose reports are wanted; None for all.
        states
            Keep only reports in these states (empty: all).
        limit
            At most this many.
        before_id
            Only reports with a smaller id (paging).
        """

    @abc.abstractmethod
    def set_feedback_state(self, feedback_id: int, *, state: str, user: str, note: str, expected_state: str,
                           at: datetime | None = None) -> Feedback:
        """
        Move a report to `state` in one transaction, if it is still in `expected_state`.

        Raises
        ------
        StationNotFoundError
            If there is no such report (404).
        EditConflictError
            If the report is no longer in `expected_state` (someone else moved it; 409).
        BadRequestError
            If `FEEDBACK_TRANSITIONS` does not allow the change (400).
        """

    @abc.abstractmethod
    def nth_latest_feedback_time(self, since: datetime, n: int, *, client_key: str | None = None,
                                 station_id: str | None = None) -> datetime | None:
        """
        Return when the `n`-th newest report after `since` came in, or None if fewer than `n` did.

        With `client_key` only that client's, with `station_id` only that station's, with neither the whole
        register's (the rate limits of `stationmap.feedback.check_rate_limits`: a limit of `n` is reached when this
        is not None, and frees up when this time leaves the window). One index walk of `n` entries, however many
        reports a flood has left.
        """

    @abc.abstractmethod
    def latest_confirmations(self, *, since: datetime | None = None) -> dict[str, datetime]:
        """
        Return, per station id, when its latest ``confirm_open`` report came in (UTC).

        One indexed ``GROUP BY`` (index ``feedback_confirm`` on kind, created_at, station_id), whatever the state
        of the reports; a station nobody confirmed is absent.

        Parameters
        ----------
        since
            Only reports made at or after this time (UTC): a server catching up reads what is new.
        """

    # --- keeping only what is needed -----------------------------------------------------------------------

    @abc.abstractmethod
    def prune(self, *, login_before: datetime, client_key_before: datetime, phone_closed_before: datetime,
              closed_before: datetime) -> dict[str, int]:
        """
        Forget what is no longer needed, in one transaction (times UTC); the policy is `stationmap.retention`'s.

        Deletes failed logins older than `login_before`; blanks the client hash of reports made before
        `client_key_before` (only the rate limits use it); blanks the phone number of reports closed (resolved or
        rejected) before `phone_closed_before`; deletes reports closed before `closed_before`. Open reports are kept.

        Returns
        -------
        counts
            ``login_failures``, ``client_keys``, ``phones``, ``reports``: rows deleted or blanked.
        """

    # --- lifetime -------------------------------------------------------------------------------------------

    @abc.abstractmethod
    def close(self) -> None:
        """Close this process's connections."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_change(change: Change, current: StationRecord | None) -> None:
    """
    Refuse a change the register cannot take; every backend calls this inside its write transaction.

    Raises
    ------
    EditConflictError, StationNotFoundError, VersionConflictError
    """
    if change.action == "add":
        if current is not None:
            msg = (f"Station id {change.station_id!r} is already in the register (version {current.version}, "
                   f"{current.status}); choose another id, or reopen or edit that station.")
            raise EditConflictError(msg)
        return
    if current is None:
        msg = f"No station with id {change.station_id!r} in the register."
        raise StationNotFoundError(msg)
    if change.expected_version != current.version:
        msg = (f"Station {change.station_id!r} is at version {current.version}, not {change.expected_version}: "
               "someone changed it since you loaded it. Reload it, redo your change and send it again.")
        raise VersionConflictError(msg, current=current)


def check_feedback_transition(report: Feedback, state: str, expected_state: str) -> None:
    """
    Refuse a state change of a report the queue does not allow; every backend calls this inside its transaction.

    Raises
    ------
    EditConflictError
        If the report is no longer in `expected_state`.
    BadRequestError
        If `state` is unknown or may not follow the report's state.
    """
    if report.state != expected_state:
        msg = (f"Report {report.id} is {report.state!r} now, not {expected_state!r}: someone changed it since you "
               "loaded it. Reload the queue.")
        raise EditConflictError(msg)
    allowed = FEEDBACK_TRANSITIONS.get(report.state, ())
    if state not in allowed:
        then = ", ".join(allowed) or "nothing (it is closed)"
        msg = f"Report {report.id} is {report.state!r}; it may become {then}, not {state!r}."
        raise BadRequestError(msg)
