"""The embedded register: one SQLite file in WAL mode, one transaction per changeset, fsync on every commit.

WAL lets the server's readers go on while one writer commits, and several processes (gunicorn workers, a
``stationmap import --into`` run) share the file; ``BEGIN IMMEDIATE`` takes the write lock before a changeset reads
the versions it checks, so two edits of one station cannot both pass the check. ``synchronous=FULL`` makes a
commit durable before the edit is acknowledged.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stationmap.errors import BadRequestError, StationNotFoundError, StorageError
from stationmap.store.base import (
    SCHEMA_VERSION,
    Change,
    Edit,
    Feedback,
    FeedbackChange,
    NthLatest,
    Snapshot,
    StationRecord,
    Store,
    User,
    check_change,
    check_feedback_transition,
    dump_json,
    stored_feature,
    utc_now,
)

__all__ = ["SQLiteStore", "sqlite_path"]

_BUSY_TIMEOUT_MS = 30_000  # a writer waits this long for another process's commit before giving up

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS stations (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    version INTEGER NOT NULL,
    status TEXT NOT NULL,
    lon REAL NOT NULL,
    lat REAL NOT NULL,
    district_code TEXT NOT NULL,
    feature TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    effective_at TEXT NOT NULL,
    last_edit INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS stations_last_edit ON stations (last_edit);
CREATE TABLE IF NOT EXISTS changesets (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user TEXT NOT NULL,
    created_at TEXT NOT NULL,
    comment TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS edits (
    edit_id INTEGER PRIMARY KEY AUTOINCREMENT,
    changeset_id INTEGER NOT NULL REFERENCES changesets (id),
    station_id TEXT NOT NULL,
    action TEXT NOT NULL,
    version INTEGER NOT NULL,
    user TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    effective_at TEXT NOT NULL,
    comment TEXT NOT NULL,
    before TEXT,
    after TEXT NOT NULL,
    district_code TEXT NOT NULL,
    reverts INTEGER
);
CREATE INDEX IF NOT EXISTS edits_station ON edits (station_id, edit_id);
CREATE INDEX IF NOT EXISTS edits_effective ON edits (effective_at, edit_id);
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    districts TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    session_epoch INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS tokens (
    token_hash TEXT PRIMARY KEY,
    user TEXT NOT NULL REFERENCES users (name),
    label TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS login_failures (key TEXT NOT NULL, at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS login_failures_key ON login_failures (key, at);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    station_id TEXT NOT NULL,
    district_code TEXT NOT NULL,
    kind TEXT NOT NULL,
    amenity TEXT NOT NULL,
    text TEXT NOT NULL,
    rating INTEGER,
    lon REAL,
    lat REAL,
    phone TEXT NOT NULL,
    client_key TEXT NOT NULL,
    created_at TEXT NOT NULL,
    deadline TEXT NOT NULL,
    state TEXT NOT NULL,
    state_changed_at TEXT,
    state_changed_by TEXT NOT NULL,
    note TEXT NOT NULL,
    edit_id INTEGER
);
CREATE INDEX IF NOT EXISTS feedback_district ON feedback (district_code, id);
CREATE INDEX IF NOT EXISTS feedback_client ON feedback (client_key, created_at);
CREATE INDEX IF NOT EXISTS feedback_station ON feedback (station_id, created_at);
CREATE INDEX IF NOT EXISTS feedback_created ON feedback (created_at);
CREATE INDEX IF NOT EXISTS feedback_confirm ON feedback (kind, created_at, station_id);
"""


def _journal_mode_wal(db: sqlite3.Connection) -> str:
    """Switch to write-ahead logging; connections opening a new file together may find it locked for a moment."""
    deadline = time.monotonic() + _BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            return str(db.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def sqlite_path(url: str) -> Path:
    """
    Return the file a ``sqlite:///`` URL names: ``sqlite:///register.db`` (relative), ``sqlite:////srv/r.db``.

    Raises
    ------
    BadRequestError
        If the URL is not a ``sqlite:///`` URL with a file path (an in-memory database cannot be shared).
    """
    prefix = "sqlite:///"
    if not url.startswith(prefix) or not url[len(prefix):].strip() or url[len(prefix):] == ":memory:":
        msg = (f"Database URL {url!r} is not a SQLite file URL: expected sqlite:///relative/path.db or "
               "sqlite:////absolute/path.db.")
        raise BadRequestError(msg)
    return Path(url[len(prefix):])


def _text_time(when: datetime) -> str:
    """UTC, fixed width, so text order is time order."""
    if when.tzinfo is None:
        msg = f"time {when!r} has no timezone; the register keeps UTC times"
        raise BadRequestError(msg)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@functools.lru_cache(maxsize=4096)  # a register filled in one changeset shares one time
def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)  # the fixed format of `_text_time`; "Z" is read as UTC


