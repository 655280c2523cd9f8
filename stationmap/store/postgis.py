"""The shared register: PostgreSQL + PostGIS through psycopg 3, one transaction per changeset, a pool of connections.

Every process (gunicorn workers, a ``stationmap import --into`` run, another machine) opens the same database; each
keeps one `psycopg_pool.ConnectionPool` its threads share. A changeset takes a transaction-level advisory lock first
(one writer of the register at a time, as SQLite's ``BEGIN IMMEDIATE``), then locks the rows of the stations it
changes with ``SELECT ... FOR UPDATE`` and checks their versions, so two edits of one station cannot both pass the
check. Because ids of changesets and edits are handed out under that lock, they grow in commit order without gaps:
`PostGISStore.revision` never skips an edit a reader has not seen yet. Reads run in ``REPEATABLE READ`` transactions
so a snapshot and its revision agree.

Stations carry a PostGIS ``geometry(Point, 4326)`` (lon, lat) with a GiST index; Features are JSONB, times
``timestamptz``. Tables are created on first open under an advisory lock, so two processes opening a fresh database
at once do not collide.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from stationmap.errors import BadRequestError, StationNotFoundError, StorageError
from stationmap.extras import import_extra
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

__all__ = ["PostGISStore"]

psycopg = import_extra("psycopg")
psycopg_pool = import_extra("psycopg_pool")

_POOL_MAX = 16  # connections per process: waitress runs 8 threads by default, an import a few more
_CONNECT_TIMEOUT_S = 30
_POOL_TIMEOUT_S = 30.0  # a thread waits this long for a free connection before giving up with StorageError
_SCHEMA_LOCK = 0x73746D_0001  # advisory lock keys ("stm" ...): table creation, and the register's writer
_WRITE_LOCK = 0x73746D_0002
_FEEDBACK_LOCK = 0x73746D_0003  # workers' reports are kept one at a time, so the rate limits hold under concurrency

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value JSONB NOT NULL);
CREATE TABLE IF NOT EXISTS stations (
    seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    status TEXT NOT NULL,
    lon DOUBLE PRECISION NOT NULL,
    lat DOUBLE PRECISION NOT NULL,
    geom geometry(Point, 4326) NOT NULL,
    district_code TEXT NOT NULL,
    feature JSONB NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    effective_at TIMESTAMPTZ NOT NULL,
    last_edit BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS stations_last_edit ON stations (last_edit);
CREATE INDEX IF NOT EXISTS stations_geom ON stations USING GIST (geom);
CREATE TABLE IF NOT EXISTS changesets (
    id BIGINT PRIMARY KEY,
    username TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    comment TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS edits (
    edit_id BIGINT PRIMARY KEY,
    changeset_id BIGINT NOT NULL REFERENCES changesets (id),
    station_id TEXT NOT NULL,
    action TEXT NOT NULL,
    version INTEGER NOT NULL,
    username TEXT NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL,
    effective_at TIMESTAMPTZ NOT NULL,
    comment TEXT NOT NULL,
    before JSONB,
    after JSONB NOT NULL,
    district_code TEXT NOT NULL,
    reverts BIGINT
);
CREATE INDEX IF NOT EXISTS edits_station ON edits (station_id, edit_id);
CREATE INDEX IF NOT EXISTS edits_effective ON edits (effective_at, edit_id);
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    districts JSONB NOT NULL,
    password_hash TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    disabled BOOLEAN NOT NULL DEFAULT false,
    session_epoch INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS tokens (
    token_hash TEXT PRIMARY KEY,
    username TEXT NOT NULL REFERENCES users (name),
    label TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    revoked BOOLEAN NOT NULL DEFAULT false
);
CREATE TABLE IF NOT EXISTS login_failures (key TEXT NOT NULL, at TIMESTAMPTZ NOT NULL);
CREATE INDEX IF NOT EXISTS login_failures_key ON login_failures (key, at);
CREATE TABLE IF NOT EXISTS feedback (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    station_id TEXT NOT NULL,
    district_code TEXT NOT NULL,
    kind TEXT NOT NULL,
    amenity TEXT NOT NULL,
    text TEXT NOT NULL,
    rating SMALLINT,
    lon DOUBLE PRECISION,
    lat DOUBLE PRECISION,
    phone TEXT NOT NULL,
    client_key TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    deadline TIMESTAMPTZ NOT NULL,
    state TEXT NOT NULL,
    state_changed_at TIMESTAMPTZ,
    state_changed_by TEXT NOT NULL,
    note TEXT NOT NULL,
    edit_id BIGINT
);
CREATE INDEX IF NOT EXISTS feedback_district ON feedback (district_code, id);
CREATE INDEX IF NOT EXISTS feedback_client ON feedback (client_key, created_at);
CREATE INDEX IF NOT EXISTS feedback_station ON feedback (station_id, created_at);
CREATE INDEX IF NOT EXISTS feedback_created ON feedback (created_at);
CREATE INDEX IF NOT EXISTS feedback_confirm ON feedback (kind, created_at, station_id);
"""


