"""The served state kept in step with the register: merging edits, background refresh, the signed column copy."""

from __future__ import annotations

import copy
import json
import time

import pytest

from stationmap.config import BUNDLED_DATA_DIR, Settings
from stationmap.snapshot_cache import cache_path, load_columns
from stationmap.store import Change
from stationmap.web.live import LiveRegister, merge_changes, read_columns


def _features(n: int = 4) -> list[dict]:
    doc = json.loads((BUNDLED_DATA_DIR / "stations" / "610111.geojson").read_text(encoding="utf-8"))
    return copy.deepcopy(doc["features"][:n])


@pytest.fixture
def filled(store):
    store.apply([Change(f["id"], "add", f, "610111") for f in _features()], user="seed", comment="")
    return store


@pytest.fixture
def settings(tmp_path, boundary_cache) -> Settings:
    return Settings(cache_dir=boundary_cache, data_home=tmp_path / "home")


def _modify(store, sid: str, **props) -> None:
    record = store.get(sid)
    after = copy.deepcopy(record.feature)
    for key, value in props.items():
        if value is None:
            after["properties"].pop(key, None)
        else:
            after["properties"][key] = value
    store.apply([Change(sid, "close" if props.get("status") == "closed" else "modify", after, "610111",
                        expected_version=record.version)], user="u", comment="")


def test_merge_replaces_adds_closes_and_removes_fields(filled):
    columns = read_columns(filled)
    base = columns.revision
    _modify(filled, "610111-001", name="新名", phone=None)
    _modify(filled, "610111-002", status="closed")
    extra = _features(5)[4]
    filled.apply([Change(extra["id"], "add", extra, "610111")], user="u", comment="")
    changed, revision = filled.changed_since(base)
    merged = merge_changes(columns, changed, revision)
    frame = merged.stations.set_index("id")
    assert list(merged.stations["id"]) == ["610111-001", "610111-003", "610111-004", "610111-005"]
    assert frame.loc["610111-001", "name"] == "新名" and frame.loc["610111-001", "phone"] is None
    assert merged.versions["610111-002"] == 2 and merged.revision == revision
    assert list(merged.codes) == ["610111"] * 4
    fresh = read_columns(filled)  # the same as reading the whole register again
    assert list(fresh.stations["id"]) == list(merged.stations["id"])
    assert fresh.stations.set_index("id")["name"].to_dict() == frame["name"].to_dict()


def test_a_quick_register_is_current_for_the_next_request(filled, settings):
    live = LiveRegister(settings, filled)
    _modify(filled, "610111-003", name="改名")
    state = live.current()
    assert state.revision == filled.revision() and not live.is_stale()
    assert state.stations.set_index("id").loc["610111-003", "name"] == "改名"


def test_a_slow_register_refreshes_in_the_background(filled, settings):
    live = LiveRegister(settings, filled, background_from=0)  # as a national register is
    before = live.current()
    _modify(filled, "610111-003", name="后台更新")
    assert live.current() is before or live.current().revision == filled.revision()  # never waits for it
    assert live.wait_until_current(timeout_s=30)
    assert live.current().stations.set_index("id").loc["610111-003", "name"] == "后台更新"


def _copy_at(store, settings, revision: int):
    """Wait for the background writer to leave the column copy of `revision` (it is written off the request)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        copied = load_columns(store, settings.cache_dir)
        if copied is not None and copied.revision == revision:
            return copied
        time.sleep(0.05)
    raise AssertionError(f"no column copy of revision {revision}")


def test_the_signed_column_copy_starts_a_register_and_a_changed_copy_is_ignored(filled, settings):
    LiveRegister(settings, filled, column_copy_from=1)
    _copy_at(filled, settings, filled.revision())
    _modify(filled, "610111-004", name="复制之后")
    live = LiveRegister(settings, filled, column_copy_from=1)  # starts from the copy, then applies the edit
    assert live.current().stations.set_index("id").loc["610111-004", "name"] == "复制之后"
    _copy_at(filled, settings, filled.revision())  # the newer copy it wrote
    path = cache_path(filled, settings.cache_dir)
    blob = bytearray(path.read_bytes())
    blob[-10] ^= 0xFF
    path.write_bytes(bytes(blob))
    assert load_columns(filled, settings.cache_dir) is None  # tampered: never unpickled