class SQLiteStore(Store):
    """
    The register in one SQLite file (created with its tables on first open).

    Parameters
    ----------
    url
        ``sqlite:///path.db``; the folder is created if missing.

    Raises
    ------
    StorageError
        If the file cannot be opened or created, is not a SQLite database, or has another schema version.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.path = sqlite_path(url)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            msg = f"Cannot create the folder of database {str(self.path)!r}: {err.strerror or err}."
            raise StorageError(msg) from err
        with self._write() as db:
            # statement by statement: executescript would commit the transaction
            for statement in filter(str.strip, _SCHEMA.split(";")):
                db.execute(statement)
            # a register made before reports recorded their resolving edit: the column is added (older code ignores it)
            if "edit_id" not in {row[1] for row in db.execute("PRAGMA table_info(feedback)")}:
                db.execute("ALTER TABLE feedback ADD COLUMN edit_id INTEGER")
            found = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if found is None:
                db.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            elif int(found[0]) != SCHEMA_VERSION:
                msg = (f"Database {str(self.path)!r} has schema version {found[0]}; this stationmap reads version "
                       f"{SCHEMA_VERSION}.")
                raise StorageError(msg)

    # --- connections ----------------------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is not None:
            return db
        try:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                 timeout=_BUSY_TIMEOUT_MS / 1000)
            db.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            mode = _journal_mode_wal(db)
            db.execute("PRAGMA synchronous = FULL")
            db.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as err:
            msg = f"Cannot open database {str(self.path)!r}: {err}."
            raise StorageError(msg) from err
        if str(mode).lower() != "wal":
            msg = f"Database {str(self.path)!r} cannot use write-ahead logging (journal mode {mode!r})."
            raise StorageError(msg)
        self._local.db = db
        with self._lock:
            self._all.append(db)
        return db

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """One consistent read transaction."""
        db = self._connection()
        try:
            db.execute("BEGIN")
            try:
                yield db
            finally:
                db.execute("COMMIT")
        except sqlite3.Error as err:
            msg = f"Database {str(self.path)!r} failed: {err}."
            raise StorageError(msg) from err

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction holding the database's write lock from its start."""
        db = self._connection()
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as err:
            msg = f"Database {str(self.path)!r} is busy or failed: {err}."
            raise StorageError(msg) from err
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        try:
            db.execute("COMMIT")
        except sqlite3.Error as err:
            db.execute("ROLLBACK")
            msg = f"Database {str(self.path)!r} could not commit: {err}."
            raise StorageError(msg) from err

    def close(self) -> None:
        with self._lock:
            for db in self._all:
                db.close()
            self._all.clear()
        self._local = threading.local()

    # --- the register -----------------------------------------------------------------------------------------

    def revision(self) -> int:
        try:
            return int(self._connection().execute("SELECT COALESCE(MAX(edit_id), 0) FROM edits").fetchone()[0])
        except sqlite3.Error as err:
            msg = f"Database {str(self.path)!r} failed: {err}."
            raise StorageError(msg) from err

    def count(self) -> int:
        with self._read() as db:
            return int(db.execute("SELECT COUNT(*) FROM stations").fetchone()[0])

    def snapshot(self, *, as_of: datetime | None = None) -> Snapshot:
        with self._read() as db:
            metadata = _json_or(db.execute("SELECT value FROM meta WHERE key = 'seed_metadata'").fetchone(), [])
            if as_of is None:
                revision = int(db.execute("SELECT COALESCE(MAX(edit_id), 0) FROM edits").fetchone()[0])
                rows = db.execute("SELECT id, version, feature, district_code, updated_at FROM stations "
                                  "ORDER BY seq").fetchall()
            else:
                moment = _text_time(as_of)
                revision = int(db.execute("SELECT COALESCE(MAX(edit_id), 0) FROM edits WHERE effective_at <= ?",
                                          (moment,)).fetchone()[0])
                rows = db.execute(
                    "SELECT e.station_id, e.version, e.after, e.district_code, e.recorded_at FROM edits e "
                    "JOIN (SELECT station_id, MAX(edit_id) AS last FROM edits WHERE effective_at <= ? "
                    "      GROUP BY station_id) l ON e.edit_id = l.last "
                    "JOIN stations s ON s.id = e.station_id ORDER BY s.seq", (moment,)).fetchall()
        features = json.loads("[" + ",".join(r[2] for r in rows) + "]")  # one parse: faster than one per row
        records = [StationRecord(id=r[0], version=int(r[1]), feature=f, district_code=r[3], updated_at=_time(r[4]))
                   for r, f in zip(rows, features, strict=True)]
        return Snapshot(records=records, revision=revision, metadata=list(metadata), as_of=as_of)

    def get(self, station_id: str) -> StationRecord:
        with self._read() as db:
            row = db.execute("SELECT id, version, feature, district_code, updated_at FROM stations WHERE id = ?",
                             (station_id,)).fetchone()
        if row is None:
            msg = f"No station with id {station_id!r} in the register."
            raise StationNotFoundError(msg)
        return _record(row)

    def changed_since(self, revision: int) -> tuple[list[StationRecord], int]:
        with self._read() as db:
            now = int(db.execute("SELECT COALESCE(MAX(edit_id), 0) FROM edits").fetchone()[0])
            rows = db.execute("SELECT id, version, feature, district_code, updated_at FROM stations "
                              "WHERE last_edit > ? ORDER BY seq", (int(revision),)).fetchall()
        return [_record(r) for r in rows], now

    def apply(self, changes: Sequence[Change], *, user: str, comment: str,
              effective_at: datetime | None = None, feedback: FeedbackChange | None = None) -> list[Edit]:
        ids = [c.station_id for c in changes]
        if len(set(ids)) != len(ids):
            msg = "One changeset may change each station once; split the changes."
            raise BadRequestError(msg)
        now = utc_now()
        recorded, effective = _text_time(now), _text_time(effective_at or now)
        with self._write() as db:
            currents: list[tuple[Any, ...] | None] = []
            for change in changes:
                row = db.execute("SELECT id, version, feature, district_code, updated_at, effective_at FROM "
                                 "stations WHERE id = ?", (change.station_id,)).fetchone()
                check_change(change, None if row is None else _record(row[:5]))
                if row is not None and row[5] > effective:
                    msg = (f"Station {change.station_id!r} has an edit effective {row[5]}; a change effective "
                           f"{effective} would put its history out of order.")
                    raise BadRequestError(msg)
                currents.append(row)
            cursor = db.execute("INSERT INTO changesets (user, created_at, comment) VALUES (?, ?, ?)",
                                (user, recorded, comment))
            changeset = int(cursor.lastrowid or 0)
            edits = []
            for change, row in zip(changes, currents, strict=True):
                version = 1 if row is None else int(row[1]) + 1
                after = stored_feature(change.after)
                after_text = dump_json(after)
                cursor = db.execute(
                    "INSERT INTO edits (changeset_id, station_id, action, version, user, recorded_at, effective_at, "
                    "comment, before, after, district_code, reverts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (changeset, change.station_id, change.action, version, user, recorded, effective, comment,
                     None if row is None else row[2], after_text, change.district_code, change.reverts))
                edit_id = int(cursor.lastrowid or 0)
                lon, lat = after["geometry"]["coordinates"][:2]
                status = str(after.get("properties", {}).get("status") or "open")
                if row is None:
                    db.execute("INSERT INTO stations (id, version, status, lon, lat, district_code, feature, "
                               "updated_at, effective_at, last_edit) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                               (change.station_id, version, status, lon, lat, change.district_code, after_text,
                                recorded, effective, edit_id))
                else:
                    db.execute("UPDATE stations SET version = ?, status = ?, lon = ?, lat = ?, district_code = ?, "
                               "feature = ?, updated_at = ?, effective_at = ?, last_edit = ? WHERE id = ?",
                               (version, status, lon, lat, change.district_code, after_text, recorded, effective,
                                edit_id, change.station_id))
                edits.append(Edit(edit_id=edit_id, changeset_id=changeset, station_id=change.station_id,
                                  action=change.action, version=version, user=user, recorded_at=_time(recorded),
                                  effective_at=_time(effective), comment=comment,
                                  before=None if row is None else json.loads(row[2]), after=after,
                                  district_code=change.district_code, reverts=change.reverts))
            if feedback is not None:  # refused: the whole changeset rolls back
                _move_feedback(db, feedback, edit_id=edits[0].edit_id if edits else None)
        return edits

    def history(self, station_id: str) -> list[Edit]:
        with self._read() as db:
            rows = db.execute(f"{_EDIT_COLUMNS} WHERE station_id = ? ORDER BY edit_id", (station_id,)).fetchall()
        if not rows:
            msg = f"No station with id {station_id!r} in the register."
            raise StationNotFoundError(msg)
        return [_edit(r) for r in rows]

    def edit(self, edit_id: int) -> Edit:
        with self._read() as db:
            row = db.execute(f"{_EDIT_COLUMNS} WHERE edit_id = ?", (int(edit_id),)).fetchone()
        if row is None:
            msg = f"No edit {edit_id} in the register."
            raise StationNotFoundError(msg)
        return _edit(row)

    def recent_edits(self, *, limit: int = 50, before_edit_id: int | None = None) -> list[Edit]:
        with self._read() as db:
            rows = db.execute(f"{_EDIT_COLUMNS} WHERE edit_id < ? ORDER BY edit_id DESC LIMIT ?",
                              (int(before_edit_id) if before_edit_id is not None else 2**62, int(limit))).fetchall()
        return [_edit(r) for r in rows]

    # --- metadata -------------------------------------------------------------------------------------------

    def get_meta(self, key: str) -> Any:
        with self._read() as db:
            return _json_or(db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone(), None)

    def set_meta(self, key: str, value: Any) -> None:
        with self._write() as db:
            db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET "
                       "value = excluded.value", (key, dump_json(value)))

    def set_meta_if_absent(self, key: str, value: Any) -> Any:
        with self._write() as db:
            db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                       (key, dump_json(value)))
            return _json_or(db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone(), None)

    # --- accounts -------------------------------------------------------------------------------------------

    def put_user(self, user: User) -> None:
        created = _text_time(user.created_at or utc_now())
        with self._write() as db:
            db.execute("INSERT INTO users (name, role, districts, password_hash, created_at, disabled, "
                       "session_epoch) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
                       "role = excluded.role, districts = excluded.districts, password_hash = excluded.password_hash,"
                       " disabled = excluded.disabled, session_epoch = excluded.session_epoch",
                       (user.name, user.role, dump_json(list(user.districts)), user.password_hash, created,
                        int(user.disabled), int(user.session_epoch)))

    def get_user(self, name: str) -> User | None:
        with self._read() as db:
            row = db.execute(f"{_USER_COLUMNS} WHERE name = ?", (name,)).fetchone()
        return None if row is None else _user(row)

    def users(self) -> list[User]:
        with self._read() as db:
            return [_user(r) for r in db.execute(f"{_USER_COLUMNS} ORDER BY name").fetchall()]

    def add_token(self, token_hash: str, *, user: str, label: str) -> None:
        with self._write() as db:
            if db.execute("SELECT 1 FROM users WHERE name = ?", (user,)).fetchone() is None:
                msg = f"No user {user!r}; add the account first (stationmap user add)."
                raise StationNotFoundError(msg)
            db.execute("INSERT INTO tokens (token_hash, user, label, created_at) VALUES (?, ?, ?, ?)",
                       (token_hash, user, label, _text_time(utc_now())))

    def token_user(self, token_hash: str) -> User | None:
        with self._read() as db:
            row = db.execute(f"{_USER_COLUMNS} WHERE name = (SELECT user FROM tokens WHERE token_hash = ? AND "
                             "revoked = 0)", (token_hash,)).fetchone()
        return None if row is None else _user(row)

    def revoke_tokens(self, user: str, *, label: str | None = None) -> int:
        with self._write() as db:
            if label is None:
                cursor = db.execute("UPDATE tokens SET revoked = 1 WHERE user = ? AND revoked = 0", (user,))
            else:
                cursor = db.execute("UPDATE tokens SET revoked = 1 WHERE user = ? AND label = ? AND revoked = 0",
                                    (user, label))
            return int(cursor.rowcount)

    def note_login_failure(self, key: str, at: datetime) -> None:
        with self._write() as db:
            db.execute("INSERT INTO login_failures (key, at) VALUES (?, ?)", (key, _text_time(at)))

    def login_failures(self, key: str, since: datetime) -> list[datetime]:
        with self._read() as db:
            rows = db.execute("SELECT at FROM login_failures WHERE key = ? AND at >= ? ORDER BY at",
                              (key, _text_time(since))).fetchall()
        return [_time(r[0]) for r in rows]

    def clear_login_failures(self, key: str) -> None:
        with self._write() as db:
            db.execute("DELETE FROM login_failures WHERE key = ?", (key,))

    # --- workers' feedback ----------------------------------------------------------------------------------

    def add_feedback(self, report: Feedback, *, check: Callable[[NthLatest], None] | None = None) -> Feedback:
        with self._write() as db:
            if check is not None:
                check(functools.partial(_nth_latest, db))
            cursor = db.execute(
                "INSERT INTO feedback (station_id, district_code, kind, amenity, text, rating, lon, lat, phone, "
                "client_key, created_at, deadline, state, state_changed_at, state_changed_by, note) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (report.station_id, report.district_code, report.kind, report.amenity, report.text, report.rating,
                 report.lon, report.lat, report.phone, report.client_key, _text_time(report.created_at),
                 _text_time(report.deadline), report.state,
                 None if report.state_changed_at is None else _text_time(report.state_changed_at),
                 report.state_changed_by, report.note))
            return _feedback(db.execute(f"{_FEEDBACK_COLUMNS} WHERE id = ?", (cursor.lastrowid,)).fetchone())

    def get_feedback(self, feedback_id: int) -> Feedback:
        with self._read() as db:
            row = db.execute(f"{_FEEDBACK_COLUMNS} WHERE id = ?", (int(feedback_id),)).fetchone()
        if row is None:
            msg = f"No feedback report {feedback_id}."
            raise StationNotFoundError(msg)
        return _feedback(row)

    def feedback_for(self, district_codes: Sequence[str] | None, *, states: Sequence[str] = (), limit: int = 50,
                     before_id: int | None = None) -> list[Feedback]:
        where: list[str] = ["id < ?"]
        args: list[Any] = [int(before_id) if before_id is not None else 2**62]
        if district_codes is not None:
            where.append(f"district_code IN ({','.join('?' * len(district_codes)) or 'NULL'})")
            args.extend(district_codes)
        if states:
            where.append(f"state IN ({','.join('?' * len(states))})")
            args.extend(states)
        with self._read() as db:
            rows = db.execute(f"{_FEEDBACK_COLUMNS} WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
                              (*args, int(limit))).fetchall()
        return [_feedback(r) for r in rows]

    def set_feedback_state(self, feedback_id: int, *, state: str, user: str, note: str, expected_state: str,
                           at: datetime | None = None) -> Feedback:
        with self._write() as db:
            return _move_feedback(db, FeedbackChange(feedback_id, state, user, note, expected_state, at))

    def nth_latest_feedback_time(self, since: datetime, n: int, *, client_key: str | None = None,
                                 station_id: str | None = None) -> datetime | None:
        with self._read() as db:
            return _nth_latest(db, since, n, client_key=client_key, station_id=station_id)

    def latest_confirmations(self, *, since: datetime | None = None) -> dict[str, datetime]:
        after, args = ("AND created_at >= ? ", (_text_time(since),)) if since is not None else ("", ())
        with self._read() as db:
            rows = db.execute("SELECT station_id, MAX(created_at) FROM feedback WHERE kind = 'confirm_open' "
                              f"{after}GROUP BY station_id", args).fetchall()
        return {str(r[0]): _time(r[1]) for r in rows}

    def prune(self, *, login_before: datetime, client_key_before: datetime, phone_closed_before: datetime,
              closed_before: datetime) -> dict[str, int]:
        closed = "state IN ('resolved', 'rejected') AND state_changed_at < ?"
        with self._write() as db:  # deleting before blanking, so each row is counted once
            return {
                "login_failures": db.execute("DELETE FROM login_failures WHERE at < ?",
                                             (_text_time(login_before),)).rowcount,
                "reports": db.execute(f"DELETE FROM feedback WHERE {closed}", (_text_time(closed_before),)).rowcount,
                "client_keys": db.execute("UPDATE feedback SET client_key = '' WHERE client_key != '' AND "
                                          "created_at < ?", (_text_time(client_key_before),)).rowcount,
                "phones": db.execute(f"UPDATE feedback SET phone = '' WHERE phone != '' AND {closed}",
                                     (_text_time(phone_closed_before),)).rowcount,
            }


