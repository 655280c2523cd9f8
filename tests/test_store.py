"""The register's storage contract, run on both backends (SQLite WAL and PostgreSQL + PostGIS) via `store`."""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from stationmap.errors import (
    BadRequestError,
    EditConflictError,
    MissingExtraError,
    StationNotFoundError,
    StorageError,
    VersionConflictError,
)
from stationmap.store import Change, Store, User, open_store
from stationmap.store.base import dump_json

WHEN = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def feature(station_id: str, name: str = "甲站", *, lon: float = 109.06, lat: float = 34.27,
            status: str | None = None) -> dict[str, Any]:
    """A station Feature at (lon, lat), WGS-84."""
    properties: dict[str, Any] = {"id": station_id, "name": name}
    if status is not None:
        properties["status"] = status
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": properties}


def add(station_id: str, name: str = "甲站", **kw: Any) -> Change:
    return Change(station_id, "add", feature(station_id, name, **kw), "610111")


def change(station_id: str, action: str, expected: int, name: str = "甲站", **kw: Any) -> Change:
    return Change(station_id, action, feature(station_id, name, **kw), "610111", expected_version=expected)


def run_threads(n: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` in `n` threads started together; return each result or the exception it raised."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as err:  # noqa: BLE001 - the test inspects what each thread got
            results[i] = err

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


# --- edits, versions, before/after -----------------------------------------------------------------------------


def test_empty_register(store: Store):
    assert store.revision() == 0
    assert store.count() == 0
    snap = store.snapshot()
    assert (snap.records, snap.revision, snap.metadata, snap.as_of) == ([], 0, [], None)
    assert store.recent_edits() == []
    assert store.changed_since(0) == ([], 0)


def test_add_modify_close_reopen_revert(store: Store):
    [added] = store.apply([add("A", "甲站")], user="alice", comment="新站")
    assert (added.edit_id, added.changeset_id, added.version, added.action) == (1, 1, 1, "add")
    assert added.before is None
    assert added.after["properties"] == {"id": "A", "name": "甲站"}
    assert added.after["geometry"]["coordinates"] == [109.06, 34.27]
    assert (added.user, added.comment, added.district_code) == ("alice", "新站", "610111")
    assert added.recorded_at.tzinfo is not None and added.recorded_at.utcoffset() == timedelta(0)
    assert added.effective_at == added.recorded_at

    [renamed] = store.apply([change("A", "modify", 1, "乙站")], user="bob", comment="改名")
    assert (renamed.edit_id, renamed.changeset_id, renamed.version) == (2, 2, 2)
    assert renamed.before is not None and renamed.before["properties"]["name"] == "甲站"
    assert renamed.after["properties"]["name"] == "乙站"

    [closed] = store.apply([change("A", "close", 2, "乙站", status="closed")], user="bob", comment="拆除")
    assert closed.version == 3
    assert store.get("A").status == "closed"
    assert store.count() == 1  # closed stations stay in the register

    [reopened] = store.apply([change("A", "reopen", 3, "乙站", status="open")], user="bob", comment="重开")
    assert reopened.version == 4 and store.get("A").status == "open"

    first_name = store.edit(2).before
    assert first_name is not None
    [reverted] = store.apply([Change("A", "revert", first_name, "610111", expected_version=4, reverts=2)],
                             user="alice", comment="撤销改名")
    assert (reverted.version, reverted.reverts) == (5, 2)

    record = store.get("A")
    assert (record.id, record.version, record.district_code) == ("A", 5, "610111")
    assert record.feature["properties"]["name"] == "甲站"
    assert record.updated_at == reverted.recorded_at
    history = store.history("A")
    assert [e.action for e in history] == ["add", "modify", "close", "reopen", "revert"]
    assert [e.version for e in history] == [1, 2, 3, 4, 5]
    assert [e.edit_id for e in history] == [1, 2, 3, 4, 5]
    assert [e.user for e in history] == ["alice", "bob", "bob", "bob", "alice"]
    assert history[-1].reverts == 2 and history[0].reverts is None
    assert history[1] == renamed  # what apply returned is what the log keeps
    assert store.edit(3).after["properties"]["status"] == "closed"
    assert store.revision() == 5


def test_one_changeset_many_stations(store: Store):
    edits = store.apply([add("A"), add("B", lon=109.07), add("C", lon=109.08)], user="import", comment="导入")
    assert [(e.station_id, e.edit_id, e.changeset_id, e.version) for e in edits] == [
        ("A", 1, 1, 1), ("B", 2, 1, 1), ("C", 3, 1, 1)]
    assert store.revision() == 3
    assert [r.id for r in store.snapshot().records] == ["A", "B", "C"]
    assert store.get("B").feature["geometry"]["coordinates"] == [109.07, 34.27]


def test_add_of_existing_id_conflicts(store: Store):
    store.apply([add("A")], user="u", comment="")
    with pytest.raises(EditConflictError, match="'A' is already in the register"):
        store.apply([add("A", "另一站")], user="u", comment="")
    store.apply([change("A", "close", 1, status="closed")], user="u", comment="")
    with pytest.raises(EditConflictError, match="version 2, closed"):
        store.apply([add("A")], user="u", comment="")
    assert store.revision() == 2


def test_stale_version_carries_current(store: Store):
    store.apply([add("A", "甲站")], user="u", comment="")
    store.apply([change("A", "modify", 1, "乙站")], user="u", comment="")
    with pytest.raises(VersionConflictError, match="at version 2, not 1") as caught:
        store.apply([change("A", "modify", 1, "丙站")], user="u", comment="")
    current = caught.value.current
    assert current.version == 2 and current.feature["properties"]["name"] == "乙站"
    assert store.get("A").feature["properties"]["name"] == "乙站"


def test_unknown_station(store: Store):
    with pytest.raises(StationNotFoundError, match="No station with id 'Z'"):
        store.apply([change("Z", "modify", 1)], user="u", comment="")
    with pytest.raises(StationNotFoundError):
        store.get("Z")
    with pytest.raises(StationNotFoundError):
        store.history("Z")
    with pytest.raises(StationNotFoundError, match="No edit 99"):
        store.edit(99)
    assert store.revision() == 0


def test_changeset_is_all_or_nothing(store: Store):
    store.apply([add("A")], user="u", comment="")
    with pytest.raises(VersionConflictError):
        store.apply([add("B"), add("C"), change("A", "modify", 7, "乙站")], user="u", comment="")
    with pytest.raises(EditConflictError):
        store.apply([add("D"), add("A")], user="u", comment="")
    with pytest.raises(BadRequestError, match="each station once"):
        store.apply([add("E"), change("E", "modify", 1)], user="u", comment="")
    assert store.revision() == 1
    assert store.count() == 1
    assert [r.id for r in store.snapshot().records] == ["A"]
    for missing in "BCDE":
        with pytest.raises(StationNotFoundError):
            store.get(missing)
    # the failed changesets took no ids: the next one is changeset 2, edit 2
    [edit] = store.apply([add("B")], user="u", comment="")
    assert (edit.edit_id, edit.changeset_id) == (2, 2)


# --- time ------------------------------------------------------------------------------------------------------


def test_snapshot_as_of(store: Store):
    dec31 = datetime(2024, 12, 31, tzinfo=UTC)
    mar1 = datetime(2025, 3, 1, tzinfo=UTC)
    jun1 = datetime(2025, 6, 1, tzinfo=UTC)
    store.apply([add("A", "甲站")], user="u", comment="", effective_at=dec31)             # edit 1
    store.apply([change("A", "modify", 1, "乙站")], user="u", comment="", effective_at=jun1)  # edit 2
    store.apply([add("B", "丙站")], user="u", comment="", effective_at=mar1)               # edit 3

    def names(as_of: datetime | None) -> list[tuple[str, int, str]]:
        return [(r.id, r.version, r.feature["properties"]["name"]) for r in store.snapshot(as_of=as_of).records]

    assert names(datetime(2024, 6, 1, tzinfo=UTC)) == []
    assert names(datetime(2025, 1, 1, tzinfo=UTC)) == [("A", 1, "甲站")]
    assert names(mar1) == [("A", 1, "甲站"), ("B", 1, "丙站")]  # effective_at <= as_of counts
    assert names(datetime(2025, 7, 1, tzinfo=UTC)) == [("A", 2, "乙站"), ("B", 1, "丙站")]
    assert names(None) == [("A", 2, "乙站"), ("B", 1, "丙站")]
    assert store.snapshot(as_of=datetime(2024, 6, 1, tzinfo=UTC)).revision == 0
    assert store.snapshot(as_of=datetime(2025, 1, 1, tzinfo=UTC)).revision == 1
    assert store.snapshot(as_of=mar1).revision == 3
    past = store.snapshot(as_of=datetime(2025, 1, 1, tzinfo=UTC))
    assert past.as_of == datetime(2025, 1, 1, tzinfo=UTC)
    assert [e.effective_at for e in store.history("A")] == [dec31, jun1]


def test_effective_order_is_kept(store: Store):
    store.apply([add("A")], user="u", comment="", effective_at=datetime(2024, 12, 31, tzinfo=UTC))
    with pytest.raises(BadRequestError, match="out of order"):
        store.apply([add("B"), change("A", "modify", 1, "乙站")], user="u", comment="",
                    effective_at=datetime(2024, 1, 1, tzinfo=UTC))
    assert store.revision() == 1 and store.count() == 1
    # the same moment is in order
    [edit] = store.apply([change("A", "modify", 1, "乙站")], user="u", comment="",
                         effective_at=datetime(2024, 12, 31, tzinfo=UTC))
    assert edit.version == 2
    with pytest.raises(BadRequestError, match="no timezone"):
        store.apply([add("C")], user="u", comment="", effective_at=datetime(2025, 1, 1))


def test_changed_since(store: Store):
    store.apply([add("A"), add("B")], user="u", comment="")      # edits 1, 2
    store.apply([change("B", "modify", 1, "乙站")], user="u", comment="")  # edit 3
    records, now = store.changed_since(0)
    assert ([(r.id, r.version) for r in records], now) == ([("A", 1), ("B", 2)], 3)
    records, now = store.changed_since(2)
    assert ([(r.id, r.version) for r in records], now) == ([("B", 2)], 3)
    assert store.changed_since(3) == ([], 3)


def test_revision_grows_with_every_edit(store: Store):
    seen = [store.revision()]
    store.apply([add("A")], user="u", comment="")
    seen.append(store.revision())
    store.apply([add("B"), add("C")], user="u", comment="")
    seen.append(store.revision())
    store.apply([change("A", "modify", 1, "乙站")], user="u", comment="")
    seen.append(store.revision())
    assert seen == [0, 1, 3, 4]


def test_latest_confirmations_are_the_newest_confirm_open_per_station(store: Store):
    from stationmap.store import Feedback

    t0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)

    def report(station_id: str, kind: str, hours: int) -> None:
        at = t0 + timedelta(hours=hours)
        store.add_feedback(Feedback(id=0, station_id=station_id, district_code="610111", kind=kind, created_at=at,
                                    deadline=at, state="resolved" if kind == "confirm_open" else "new"))

    assert store.latest_confirmations() == {}
    report("A", "confirm_open", 0)
    report("A", "confirm_open", 5)
    report("A", "closed_at_stated_hours", 9)  # not a confirmation
    report("B", "confirm_open", 2)
    report("C", "other", 3)
    assert store.latest_confirmations() == {"A": t0 + timedelta(hours=5), "B": t0 + timedelta(hours=2)}
    assert store.latest_confirmations(since=t0 + timedelta(hours=2)) == {"A": t0 + timedelta(hours=5),
                                                                          "B": t0 + timedelta(hours=2)}
    assert store.latest_confirmations(since=t0 + timedelta(hours=3)) == {"A": t0 + timedelta(hours=5)}
    assert store.latest_confirmations(since=t0 + timedelta(hours=6)) == {}


def test_recent_edits_pages_newest_first(store: Store):
    for station_id in "ABCDE":
        store.apply([add(station_id)], user="u", comment=f"加{station_id}")
    first = store.recent_edits(limit=2)
    assert [e.edit_id for e in first] == [5, 4]
    assert [e.comment for e in first] == ["加E", "加D"]
    assert [e.edit_id for e in store.recent_edits(limit=2, before_edit_id=4)] == [3, 2]
    assert [e.edit_id for e in store.recent_edits(limit=2, before_edit_id=2)] == [1]
    assert store.recent_edits(limit=2, before_edit_id=1) == []
    assert len(store.recent_edits()) == 5


# --- metadata, accounts ----------------------------------------------------------------------------------------


def test_meta(store: Store):
    assert store.get_meta("seed_metadata") is None
    seed = [{"notice": "演示数据，非真实站点", "source": "demo"}]
    store.set_meta("seed_metadata", seed)
    assert store.get_meta("seed_metadata") == seed
    assert store.snapshot().metadata == seed
    store.set_meta("count", 3)
    store.set_meta("count", 4)
    assert store.get_meta("count") == 4
    assert store.set_meta_if_absent("secret", "first") == "first"
    assert store.set_meta_if_absent("secret", "second") == "first"
    assert store.get_meta("secret") == "first"


def test_set_meta_if_absent_is_race_free(store: Store):
    kept = run_threads(8, lambda i: store.set_meta_if_absent("session_secret", f"secret-{i}"))
    assert all(isinstance(value, str) for value in kept), kept
    assert len(set(kept)) == 1
    assert store.get_meta("session_secret") == kept[0]


def test_users_tokens_and_login_failures(store: Store):
    created = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    store.put_user(User("wang", "editor", ("610111", "610112"), "kdf$abc", created))
    store.put_user(User("admin", "admin"))
    assert [u.name for u in store.users()] == ["admin", "wang"]
    wang = store.get_user("wang")
    assert wang == User("wang", "editor", ("610111", "610112"), "kdf$abc", created, False, 0)
    assert store.get_user("nobody") is None
    store.put_user(User("wang", "viewer", (), "kdf$new", None, disabled=True, session_epoch=1))
    replaced = store.get_user("wang")
    assert replaced is not None
    assert (replaced.role, replaced.districts, replaced.password_hash, replaced.disabled,
            replaced.session_epoch) == ("viewer", (), "kdf$new", True, 1)
    assert replaced.created_at == created  # replacing keeps when the account was made

    store.add_token("hash-1", user="admin", label="laptop")
    store.add_token("hash-2", user="admin", label="script")
    store.add_token("hash-3", user="admin", label="script")
    token_user = store.token_user("hash-1")
    assert token_user is not None and token_user.name == "admin"
    assert store.token_user("unknown") is None
    with pytest.raises(StationNotFoundError, match="No user 'nobody'"):
        store.add_token("hash-4", user="nobody", label="x")
    assert store.revoke_tokens("admin", label="script") == 2
    assert store.token_user("hash-2") is None
    assert store.revoke_tokens("admin") == 1
    assert store.revoke_tokens("admin") == 0
    assert store.token_user("hash-1") is None

    t0 = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
    for minutes in (0, 1, 2):
        store.note_login_failure("wang", t0 + timedelta(minutes=minutes))
    store.note_login_failure("127.0.0.1", t0)
    assert store.login_failures("wang", t0 + timedelta(minutes=1)) == [t0 + timedelta(minutes=1),
                                                                       t0 + timedelta(minutes=2)]
    assert len(store.login_failures("wang", t0)) == 3
    store.clear_login_failures("wang")
    assert store.login_failures("wang", t0) == []
    assert store.login_failures("127.0.0.1", t0) == [t0]


def test_chinese_text_survives_byte_exact(store: Store, database_url: str):
    name = "北京市朝阳区·环卫工人“暖心驿站”（户外劳动者服务站）\u3000𠀋 🚻"
    address = "朝阳路１２号，近地铁站Ａ口；营业：周一至周五"
    record = feature("站-甲", name)
    record["properties"]["address"] = address
    store.apply([Change("站-甲", "add", record, "110105")], user="王小明", comment="新增：暖心驿站")
    with open_store(database_url) as other:
        again = other.get("站-甲")
        edit = other.history("站-甲")[0]
    assert again.feature["properties"]["name"].encode("utf-8") == name.encode("utf-8")
    assert again.feature["properties"]["address"].encode("utf-8") == address.encode("utf-8")
    assert dump_json(again.feature["properties"]).encode() == dump_json(record["properties"]).encode()
    assert (edit.user, edit.comment) == ("王小明", "新增：暖心驿站")


def test_second_store_sees_commits_at_once(store: Store, database_url: str):
    with open_store(database_url) as other:
        assert other.revision() == 0
        store.apply([add("A")], user="u", comment="")
        assert other.revision() == 1
        assert other.get("A").version == 1
        other.apply([change("A", "modify", 1, "乙站")], user="u", comment="")
        assert store.get("A").version == 2
        assert store.changed_since(1)[1] == 2


def test_stores_open_a_fresh_database_together(database_url: str):
    stores = run_threads(6, lambda i: open_store(database_url))
    try:
        assert all(isinstance(s, Store) for s in stores), stores
        stores[0].apply([add("A")], user="u", comment="")
        assert {s.revision() for s in stores} == {1}
    finally:
        for s in stores:
            if isinstance(s, Store):
                s.close()


# --- concurrency -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("own_store", [False, True], ids=["shared-store", "store-per-thread"])
def test_concurrent_edits_of_one_station_one_wins(store: Store, database_url: str, own_store: bool):
    store.apply([add("A")], user="u", comment="")
    stores = [open_store(database_url) if own_store else store for _ in range(8)]
    try:
        results = run_threads(8, lambda i: stores[i].apply([change("A", "modify", 1, f"名{i}")],
                                                           user=f"user{i}", comment=""))
    finally:
        if own_store:
            for s in stores:
                s.close()
    won = [r for r in results if isinstance(r, list)]
    lost = [r for r in results if isinstance(r, VersionConflictError)]
    assert (len(won), len(lost)) == (1, 7), results
    assert {err.current.version for err in lost} == {2}
    history = store.history("A")
    assert [e.version for e in history] == [1, 2]
    assert store.get("A").feature["properties"]["name"] == won[0][0].after["properties"]["name"]
    assert store.revision() == 2


def test_concurrent_adds_all_land(store: Store):
    def add_fifty(thread: int) -> int:
        for i in range(50):
            store.apply([add(f"T{thread}-{i:02d}", lon=109.0 + i / 1000)], user=f"t{thread}", comment="")
        return thread

    results = run_threads(8, add_fifty)
    assert results == list(range(8)), [r for r in results if isinstance(r, Exception)][:3]
    assert store.revision() == 400
    assert store.count() == 400
    assert [e.edit_id for e in store.recent_edits(limit=400)] == list(range(400, 0, -1))
    assert len({r.id for r in store.snapshot().records}) == 400


# --- backend specifics -----------------------------------------------------------------------------------------


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'register.db'}"


def test_sqlite_is_in_wal_mode(sqlite_url: str, tmp_path):
    with open_store(sqlite_url) as store:
        store.apply([add("A")], user="u", comment="")
        with sqlite3.connect(tmp_path / "register.db") as db:
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert (tmp_path / "register.db-wal").exists() or (tmp_path / "register.db").stat().st_size > 0


def test_sqlite_refuses_another_schema_version(sqlite_url: str, tmp_path):
    open_store(sqlite_url).close()
    db = sqlite3.connect(tmp_path / "register.db")
    with db:
        db.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    db.close()
    with pytest.raises(StorageError, match="has schema version 2; this stationmap reads version 1"):
        open_store(sqlite_url)


@pytest.fixture
def pg_url(pg_server: Any) -> Iterator[str]:
    url = pg_server.new_database()
    yield url
    pg_server.drop_database(url)


def test_postgis_keeps_points_in_a_geometry_column(pg_url: str):
    import psycopg

    with open_store(pg_url) as store:
        store.apply([add("A", lon=109.06, lat=34.27)], user="u", comment="")
        store.apply([change("A", "modify", 1, lon=109.5, lat=34.5)], user="u", comment="")
    with psycopg.connect(pg_url) as db:
        row = db.execute("SELECT ST_X(geom), ST_Y(geom), ST_SRID(geom) FROM stations WHERE id = 'A'").fetchone()
        assert row == (109.5, 34.5, 4326)  # lon, lat
        indexes = db.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'stations'").fetchall()
        assert any("USING gist (geom)" in r[0] for r in indexes), indexes


def test_postgis_refuses_another_schema_version(pg_url: str):
    import psycopg

    open_store(pg_url).close()
    with psycopg.connect(pg_url) as db:
        db.execute("UPDATE meta SET value = '2'::jsonb WHERE key = 'schema_version'")
    with pytest.raises(StorageError, match="has schema version 2; this stationmap reads version 1"):
        open_store(pg_url)


def test_postgis_failure_names_the_database_but_not_the_password(pg_server: Any):
    url = f"postgresql://postgres:s3cret-pw@127.0.0.1:{pg_server.port}/no_such_db"
    with pytest.raises(StorageError) as caught:
        open_store(url)
    message = str(caught.value)
    assert f"postgresql://postgres@127.0.0.1:{pg_server.port}/no_such_db" in message
    assert "no_such_db\" does not exist" in message
    assert "s3cret" not in message


def test_postgresql_url_without_psycopg_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)
    monkeypatch.delitem(sys.modules, "stationmap.store.postgis", raising=False)
    with pytest.raises(MissingExtraError, match=r"pip install 'stationmap\[postgis\]'"):
        open_store("postgresql://postgres@127.0.0.1:1/x")


def test_postgis_extension_is_created_when_missing(pg_server: Any):
    import psycopg

    name = f"plain_{os.getpid()}"
    with psycopg.connect(pg_server.url(), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name} TEMPLATE template0")  # no PostGIS in it
        try:
            with open_store(pg_server.url(name)) as store:
                store.apply([add("A")], user="u", comment="")
                assert store.revision() == 1
            with psycopg.connect(pg_server.url(name)) as db:
                assert db.execute("SELECT extname FROM pg_extension WHERE extname = 'postgis'").fetchone() == (
                    "postgis",)
        finally:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