def _describe(url: str) -> tuple[str, str]:
    """The URL without its password (for messages), and the password (to strip from the driver's messages)."""
    try:
        parts = urlsplit(url)
        password = parts.password or ""
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        user = f"{quote(parts.username, safe='')}@" if parts.username else ""
    except ValueError:
        return "postgresql://…", ""
    if "password=" in parts.query:
        for item in parts.query.split("&"):
            if item.startswith("password="):
                password = item[len("password="):]
    return f"{parts.scheme}://{user}{host}{port}{parts.path}", password


def _aware(when: datetime) -> datetime:
    if when.tzinfo is None:
        msg = f"time {when!r} has no timezone; the register keeps UTC times"
        raise BadRequestError(msg)
    return when.astimezone(UTC)


def _utc(when: datetime) -> datetime:
    return when.astimezone(UTC)


class PostGISStore(Store):
    """
    The register in a PostgreSQL database with PostGIS (its tables are created on first open).

    Parameters
    ----------
    url
        ``postgresql://user:password@host:port/dbname`` (or ``postgres://``); the database must exist. The
        ``postgis`` extension is created if missing, which needs a role allowed to create it.

    Raises
    ------
    MissingExtraError
        If psycopg is not installed (``pip install 'stationmap[postgis]'``); raised when this module is imported.
    StorageError
        If the database cannot be reached, has no PostGIS available, or has another schema version. Messages name
        the database but never its password.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.name, self._password = _describe(url)
        self._setup()
        try:
            self._pool = psycopg_pool.ConnectionPool(
                url, min_size=1, max_size=_POOL_MAX, open=True, timeout=_POOL_TIMEOUT_S,
                kwargs={"autocommit": True, "connect_timeout": _CONNECT_TIMEOUT_S},
                name=f"stationmap {self.name}")
        except psycopg.Error as err:
            raise StorageError(self._failure("cannot be opened", err)) from err

    # --- connections ----------------------------------------------------------------------------------------

    def _failure(self, what: str, err: BaseException) -> str:
        text = str(err).strip() or type(err).__name__
        for secret in {self._password, unquote(self._password)} - {""}:
            text = text.replace(secret, "***")
        return f"Database {self.name} {what}: {text}"

    def _setup(self) -> None:
        """Create the extension and tables if missing (one process at a time) and check the schema version."""
        try:
            db = psycopg.connect(self.url, autocommit=False, connect_timeout=_CONNECT_TIMEOUT_S)
        except psycopg.Error as err:
            raise StorageError(self._failure("cannot be opened", err)) from err
        try:
            with db:
                db.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                # DDL is transactional: with the last table there, all are (and a DML-only role can open it);
                # a register made before the feedback table gets it here (CREATE ... IF NOT EXISTS)
                if db.execute("SELECT to_regclass('feedback')").fetchone()[0] is None:
                    self._create_tables(db)
                # a register made before reports recorded their resolving edit: the column is added (older code
                # ignores it, so the schema version stays)
                if db.execute("SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('feedback') AND "
                              "attname = 'edit_id' AND NOT attisdropped").fetchone() is None:
                    db.execute("ALTER TABLE feedback ADD COLUMN edit_id BIGINT")
                # a register made before "last verified" read workers' confirmations gets their index
                if db.execute("SELECT to_regclass('feedback_confirm')").fetchone()[0] is None:
                    db.execute("CREATE INDEX feedback_confirm ON feedback (kind, created_at, station_id)")
                found = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
                if found is None:
                    db.execute("INSERT INTO meta (key, value) VALUES ('schema_version', %s::jsonb)",
                               (dump_json(SCHEMA_VERSION),))
                elif str(found[0]) != str(SCHEMA_VERSION):
                    msg = (f"Database {self.name} has schema version {found[0]}; this stationmap reads version "
                           f"{SCHEMA_VERSION}.")
                    raise StorageError(msg)
        except psycopg.Error as err:
            raise StorageError(self._failure("could not be set up", err)) from err
        finally:
            db.close()

    def _create_tables(self, db: Any) -> None:
        """Add PostGIS if missing, then the register's tables, in the caller's transaction."""
        if db.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'").fetchone() is None:
            if db.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'").fetchone() is None:
                msg = (f"Database {self.name} has no PostGIS: the extension 'postgis' is not available on its "
                       "server. Install PostGIS there (Debian: postgresql-15-postgis-3) and open the register again.")
                raise StorageError(msg)
            try:
                db.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            except psycopg.Error as err:
                msg = (f"Database {self.name} has no PostGIS and this role cannot add it; ask its administrator "
                       f"to run CREATE EXTENSION postgis ({self._failure('said', err)}).")
                raise StorageError(msg) from err
        for statement in filter(str.strip, _SCHEMA.split(";")):
            db.execute(statement)

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        """A pooled connection in autocommit mode; every driver error becomes `StorageError`."""
        try:
            with self._pool.connection() as db:
                yield db
        except psycopg.Error as err:
            raise StorageError(self._failure("failed", err)) from err

    @contextmanager
    def _read(self) -> Iterator[Any]:
        """One consistent read-only transaction (one snapshot of the database for all its statements)."""
        with self._connection() as db, db.transaction():
            db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield db

    @contextmanager
    def _write(self) -> Iterator[Any]:
        """One read-committed write transaction: committed when the block ends, rolled back if it raises."""
        with self._connection() as db, db.transaction():
            yield db

    def close(self) -> None:
        self._pool.close()

    # --- the register -----------------------------------------------------------------------------------------

    def revision(self) -> int:
        with self._connection() as db:
            return int(db.execute("SELECT COALESCE(MAX(edit_id), 0) FROM edits").fetchone()[0])

    def count(self) -> int:
        with self._read() as db:
            return int(db.execute("SELECT COUNT(*) FROM stations").fetchone()[0])

    def snapshot(self, *, as_of: datetime | None = None) -> Snapshot:
        with self._read() as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'seed_metadata'").fetchone()
            metadata = [] if row is None else row[0]
            if as_of is None:
                revision = int(db.execute("SELECT COALESCE(MAX(edit_id), 0) FROM edits").fetchone()[0])
                rows = db.execute("SELECT id, version, feature, district_code, updated_at FROM stations "
                                  "ORDER BY seq").fetchall()
            else:
                moment = _aware(as_of)
                revision = int(db.execute("SELECT COALESCE(MAX(edit_id), 0) FROM edits WHERE effective_at <= %s",
                                          (moment,)).fetchone()[0])
                rows = db.execute(
                    "SELECT e.station_id, e.version, e.after, e.district_code, e.recorded_at FROM edits e "
                    "JOIN (SELECT station_id, MAX(edit_id) AS last FROM edits WHERE effective_at <= %s "
                    "      GROUP BY station_id) l ON e.edit_id = l.last "
                    "JOIN stations s ON s.id = e.station_id ORDER BY s.seq", (moment,)).fetchall()
        return Snapshot(records=[_record(r) for r in rows], revision=revision, metadata=list(metadata), as_of=as_of)

    def get(self, station_id: str) -> StationRecord:
        with self._read() as db:
            row = db.execute("SELECT id, version, feature, district_code, updated_at FROM stations WHERE id = %s",
                             (station_id,)).fetchone()
        if row is None:
            msg = f"No station with id {station_id!r} in the register."
            raise StationNotFoundError(msg)
        return _record(row)

    def changed_since(self, revision: int) -> tuple[list[StationRecord], int]:
        with self._read() as db:
            now = int(db.execute("SELECT COALESCE(MAX(edit_id), 0) FROM edits").fetchone()[0])
            rows = db.execute("SELECT id, version, feature, district_code, updated_at FROM stations "
                              "WHERE last_edit > %s ORDER BY seq", (int(revision),)).fetchall()
        return [_record(r) for r in rows], now

    def apply(self, changes: Sequence[Change], *, user: str, comment: str,
              effective_at: datetime | None = None, feedback: FeedbackChange | None = None) -> list[Edit]:
        ids = [c.station_id for c in changes]
        if len(set(ids)) != len(ids):
            msg = "One changeset may change each station once; split the changes."
            raise BadRequestError(msg)
        now = utc_now()
        effective = _aware(effective_at or now)
        with self._write() as db:
            # one writer at a time, so ids are handed out in commit order; then the rows this changeset changes
            db.execute("SELECT pg_advisory_xact_lock(%s)", (_WRITE_LOCK,))
            locked = db.execute("SELECT id, version, feature, district_code, updated_at, effective_at FROM stations "
                                "WHERE id = ANY(%s) ORDER BY id FOR UPDATE", (ids,)).fetchall()
            found = {row[0]: row for row in locked}
            currents: list[tuple[Any, ...] | None] = []
            for change in changes:
                row = found.get(change.station_id)
                check_change(change, None if row is None else _record(row[:5]))
                if row is not None and _utc(row[5]) > effective:
                    msg = (f"Station {change.station_id!r} has an edit effective {_iso(row[5])}; a change effective "
                           f"{_iso(effective)} would put its history out of order.")
                    raise BadRequestError(msg)
                currents.append(row)
            changeset = int(db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM changesets").fetchone()[0])
            db.execute("INSERT INTO changesets (id, username, created_at, comment) VALUES (%s, %s, %s, %s)",
                       (changeset, user, now, comment))
            edit_id = int(db.execute("SELECT COALESCE(MAX(edit_id), 0) FROM edits").fetchone()[0])
            edits = []
            for change, row in zip(changes, currents, strict=True):
                edit_id += 1
                version = 1 if row is None else int(row[1]) + 1
                after = stored_feature(change.after)
                after_text = dump_json(after)
                before = None if row is None else stored_feature(row[2])
                db.execute(
                    "INSERT INTO edits (edit_id, changeset_id, station_id, action, version, username, recorded_at, "
                    "effective_at, comment, before, after, district_code, reverts) VALUES (%s, %s, %s, %s, %s, %s, "
                    "%s, %s, %s, %s::jsonb, %s::jsonb, %s, %s)",
                    (edit_id, changeset, change.station_id, change.action, version, user, now, effective, comment,
                     None if before is None else dump_json(before), after_text, change.district_code,
                     change.reverts))
                lon, lat = after["geometry"]["coordinates"][:2]
                status = str(after.get("properties", {}).get("status") or "open")
                if row is None:
                    db.execute("INSERT INTO stations (id, version, status, lon, lat, geom, district_code, feature, "
                               "updated_at, effective_at, last_edit) VALUES (%s, %s, %s, %s, %s, "
                               "ST_SetSRID(ST_MakePoint(%s, %s), 4326), %s, %s::jsonb, %s, %s, %s)",
                               (change.station_id, version, status, lon, lat, lon, lat, change.district_code,
                                after_text, now, effective, edit_id))
                else:
                    db.execute("UPDATE stations SET version = %s, status = %s, lon = %s, lat = %s, "
                               "geom = ST_SetSRID(ST_MakePoint(%s, %s), 4326), district_code = %s, "
                               "feature = %s::jsonb, updated_at = %s, effective_at = %s, last_edit = %s WHERE id = %s",
                               (version, status, lon, lat, lon, lat, change.district_code, after_text, now,
                                effective, edit_id, change.station_id))
                edits.append(Edit(edit_id=edit_id, changeset_id=changeset, station_id=change.station_id,
                                  action=change.action, version=version, user=user, recorded_at=now,
                                  effective_at=effective, comment=comment, before=before, after=after,
                                  district_code=change.district_code, reverts=change.reverts))
            if feedback is not None:  # refused: the whole changeset rolls back
                _move_feedback(db, feedback, edit_id=edits[0].edit_id if edits else None)
        return edits

    def history(self, station_id: str) -> list[Edit]:
        with self._read() as db:
            rows = db.execute(f"{_EDIT_COLUMNS} WHERE station_id = %s ORDER BY edit_id", (station_id,)).fetchall()
        if not rows:
            msg = f"No station with id {station_id!r} in the register."
            raise StationNotFoundError(msg)
        return [_edit(r) for r in rows]

    def edit(self, edit_id: int) -> Edit:
        with self._read() as db:
            row = db.execute(f"{_EDIT_COLUMNS} WHERE edit_id = %s", (int(edit_id),)).fetchone()
        if row is None:
            msg = f"No edit {edit_id} in the register."
            raise StationNotFoundError(msg)
        return _edit(row)

    def recent_edits(self, *, limit: int = 50, before_edit_id: int | None = None) -> list[Edit]:
        with self._read() as db:
            rows = db.execute(f"{_EDIT_COLUMNS} WHERE edit_id < %s ORDER BY edit_id DESC LIMIT %s",
                              (int(before_edit_id) if before_edit_id is not None else 2**62, int(limit))).fetchall()
        return [_edit(r) for r in rows]

    # --- metadata -------------------------------------------------------------------------------------------

    def get_meta(self, key: str) -> Any:
        with self._read() as db:
            row = db.execute("SELECT value FROM meta WHERE key = %s", (key,)).fetchone()
        return None if row is None else row[0]

    def set_meta(self, key: str, value: Any) -> None:
        with self._write() as db:
            db.execute("INSERT INTO meta (key, value) VALUES (%s, %s::jsonb) ON CONFLICT (key) DO UPDATE SET "
                       "value = excluded.value", (key, dump_json(value)))

    def set_meta_if_absent(self, key: str, value: Any) -> Any:
        with self._write() as db:
            # read committed: after waiting for another process's insert of the key, the SELECT sees its value
            db.execute("INSERT INTO meta (key, value) VALUES (%s, %s::jsonb) ON CONFLICT (key) DO NOTHING",
                       (key, dump_json(value)))
            row = db.execute("SELECT value FROM meta WHERE key = %s", (key,)).fetchone()
        return None if row is None else row[0]

    # --- accounts -------------------------------------------------------------------------------------------

    def put_user(self, user: User) -> None:
        created = _aware(user.created_at or utc_now())
        with self._write() as db:
            db.execute("INSERT INTO users (name, role, districts, password_hash, created_at, disabled, "
                       "session_epoch) VALUES (%s, %s, %s::jsonb, %s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET "
                       "role = excluded.role, districts = excluded.districts, password_hash = excluded.password_hash,"
                       " disabled = excluded.disabled, session_epoch = excluded.session_epoch",
                       (user.name, user.role, dump_json(list(user.districts)), user.password_hash, created,
                        bool(user.disabled), int(user.session_epoch)))

    def get_user(self, name: str) -> User | None:
        with self._read() as db:
            row = db.execute(f"{_USER_COLUMNS} WHERE name = %s", (name,)).fetchone()
        return None if row is None else _user(row)

    def users(self) -> list[User]:
        with self._read() as db:
            return [_user(r) for r in db.execute(f"{_USER_COLUMNS} ORDER BY name").fetchall()]

    def add_token(self, token_hash: str, *, user: str, label: str) -> None:
        with self._write() as db:
            if db.execute("SELECT 1 FROM users WHERE name = %s FOR SHARE", (user,)).fetchone() is None:
                msg = f"No user {user!r}; add the account first (stationmap user add)."
                raise StationNotFoundError(msg)
            db.execute("INSERT INTO tokens (token_hash, username, label, created_at) VALUES (%s, %s, %s, %s)",
                       (token_hash, user, label, utc_now()))

    def token_user(self, token_hash: str) -> User | None:
        with self._read() as db:
            row = db.execute(f"{_USER_COLUMNS} WHERE name = (SELECT username FROM tokens WHERE token_hash = %s AND "
                             "NOT revoked)", (token_hash,)).fetchone()
        return None if row is None else _user(row)

    def revoke_tokens(self, user: str, *, label: str | None = None) -> int:
        with self._write() as db:
            if label is None:
                cursor = db.execute("UPDATE tokens SET revoked = true WHERE username = %s AND NOT revoked", (user,))
            else:
                cursor = db.execute("UPDATE tokens SET revoked = true WHERE username = %s AND label = %s AND "
                                    "NOT revoked", (user, label))
            return int(cursor.rowcount)

    def note_login_failure(self, key: str, at: datetime) -> None:
        with self._write() as db:
            db.execute("INSERT INTO login_failures (key, at) VALUES (%s, %s)", (key, _aware(at)))

    def login_failures(self, key: str, since: datetime) -> list[datetime]:
        with self._read() as db:
            rows = db.execute("SELECT at FROM login_failures WHERE key = %s AND at >= %s ORDER BY at",
                              (key, _aware(since))).fetchall()
        return [_utc(r[0]) for r in rows]

    def clear_login_failures(self, key: str) -> None:
        with self._write() as db:
            db.execute("DELETE FROM login_failures WHERE key = %s", (key,))

    # --- workers' feedback ----------------------------------------------------------------------------------

    def add_feedback(self, report: Feedback, *, check: Callable[[NthLatest], None] | None = None) -> Feedback:
        with self._write() as db:
            db.execute("SELECT pg_advisory_xact_lock(%s)", (_FEEDBACK_LOCK,))  # one report at a time
            if check is not None:
                check(functools.partial(_nth_latest, db))
            row = db.execute(
                "INSERT INTO feedback (station_id, district_code, kind, amenity, text, rating, lon, lat, phone, "
                "client_key, created_at, deadline, state, state_changed_at, state_changed_by, note) VALUES "
                f"(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING {_FEEDBACK_FIELDS}",
                (report.station_id, report.district_code, report.kind, report.amenity, report.text, report.rating,
                 report.lon, report.lat, report.phone, report.client_key, _aware(report.created_at),
                 _aware(report.deadline), report.state,
                 None if report.state_changed_at is None else _aware(report.state_changed_at),
                 report.state_changed_by, report.note)).fetchone()
        return _feedback(row)

    def get_feedback(self, feedback_id: int) -> Feedback:
        with self._read() as db:
            row = db.execute(f"{_FEEDBACK_COLUMNS} WHERE id = %s", (int(feedback_id),)).fetchone()
        if row is None:
            msg = f"No feedback report {feedback_id}."
            raise StationNotFoundError(msg)
        return _feedback(row)

    def feedback_for(self, district_codes: Sequence[str] | None, *, states: Sequence[str] = (), limit: int = 50,
                     before_id: int | None = None) -> list[Feedback]:
        where: list[str] = ["id < %s"]
        args: list[Any] = [int(before_id) if before_id is not None else 2**62]
        if district_codes is not None:
            where.append("district_code = ANY(%s)")
            args.append(list(district_codes))
        if states:
            where.append("state = ANY(%s)")
            args.append(list(states))
        with self._read() as db:
            rows = db.execute(f"{_FEEDBACK_COLUMNS} WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT %s",
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
        after, args = ("AND created_at >= %s ", (_aware(since),)) if since is not None else ("", ())
        with self._read() as db:
            rows = db.execute("SELECT station_id, MAX(created_at) FROM feedback WHERE kind = 'confirm_open' "
                              f"{after}GROUP BY station_id", args).fetchall()
        return {str(r[0]): _utc(r[1]) for r in rows}

    def prune(self, *, login_before: datetime, client_key_before: datetime, phone_closed_before: datetime,
              closed_before: datetime) -> dict[str, int]:
        closed = "state IN ('resolved', 'rejected') AND state_changed_at < %s"
        with self._write() as db:  # deleting before blanking, so each row is counted once
            return {
                "login_failures": db.execute("DELETE FROM login_failures WHERE at < %s",
                                             (_aware(login_before),)).rowcount,
                "reports": db.execute(f"DELETE FROM feedback WHERE {closed}", (_aware(closed_before),)).rowcount,
                "client_keys": db.execute("UPDATE feedback SET client_key = '' WHERE client_key != '' AND "
                                          "created_at < %s", (_aware(client_key_before),)).rowcount,
                "phones": db.execute(f"UPDATE feedback SET phone = '' WHERE phone != '' AND {closed}",
                                     (_aware(phone_closed_before),)).rowcount,
            }


_FEEDBACK_FIELDS = ("id, station_id, district_code, kind, amenity, text, rating, lon, lat, phone, client_key, "
                    "created_at, deadline, state, state_changed_at, state_changed_by, note, edit_id")
_FEEDBACK_COLUMNS = f"SELECT {_FEEDBACK_FIELDS} FROM feedback"
_EDIT_COLUMNS = ("SELECT edit_id, changeset_id, station_id, action, version, username, recorded_at, effective_at, "
                 "comment, before, after, district_code, reverts FROM edits")
_USER_COLUMNS = "SELECT name, role, districts, password_hash, created_at, disabled, session_epoch FROM users"


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _record(row: tuple[Any, ...]) -> StationRecord:
    return StationRecord(id=row[0], version=int(row[1]), feature=stored_feature(row[2]), district_code=row[3],
                         updated_at=_utc(row[4]))


def _edit(row: tuple[Any, ...]) -> Edit:
    return Edit(edit_id=int(row[0]), changeset_id=int(row[1]), station_id=row[2], action=row[3],
                version=int(row[4]), user=row[5], recorded_at=_utc(row[6]), effective_at=_utc(row[7]),
                comment=row[8], before=None if row[9] is None else stored_feature(row[9]),
                after=stored_feature(row[10]), district_code=row[11],
                reverts=None if row[12] is None else int(row[12]))


def _user(row: tuple[Any, ...]) -> User:
    return User(name=row[0], role=row[1], districts=tuple(row[2]), password_hash=row[3], created_at=_utc(row[4]),
                disabled=bool(row[5]), session_epoch=int(row[6]))


def _feedback(row: tuple[Any, ...]) -> Feedback:
    return Feedback(id=int(row[0]), station_id=row[1], district_code=row[2], kind=row[3], amenity=row[4],
                    text=row[5], rating=None if row[6] is None else int(row[6]), lon=row[7], lat=row[8],
                    phone=row[9], client_key=row[10], created_at=_utc(row[11]), deadline=_utc(row[12]),
                    state=row[13], state_changed_at=None if row[14] is None else _utc(row[14]),
                    state_changed_by=row[15], note=row[16], edit_id=None if row[17] is None else int(row[17]))


def _move_feedback(db: Any, change: FeedbackChange, *, edit_id: int | None = None) -> Feedback:
    """Move a report in the caller's write transaction (`Store.set_feedback_state`), recording `edit_id`."""
    row = db.execute(f"{_FEEDBACK_COLUMNS} WHERE id = %s FOR UPDATE", (int(change.feedback_id),)).fetchone()
    if row is None:
        msg = f"No feedback report {change.feedback_id}."
        raise StationNotFoundError(msg)
    check_feedback_transition(_feedback(row), change.state, change.expected_state)
    row = db.execute("UPDATE feedback SET state = %s, state_changed_at = %s, state_changed_by = %s, note = %s, "
                     f"edit_id = %s WHERE id = %s RETURNING {_FEEDBACK_FIELDS}",
                     (change.state, _aware(change.at or utc_now()), change.user, change.note, edit_id,
                      int(change.feedback_id))).fetchone()
    return _feedback(row)


def _nth_latest(db: Any, since: datetime, n: int, *, client_key: str | None = None,
                station_id: str | None = None) -> datetime | None:
    """`Store.nth_latest_feedback_time` on an open connection (inside a write transaction for the rate limits)."""
    where: list[str] = ["created_at > %s"]
    args: list[Any] = [_aware(since)]
    if client_key is not None:
        where.append("client_key = %s")
        args.append(client_key)
    if station_id is not None:
        where.append("station_id = %s")
        args.append(station_id)
    row = db.execute(f"SELECT created_at FROM feedback WHERE {' AND '.join(where)} "
                     "ORDER BY created_at DESC LIMIT 1 OFFSET %s", (*args, max(0, int(n) - 1))).fetchone()
    return None if row is None else _utc(row[0])
