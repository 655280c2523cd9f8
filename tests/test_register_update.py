"""The monthly register update: a table compared with the register and applied as one changeset, on both backends.

The register holds six bundled 灞桥区 (610111) stations, ``610111-006`` closed, and one 官渡区 (530111) station. The
"new month's table" keeps 001 and 004 as they are, renames 002, moves 003 100 m east, drops 005, lists the closed
006 again and adds 007; the 官渡区 station is not in it.
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from pyproj import Geod

from stationmap import geo
from stationmap.cli import main
from stationmap.config import BUNDLED_DATA_DIR
from stationmap.errors import StationDataError, VersionConflictError
from stationmap.register_update import POSITION_TOLERANCE_M, apply_update, plan_update
from stationmap.store import Change, Store

BAQIAO, GUANDU = "610111", "530111"
SEEDED = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
CLOSED = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
NEW_NAME = "纺织城街道新名驿站"
GEOD = Geod(ellps="WGS84")


def _bundled(adcode: str) -> list[dict[str, Any]]:
    doc = json.loads((BUNDLED_DATA_DIR / "stations" / f"{adcode}.geojson").read_text(encoding="utf-8"))
    return doc["features"]


BAQIAO_STATIONS = _bundled(BAQIAO)[:7]
GUANDU_STATION = _bundled(GUANDU)[0]


def _seed(store: Store) -> None:
    """The register before the update: 610111-001..006 (006 closed) and 530111-001, effective in 2024."""
    changes = [Change(f["id"], "add", copy.deepcopy(f), BAQIAO) for f in BAQIAO_STATIONS[:6]]
    changes.append(Change(GUANDU_STATION["id"], "add", copy.deepcopy(GUANDU_STATION), GUANDU))
    store.apply(changes, user="seed", comment="filled", effective_at=SEEDED)
    closed = copy.deepcopy(BAQIAO_STATIONS[5])
    closed["properties"]["status"] = "closed"
    store.apply([Change(closed["id"], "close", closed, BAQIAO, expected_version=1)], user="clerk",
                comment="closed for works", effective_at=CLOSED)


def _table() -> list[dict[str, Any]]:
    """The new month's stations in WGS-84: 001, 004 as they are, 002 renamed, 003 moved, 006 back, 007 new."""
    f1, f2, f3, f4, _f5, f6, f7 = (copy.deepcopy(f) for f in BAQIAO_STATIONS)
    f2["properties"]["name"] = NEW_NAME
    lon, lat = f3["geometry"]["coordinates"]
    east_lon, east_lat, _ = GEOD.fwd(lon, lat, 90, 100)
    f3["geometry"]["coordinates"] = [round(east_lon, 7), round(east_lat, 7)]
    return [f1, f2, f3, f4, f6, f7]


def _by_id(store: Store, **kwargs: Any) -> dict[str, Any]:
    return {r.id: r for r in store.snapshot(**kwargs).records}


def test_plan_counts_and_field_diffs(store):
    _seed(store)
    table = _table()
    plan = plan_update(store.snapshot(), table, [BAQIAO] * len(table), source="table")
    assert plan.counts() == {"added": 1, "changed": 2, "closed": 1, "reopened": 1, "unchanged": 2}
    assert [p.station_id for p in plan.added] == ["610111-007"]
    assert [p.station_id for p in plan.closed] == ["610111-005"]
    assert [p.station_id for p in plan.reopened] == ["610111-006"]
    renamed, moved = plan.changed
    assert renamed.station_id == "610111-002" and renamed.action == "modify"
    assert [(c.field, c.before, c.after) for c in renamed.fields] == [
        ("name", BAQIAO_STATIONS[1]["properties"]["name"], NEW_NAME)]
    assert moved.station_id == "610111-003"
    (position,) = moved.fields
    assert position.field == "position" and position.distance_m == pytest.approx(100, abs=0.05)
    assert [(c.field, c.before, c.after) for c in plan.reopened[0].fields] == [("status", "closed", "open")]
    # the 官渡区 station is missing from the table but outside its districts: left alone
    assert plan.scope == (BAQIAO,) and plan.left_alone == 1 and plan.in_scope_open == 5
    text = plan.describe()
    assert text.splitlines()[0] == "added 1 · changed 2 · closed 1 · reopened 1 · unchanged 2"
    assert f"name: {BAQIAO_STATIONS[1]['properties']['name']} → {NEW_NAME}" in text
    assert "scope of closing: district(s) 610111" in text and "610111-005" in text
    assert "(100.0 m)" in text


