"""Edits of the living register, on SQLite and on PostGIS: validation, districts, permissions, versions, revert."""

from __future__ import annotations

import copy
import json
import threading

import pytest

from stationmap import editing, geo
from stationmap.config import BUNDLED_DATA_DIR
from stationmap.errors import (
    AuthenticationError,
    BadRequestError,
    EditConflictError,
    PermissionDeniedError,
    PreconditionRequiredError,
    StationDataError,
    VersionConflictError,
)
from stationmap.store import Change, User

ADMIN = User("admin", "admin")
BAQIAO_EDITOR = User("baqiao", "editor", ("610111",))
GUANDU_EDITOR = User("guandu", "editor", ("530111",))
VIEWER = User("viewer", "viewer")


@pytest.fixture
def places(boundary_cache):
    return editing.Places(data_dir=BUNDLED_DATA_DIR, cache_dir=boundary_cache)


def _bundled(adcode: str, n: int) -> list[dict]:
    doc = json.loads((BUNDLED_DATA_DIR / "stations" / f"{adcode}.geojson").read_text(encoding="utf-8"))
    return copy.deepcopy(doc["features"][:n])


@pytest.fixture
def register(store):
    """Three stations of 灞桥区 (610111) and two of 官渡区 (530111), each at version 1."""
    changes = [Change(f["id"], "add", f, "610111") for f in _bundled("610111", 3)]
    changes += [Change(f["id"], "add", f, "530111") for f in _bundled("530111", 2)]
    store.apply(changes, user="seed", comment="seed")
    return store


def _new_station(lon: float = 109.0700, lat: float = 34.2700, **props) -> dict:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {"name": "纺织城测试驿站", "opening_hours": "Mo-Su 07:00-19:00", **props}}


# --- add -------------------------------------------------------------------------------------------------------


def test_add_numbers_the_station_in_its_district_and_records_who_and_why(register, places):
    edit = editing.add_station(register, _new_station(), user=BAQIAO_EDITOR, places=places, comment="新建驿站")
    assert (edit.station_id, edit.district_code, edit.version, edit.action) == ("610111-006", "610111", 1, "add")
    assert (edit.user, edit.comment, edit.before) == ("baqiao", "新建驿站", None)
    stored = register.get("610111-006")
    assert stored.feature["properties"]["name"] == "纺织城测试驿站"
    assert stored.feature["properties"]["status"] == "open"


def test_add_in_gcj02_stores_wgs84(register, places):
    wgs_lon, wgs_lat = 109.0700, 34.2700
    gcj_lon, gcj_lat = geo.convert_coords(wgs_lon, wgs_lat, src="wgs84", dst="gcj02")
    feature = _new_station(float(gcj_lon), float(gcj_lat), id="610111-900")
    editing.add_station(register, feature, user=ADMIN, places=places, datum="gcj02")
    lon, lat = register.get("610111-900").feature["geometry"]["coordinates"]
    assert geo.geodesic_distance_m(lon, lat, wgs_lon, wgs_lat) < 0.5  # the inverse is sub-metre


def test_add_refuses_a_taken_id_and_an_invalid_record_with_every_problem(register, places):
    with pytest.raises(EditConflictError, match="already in the register"):
        editing.add_station(register, _new_station(id="610111-001"), user=ADMIN, places=places)
    bad = _new_station(id="610111-901", stars=9, toilet="maybe")
    with pytest.raises(StationDataError) as err:
        editing.add_station(register, bad, user=ADMIN, places=places)
    fields = sorted(p.field for p in err.value.problems)
    assert fields == ["stars", "toilet"]
    assert all(p.where == "record" for p in err.value.problems)
    assert register.revision() == 5  # the five added stations: nothing more was written


def test_add_refuses_a_station_far_outside_the_district_it_names(register, places):
    # a point in 官渡区 (Kunming) that says it is in 灞桥区
    lon, lat = _bundled("530111", 1)[0]["geometry"]["coordinates"]
    with pytest.raises(StationDataError, match="610111"):
        editing.add_station(register, _new_station(lon, lat, district_code="610111"), user=ADMIN, places=places)


# --- permissions ------------------------------------------------------------------------------------------------


def test_permissions_by_role_and_district(register, places):
    with pytest.raises(AuthenticationError):
        editing.add_station(register, _new_station(), user=None, places=places)
    with pytest.raises(PermissionDeniedError, match="viewer"):
        editing.add_station(register, _new_station(), user=VIEWER, places=places)
    with pytest.raises(PermissionDeniedError, match="530111 only, not of 610111"):
        editing.add_station(register, _new_station(), user=GUANDU_EDITOR, places=places)
    guandu_id = _bundled("530111", 1)[0]["id"]
    with pytest.raises(PermissionDeniedError):
        editing.update_station(register, guandu_id, {"properties": {"stars": 1}}, user=BAQIAO_EDITOR,
                               expected_version=1, places=places)
    disabled = User("gone", "admin", disabled=True)
    with pytest.raises(PermissionDeniedError, match="disabled"):
        editing.close_station(register, guandu_id, user=disabled, expected_version=1, places=places)
    assert register.revision() == 5


def test_an_editor_cannot_move_a_station_out_of_their_district(register, places):
    guandu_point = _bundled("530111", 1)[0]["geometry"]
    with pytest.raises(PermissionDeniedError, match="530111"):
        editing.update_station(register, "610111-001", {"geometry": guandu_point,
                                                        "properties": {"district_code": None, "district": None}},
                               user=BAQIAO_EDITOR, expected_version=1, places=places)