_FEEDBACK_COLUMNS = ("SELECT id, station_id, district_code, kind, amenity, text, rating, lon, lat, phone, client_key, "
                     "created_at, deadline, state, state_changed_at, state_changed_by, note, edit_id FROM feedback")
_EDIT_COLUMNS = ("SELECT edit_id, changeset_id, station_id, action, version, user, recorded_at, effective_at, "
                 "comment, before, after, district_code, reverts FROM edits")
_USER_COLUMNS = "SELECT name, role, districts, password_hash, created_at, disabled, session_epoch FROM users"


def _json_or(row: tuple[Any, ...] | None, default: Any) -> Any:
    return default if row is None else json.loads(row[0])


def _record(row: tuple[Any, ...]) -> StationRecord:
    return StationRecord(id=row[0], version=int(row[1]), feature=json.loads(row[2]), district_code=row[3],
                         updated_at=_time(row[4]))


def _edit(row: tuple[Any, ...]) -> Edit:
    return Edit(edit_id=int(row[0]), changeset_id=int(row[1]), station_id=row[2], action=row[3],
                version=int(row[4]), user=row[5], recorded_at=_time(row[6]), effective_at=_time(row[7]),
                comment=row[8], before=None if row[9] is None else json.loads(row[9]), after=json.loads(row[10]),
                district_code=row[11], reverts=row[12])