def test_dry_plan_changes_nothing_and_apply_is_one_changeset(store):
    _seed(store)
    before = store.revision()
    table = _table()
    plan = plan_update(store.snapshot(), table, [BAQIAO] * len(table))
    assert store.revision() == before
    edits = apply_update(store, plan, user="王会计", comment="2025年1月台账")
    assert len(edits) == 5 and len({e.changeset_id for e in edits}) == 1
    assert {e.comment for e in edits} == {"2025年1月台账"} and {e.user for e in edits} == {"王会计"}
    assert {e.station_id: e.action for e in edits} == {
        "610111-007": "add", "610111-002": "modify", "610111-003": "modify", "610111-006": "reopen",
        "610111-005": "close"}
    now = _by_id(store)
    assert now["610111-002"].feature["properties"]["name"] == NEW_NAME
    assert now["610111-005"].status == "closed" and now["610111-006"].status == "open"
    assert now[GUANDU_STATION["id"]].status == "open" and now[GUANDU_STATION["id"]].version == 1
    assert now["610111-001"].version == 1
    history = store.history("610111-002")
    assert [e.action for e in history] == ["add", "modify"] and history[-1].comment == "2025年1月台账"
    assert history[-1].before["properties"]["name"] == BAQIAO_STATIONS[1]["properties"]["name"]
    # the same table again changes nothing
    again = plan_update(store.snapshot(), table, [BAQIAO] * len(table))
    assert again.counts() == {"added": 0, "changed": 0, "closed": 0, "reopened": 0, "unchanged": 6}
    assert apply_update(store, again, user="王会计", comment="again") == []


def test_fields_the_table_lacks_keep_the_register_values(store):
    _seed(store)
    table = _table()
    for feature in table:
        feature["properties"].pop("last_verified", None)
        feature["properties"].pop("phone", None)
    table[0]["properties"]["manager"] = "新站长"
    fields = set(BAQIAO_STATIONS[0]["properties"]) - {"last_verified", "phone"}
    plan = plan_update(store.snapshot(), table, [BAQIAO] * len(table), fields=fields)
    assert plan.counts()["changed"] == 3
    first = next(p for p in plan.changed if p.station_id == "610111-001")
    assert [c.field for c in first.fields] == ["manager"]
    assert first.after["properties"]["last_verified"] == BAQIAO_STATIONS[0]["properties"]["last_verified"]
    assert first.after["properties"]["phone"] == BAQIAO_STATIONS[0]["properties"]["phone"]
    # by default the fields are those any station of the table has: no station has a phone, so none is removed
    assert plan_update(store.snapshot(), table, [BAQIAO] * len(table)).counts() == plan.counts()
    # a field the table carries but a station leaves empty is removed from that station
    table[3]["properties"].pop("manager")
    plan = plan_update(store.snapshot(), table, [BAQIAO] * len(table), fields=fields)
    emptied = next(p for p in plan.changed if p.station_id == "610111-004")
    assert [(c.field, c.after) for c in emptied.fields] == [("manager", None)]
    assert "manager" not in emptied.after["properties"]


def test_small_moves_are_not_changes(store):
    _seed(store)
    table = [copy.deepcopy(f) for f in BAQIAO_STATIONS[:5]]
    lon, lat = table[0]["geometry"]["coordinates"]
    near_lon, near_lat, _ = GEOD.fwd(lon, lat, 0, POSITION_TOLERANCE_M * 0.6)
    table[0]["geometry"]["coordinates"] = [near_lon, near_lat]
    plan = plan_update(store.snapshot(), table, [BAQIAO] * 5)
    assert plan.counts() == {"added": 0, "changed": 0, "closed": 0, "reopened": 0, "unchanged": 5}


def test_mass_close_is_refused_unless_allowed(store):
    _seed(store)
    table = [copy.deepcopy(BAQIAO_STATIONS[0])]
    plan = plan_update(store.snapshot(), table, [BAQIAO])
    assert len(plan.closed) == 4 and plan.in_scope_open == 5
    before = store.revision()
    with pytest.raises(StationDataError, match="close 4 of the 5 open stations.*--allow-mass-close"):
        apply_update(store, plan, user="clerk", comment="wrong file")
    assert store.revision() == before
    edits = apply_update(store, plan, user="clerk", comment="really", allow_mass_close=True)
    assert len(edits) == 4