# --- versions ---------------------------------------------------------------------------------------------------


def test_patch_merges_properties_and_needs_the_current_version(register, places):
    with pytest.raises(PreconditionRequiredError):
        editing.update_station(register, "610111-001", {"properties": {"stars": 2}}, user=ADMIN,
                               expected_version=None, places=places)
    before = register.get("610111-001").feature["properties"]
    assert "phone" in before
    edit = editing.update_station(register, "610111-001", {"properties": {"stars": 2, "phone": None}},
                                  user=ADMIN, expected_version=1, places=places, comment="复评")
    after = register.get("610111-001").feature["properties"]
    assert (edit.version, after["stars"], "phone" in after, after["name"]) == (2, 2, False, before["name"])
    with pytest.raises(VersionConflictError) as err:
        editing.update_station(register, "610111-001", {"properties": {"stars": 3}}, user=ADMIN,
                               expected_version=1, places=places)
    assert err.value.current.version == 2
    assert err.value.current.feature["properties"]["stars"] == 2


def test_patch_cannot_change_the_id_or_carry_unknown_members(register, places):
    with pytest.raises(StationDataError, match="cannot change"):
        editing.update_station(register, "610111-001", {"properties": {"id": "x"}}, user=ADMIN,
                               expected_version=1, places=places)
    with pytest.raises(BadRequestError, match="Unknown members"):
        editing.update_station(register, "610111-001", {"properties": {}, "colour": "red"}, user=ADMIN,
                               expected_version=1, places=places)


def test_replace_removes_the_fields_left_out(register, places):
    feature = register.get("610111-002").feature
    whole = {"properties": {"id": "610111-002", "name": "新名字", "district_code": "610111"},
             "geometry": feature["geometry"]}
    editing.update_station(register, "610111-002", whole, user=ADMIN, expected_version=1, places=places,
                           replace=True)
    assert sorted(register.get("610111-002").feature["properties"]) == ["district_code", "id", "name"]


def test_concurrent_edits_of_one_station_one_wins(register, places):
    results: list[str] = []
    barrier = threading.Barrier(6)

    def edit(stars: int) -> None:
        barrier.wait()
        try:
            editing.update_station(register, "610111-003", {"properties": {"stars": stars}}, user=ADMIN,
                                   expected_version=1, places=places)
            results.append("ok")
        except VersionConflictError:
            results.append("412")

    threads = [threading.Thread(target=edit, args=(n % 5 + 1,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["412"] * 5 + ["ok"]
    assert [e.version for e in register.history("610111-003")] == [1, 2]


# --- close, reopen, revert --------------------------------------------------------------------------------------


def test_close_keeps_history_and_reopen_brings_it_back(register, places):
    closed = editing.close_station(register, "610111-001", user=ADMIN, expected_version=1, places=places,
                                   comment="场地拆迁")
    assert (closed.action, register.get("610111-001").status) == ("close", "closed")
    with pytest.raises(BadRequestError, match="closed already"):
        editing.close_station(register, "610111-001", user=ADMIN, expected_version=2, places=places)
    reopened = editing.reopen_station(register, "610111-001", user=ADMIN, expected_version=2, places=places)
    assert (reopened.action, reopened.version, register.get("610111-001").status) == ("reopen", 3, "open")
    assert [e.action for e in register.history("610111-001")] == ["add", "close", "reopen"]


def test_revert_restores_the_record_before_as_a_new_edit(register, places):
    original = register.get("610111-001").feature
    change = editing.update_station(register, "610111-001", {"properties": {"name": "错名"}}, user=ADMIN,
                                    expected_version=1, places=places)
    revert = editing.revert_edit(register, change.edit_id, user=BAQIAO_EDITOR, expected_version=2, places=places)
    assert (revert.action, revert.version, revert.reverts) == ("revert", 3, change.edit_id)
    assert revert.comment == f"revert edit {change.edit_id}"
    assert register.get("610111-001").feature["properties"] == original["properties"]
    with pytest.raises(VersionConflictError):  # based on a version that is no longer current
        editing.revert_edit(register, change.edit_id, user=ADMIN, expected_version=2, places=places)


def test_reverting_an_add_closes_the_station(register, places):
    added = editing.add_station(register, _new_station(), user=ADMIN, places=places)
    editing.revert_edit(register, added.edit_id, user=ADMIN, expected_version=1, places=places)
    assert register.get(added.station_id).status == "closed"


def test_comments_are_plain_and_bounded(register, places):
    with pytest.raises(BadRequestError, match="at most 500"):
        editing.close_station(register, "610111-001", user=ADMIN, expected_version=1, places=places,
                              comment="长" * 501)
    with pytest.raises(BadRequestError, match="control characters"):
        editing.close_station(register, "610111-001", user=ADMIN, expected_version=1, places=places,
                              comment="a\x1b[31mb")


def test_merge_patch_follows_rfc_7396():
    target = {"a": "b", "c": {"d": "e", "f": "g"}, "l": [1, 2]}
    patch = {"a": "z", "c": {"f": None}, "l": [3]}
    assert editing.merge_patch(target, patch) == {"a": "z", "c": {"d": "e"}, "l": [3]}
    assert target["c"] == {"d": "e", "f": "g"}  # not changed in place