def _user(row: tuple[Any, ...]) -> User:
    return User(name=row[0], role=row[1], districts=tuple(json.loads(row[2])), password_hash=row[3],
                created_at=_time(row[4]), disabled=bool(row[5]), session_epoch=int(row[6]))


def _feedback(row: tuple[Any, ...]) -> Feedback:
    return Feedback(id=int(row[0]), station_id=row[1], district_code=row[2], kind=row[3], amenity=row[4],
                    text=row[5], rating=None if row[6] is None else int(row[6]), lon=row[7], lat=row[8],
                    phone=row[9], client_key=row[10], created_at=_time(row[11]), deadline=_time(row[12]),
                    state=row[13], state_changed_at=None if row[14] is None else _time(row[14]),
                    state_changed_by=row[15], note=row[16], edit_id=None if row[17] is None else int(row[17]))


def _move_feedback(db: sqlite3.Connection, change: FeedbackChange, *, edit_id: int | None = None) -> Feedback:
    """Move a report in the caller's write transaction (`Store.set_feedback_state`), recording `edit_id`."""
    row = db.execute(f"{_FEEDBACK_COLUMNS} WHERE id = ?", (int(change.feedback_id),)).fetchone()
    if row is None:
        msg = f"No feedback report {change.feedback_id}."
        raise StationNotFoundError(msg)
    check_feedback_transition(_feedback(row), change.state, change.expected_state)
    db.execute("UPDATE feedback SET state = ?, state_changed_at = ?, state_changed_by = ?, note = ?, edit_id = ? "
               "WHERE id = ?", (change.state, _text_time(change.at or utc_now()), change.user, change.note, edit_id,
                                int(change.feedback_id)))
    return _feedback(db.execute(f"{_FEEDBACK_COLUMNS} WHERE id = ?", (int(change.feedback_id),)).fetchone())


def _nth_latest(db: Any, since: datetime, n: int, *, client_key: str | None = None,
                station_id: str | None = None) -> datetime | None:
    """`Store.nth_latest_feedback_time` on an open connection (inside a write transaction for the rate limits)."""
    where: list[str] = ["created_at > ?"]
    args: list[Any] = [_text_time(since)]
    if client_key is not None:
        where.append("client_key = ?")
        args.append(client_key)
    if station_id is not None:
        where.append("station_id = ?")
        args.append(station_id)
    row = db.execute(f"SELECT created_at FROM feedback WHERE {' AND '.join(where)} "
                     "ORDER BY created_at DESC LIMIT 1 OFFSET ?", (*args, max(0, int(n) - 1))).fetchone()
    return None if row is None else _time(row[0])