def test_scope_named_closes_only_there(store):
    _seed(store)
    table = _table()
    plan = plan_update(store.snapshot(), table, [BAQIAO] * len(table), scope_districts=[GUANDU])
    # scope 530111 only: its station is missing from the table and closed; 610111-005 is left alone
    assert [p.station_id for p in plan.closed] == [GUANDU_STATION["id"]]
    assert plan.scope_given and plan.left_alone == 1


def test_concurrent_edit_fails_the_whole_update(store):
    _seed(store)
    table = _table()
    plan = plan_update(store.snapshot(), table, [BAQIAO] * len(table))
    web_edit = copy.deepcopy(BAQIAO_STATIONS[2])
    web_edit["properties"]["phone"] = "029-00000000"
    store.apply([Change("610111-003", "modify", web_edit, BAQIAO, expected_version=1)], user="web",
                comment="phone")
    before = store.revision()
    with pytest.raises(VersionConflictError, match="changed while the update was prepared.*run it again"):
        apply_update(store, plan, user="clerk", comment="monthly")
    assert store.revision() == before
    now = _by_id(store)
    assert "610111-007" not in now and now["610111-005"].status == "open"


def test_invalid_result_is_refused_with_every_problem(store):
    _seed(store)
    table = _table()
    table[1]["properties"]["stars"] = 9
    table[5]["properties"]["toilet"] = "somewhere"
    with pytest.raises(StationDataError) as info:
        plan_update(store.snapshot(), table, [BAQIAO] * len(table))
    text = str(info.value)
    assert "610111-002" in text and "stars" in text and "610111-007" in text and "toilet" in text


# --- the command line ------------------------------------------------------------------------------------------

HEADERS = ["站点编号", "站点名称", "经度", "纬度"]


def _clerk_rows(features: list[dict[str, Any]]) -> list[list[Any]]:
    """The clerk's rows: id, name and position copied from Amap (GCJ-02, 6 decimals)."""
    rows = []
    for f in features:
        lon, lat = f["geometry"]["coordinates"]
        gcj_lon, gcj_lat = geo.wgs84_to_gcj02(lon, lat)
        rows.append([f["id"], f["properties"]["name"], round(float(gcj_lon), 6), round(float(gcj_lat), 6)])
    return rows


def _write_table(path: Path, rows: list[list[Any]]) -> Path:
    if path.suffix == ".xlsx":
        pd.DataFrame(rows, columns=HEADERS).to_excel(path, index=False)
        return path
    with path.open("w", newline="", encoding="utf-8-sig") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADERS)
        writer.writerows(rows)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_cli_dry_run_then_apply_a_gcj02_table(runner, store, database_url, tmp_path, suffix):
    _seed(store)
    path = _write_table(tmp_path / f"台账2025-01{suffix}", _clerk_rows(_table()))
    before = store.revision()
    dry = runner.invoke(main, ["import", str(path), "--crs", "gcj02", "--into", database_url, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "added 1 · changed 2 · closed 1 · reopened 1 · unchanged 2" in dry.output
    assert f"name: {BAQIAO_STATIONS[1]['properties']['name']} → {NEW_NAME}" in dry.output
    assert "dry run: nothing was changed" in dry.output
    assert store.revision() == before
    done = runner.invoke(main, ["import", str(path), "--crs", "gcj02", "--into", database_url, "--user", "王会计",
                                "--effective", "2024-12-31"])
    assert done.exit_code == 0, done.output
    assert "applied 5 edit(s)" in done.output
    edits = store.recent_edits(limit=5)
    assert {e.comment for e in edits} == {f"monthly update from {path.name}"} and {e.user for e in edits} == {"王会计"}
    assert len({e.changeset_id for e in edits}) == 1
    # only name and position are in the table: last_verified, phone ... keep the register's values
    now = _by_id(store)
    props = now["610111-002"].feature["properties"]
    assert props["name"] == NEW_NAME
    assert props["last_verified"] == BAQIAO_STATIONS[1]["properties"]["last_verified"]
    assert props["phone"] == BAQIAO_STATIONS[1]["properties"]["phone"]
    moved = now["610111-003"].feature["geometry"]["coordinates"]
    lon, lat = BAQIAO_STATIONS[2]["geometry"]["coordinates"]
    assert float(geo.geodesic_distance_m(lon, lat, *moved)) == pytest.approx(100, abs=0.2)
    # as of the day before, the register is as it was; from 2024-12-31 (China time) it is the table's
    old = _by_id(store, as_of=dt.datetime(2024, 12, 30, 12, tzinfo=dt.UTC))
    assert old["610111-002"].feature["properties"]["name"] == BAQIAO_STATIONS[1]["properties"]["name"]
    assert old["610111-005"].status == "open" and "610111-007" not in old
    new = _by_id(store, as_of=dt.datetime(2024, 12, 31, 1, tzinfo=dt.UTC))
    assert new["610111-002"].feature["properties"]["name"] == NEW_NAME and new["610111-005"].status == "closed"


def test_cli_comment_and_effective_before_last_edit(runner, store, database_url, tmp_path):
    _seed(store)
    path = _write_table(tmp_path / "t.csv", _clerk_rows(_table()))
    early = runner.invoke(main, ["import", str(path), "--crs", "gcj02", "--into", database_url,
                                 "--effective", "2024-03-01"])
    assert early.exit_code == 1, early.output
    assert "out of order" in early.output
    done = runner.invoke(main, ["import", str(path), "--crs", "gcj02", "--into", database_url,
                                "--comment", "一月台账"])
    assert done.exit_code == 0, done.output
    assert {e.comment for e in store.recent_edits(limit=5)} == {"一月台账"}


def test_cli_mass_close_and_usage(runner, store, database_url, tmp_path):
    _seed(store)
    path = _write_table(tmp_path / "one.csv", _clerk_rows(_table()[:1]))
    before = store.revision()
    refused = runner.invoke(main, ["import", str(path), "--crs", "gcj02", "--into", database_url])
    assert refused.exit_code == 1 and "--allow-mass-close" in refused.output
    dry = runner.invoke(main, ["import", str(path), "--crs", "gcj02", "--into", database_url, "--dry-run"])
    assert dry.exit_code == 1 and "closed:" in dry.output and "610111-005" in dry.output
    assert store.revision() == before
    allowed = runner.invoke(main, ["import", str(path), "--crs", "gcj02", "--into", database_url,
                                   "--allow-mass-close"])
    assert allowed.exit_code == 0, allowed.output
    assert _by_id(store)["610111-004"].status == "closed"
    # usage: no datum, neither -o nor --into, --dry-run without --into
    assert runner.invoke(main, ["import", str(path), "--into", database_url]).exit_code == 2
    assert runner.invoke(main, ["import", str(path), "--crs", "gcj02"]).exit_code == 2
    assert runner.invoke(main, ["import", str(path), "--crs", "gcj02", "--dry-run", "-o",
                                str(tmp_path / "x.geojson")]).exit_code == 2


def test_cli_table_without_ids_is_refused(runner, database_url, tmp_path):
    path = tmp_path / "noid.csv"
    rows = [r[1:] for r in _clerk_rows(_table())]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADERS[1:])
        writer.writerows(rows)
    result = runner.invoke(main, ["import", str(path), "--crs", "gcj02", "--into", database_url])
    assert result.exit_code == 1 and "no id column" in result.output


def test_cli_station_file_into_an_empty_register(runner, database_url, tmp_path):
    path = tmp_path / "register.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": _table()}, ensure_ascii=False),
                    encoding="utf-8")
    result = runner.invoke(main, ["import", str(path), "--into", database_url, "--user", "seed"])
    assert result.exit_code == 0, result.output
    assert "added 6 · changed 0 · closed 0 · reopened 0 · unchanged 0" in result.output
    from stationmap.store import open_store

    with open_store(database_url) as opened:
        assert opened.count() == 6
        assert {r.district_code for r in opened.snapshot().records} == {BAQIAO}
    assert runner.invoke(main, ["import", str(path), "--crs", "gcj02", "--into", database_url]).exit_code == 2


def test_cli_bad_rows_apply_nothing(runner, store, database_url, tmp_path):
    _seed(store)
    rows = _clerk_rows(_table())
    rows[1][2] = "不是数字"
    rows[3][3] = ""
    path = _write_table(tmp_path / "bad.csv", rows)
    before = store.revision()
    result = runner.invoke(main, ["import", str(path), "--crs", "gcj02", "--into", database_url])
    assert result.exit_code == 1
    assert "row 3" in result.output and "row 5" in result.output
    assert store.revision() == before
