"""The register's write API on both backends: ETags and If-Match, 412/428, permissions, CSRF, history, revert,
and every process seeing an edit at once."""

from __future__ import annotations

import json

import pytest
from webcheck import assert_error  # tests/webcheck.py

from stationmap import accounts, geo
from stationmap.config import Settings
from stationmap.web import create_app
from stationmap.web.live import app_state

CHEAP = accounts.ScryptCost(n=2**10, r=8, p=1)  # tests only: the real cost takes 0.4 s a hash
BAQIAO, GUANDU = "610111", "530111"


@pytest.fixture
def settings(database_url, tmp_path) -> Settings:
    """The bundled demo in a fresh register on each backend."""
    return Settings(database_url=database_url, data_home=tmp_path / "home")


@pytest.fixture
def app(settings):
    app = create_app(settings)
    app.config["TESTING"] = True
    yield app
    app.extensions["stationmap_store"].close()


@pytest.fixture
def tokens(app) -> dict[str, str]:
    store = app.extensions["stationmap_store"]
    accounts.add_user(store, "admin", "admin", cost=CHEAP)
    accounts.add_user(store, "baqiao", "editor", districts=[BAQIAO], cost=CHEAP)
    accounts.add_user(store, "viewer", "viewer", cost=CHEAP)
    return {name: accounts.create_token(store, name, "test") for name in ("admin", "baqiao", "viewer")}


def _auth(token: str, version: int | None = None, **more: str) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}", **more}
    if version is not None:
        headers["If-Match"] = f'"{version}"'
    return headers


def _station_of(app, adcode: str) -> str:
    state = app_state(app)
    return str(state.stations["id"][state.district_codes == adcode].iloc[0])


def test_get_gives_the_version_as_etag(app):
    client = app.test_client()
    sid = _station_of(app, BAQIAO)
    response = client.get(f"/api/stations/{sid}")
    assert response.status_code == 200
    assert response.headers["ETag"] == '"1"'
    assert response.get_json()["version"] == 1


def test_patch_needs_if_match_and_refuses_a_stale_one_with_the_current_record(app, tokens):
    client = app.test_client()
    sid = _station_of(app, BAQIAO)
    body = {"properties": {"stars": 4}, "comment": "年度复评"}
    assert_error(client.patch(f"/api/stations/{sid}", json=body, headers=_auth(tokens["admin"])), 428, "If-Match")
    assert_error(client.patch(f"/api/stations/{sid}", json=body,
                              headers=_auth(tokens["admin"], **{"If-Match": "*"})), 428, "wildcard")
    ok = client.patch(f"/api/stations/{sid}", json=body, headers=_auth(tokens["admin"], 1))
    assert ok.status_code == 200, ok.get_json()
    assert ok.headers["ETag"] == '"2"'
    assert ok.get_json()["properties"]["stars"] == 4
    assert ok.get_json()["edit"]["comment"] == "年度复评"
    stale = client.patch(f"/api/stations/{sid}", json={"properties": {"stars": 1}},
                         headers=_auth(tokens["admin"], 1))
    assert stale.status_code == 412
    assert stale.headers["ETag"] == '"2"'
    assert stale.get_json()["current"]["properties"]["stars"] == 4
    assert stale.get_json()["current"]["version"] == 2


def test_the_next_request_sees_the_edit(app, tokens):
    client = app.test_client()
    sid = _station_of(app, BAQIAO)
    client.patch(f"/api/stations/{sid}", json={"properties": {"name": "改过名的驿站"}},
                 headers=_auth(tokens["admin"], 1))
    assert client.get(f"/api/stations/{sid}").get_json()["properties"]["name"] == "改过名的驿站"
    found = client.get("/api/stations", query_string={"q": "改过名"}).get_json()
    assert [f["id"] for f in found["features"]] == [sid]


def test_another_process_sees_the_edit_at_once(app, settings, tokens):
    other = create_app(settings)  # a second worker process's app over the same database
    try:
        sid = _station_of(app, BAQIAO)
        lon, lat = app_state(app).stations.set_index("id").geometry[sid].coords[0]
        moved = [round(lon + 0.003, 6), round(lat, 6)]
        response = app.test_client().patch(f"/api/stations/{sid}", json={"geometry": {
            "type": "Point", "coordinates": moved}}, headers=_auth(tokens["admin"], 1))
        assert response.status_code == 200, response.get_json()
        seen = other.test_client().get(f"/api/stations/{sid}")
        assert seen.headers["ETag"] == '"2"'
        assert seen.get_json()["geometry"]["coordinates"] == moved
        nearest = other.test_client().get("/api/nearest", query_string={"lon": moved[0], "lat": moved[1], "k": 1})
        assert nearest.get_json()["features"][0]["id"] == sid
    finally:
        other.extensions["stationmap_store"].close()


def test_add_in_gcj02_then_close_and_reopen(app, tokens):
    client = app.test_client()
    wgs = (109.0700, 34.2700)
    gcj = geo.convert_coords(*wgs, src="wgs84", dst="gcj02")
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [float(gcj[0]), float(gcj[1])]},
               "properties": {"name": "纺织城测试驿站", "opening_hours": "24/7", "amenities": ["drinking_water"]},
               "comment": "新建"}
    added = client.post("/api/stations?datum=gcj02", json=feature, headers=_auth(tokens["baqiao"]))
    assert added.status_code == 201, added.get_json()
    sid = added.get_json()["id"]
    assert sid.startswith("610111-")
    assert added.headers["Location"].endswith(f"/api/stations/{sid}")
    lon, lat = added.get_json()["geometry"]["coordinates"]
    assert geo.geodesic_distance_m(lon, lat, *wgs) < 0.5
    near = client.get("/api/nearest", query_string={"lon": wgs[0], "lat": wgs[1], "k": 1}).get_json()
    assert near["features"][0]["id"] == sid
    closed = client.delete(f"/api/stations/{sid}", headers=_auth(tokens["baqiao"], 1))
    assert closed.status_code == 200
    assert closed.get_json()["properties"]["status"] == "closed"
    near = client.get("/api/nearest", query_string={"lon": wgs[0], "lat": wgs[1], "k": 1}).get_json()
    assert near["features"][0]["id"] != sid  # workers are never sent to a closed station
    detail = client.get(f"/api/stations/{sid}")  # still there for the editors, with its version
    assert (detail.status_code, detail.headers["ETag"]) == (200, '"2"')
    reopened = client.post(f"/api/stations/{sid}/reopen", headers=_auth(tokens["baqiao"], 2))
    assert reopened.status_code == 200
    history = client.get(f"/api/stations/{sid}/history", headers=_auth(tokens["viewer"])).get_json()
    assert [e["action"] for e in history["edits"]] == ["add", "close", "reopen"]
    assert [e["user"] for e in history["edits"]] == ["baqiao"] * 3


def test_invalid_record_is_422_with_every_problem(app, tokens):
    client = app.test_client()
    sid = _station_of(app, BAQIAO)
    response = client.patch(f"/api/stations/{sid}", json={"properties": {"stars": 9, "toilet": "maybe"}},
                            headers=_auth(tokens["admin"], 1))
    assert response.status_code == 422
    assert sorted(p["field"] for p in response.get_json()["problems"]) == ["stars", "toilet"]
    assert client.get(f"/api/stations/{sid}").headers["ETag"] == '"1"'


def test_permissions_and_anonymous_writes(app, tokens):
    client = app.test_client()
    guandu = _station_of(app, GUANDU)
    body = {"properties": {"stars": 1}}
    assert_error(client.patch(f"/api/stations/{guandu}", json=body, headers={"If-Match": '"1"'}), 401, "account")
    assert_error(client.patch(f"/api/stations/{guandu}", json=body, headers=_auth(tokens["viewer"], 1)), 403,
                 "viewer")
    assert_error(client.patch(f"/api/stations/{guandu}", json=body, headers=_auth(tokens["baqiao"], 1)), 403,
                 "610111 only")
    assert_error(client.get(f"/api/stations/{guandu}/history"), 401, "account")
    assert_error(client.patch(f"/api/stations/{guandu}", json=body, headers=_auth("smt_forged", 1)), 401, "")
    assert client.get(f"/api/stations/{guandu}").headers["ETag"] == '"1"'


def test_browser_session_writes_need_the_csrf_token(app, tokens):
    store = app.extensions["stationmap_store"]
    accounts.set_password(store, "baqiao", "灞桥区编辑员-2026", cost=CHEAP)
    client = app.test_client()
    login = client.post("/api/login", json={"name": "baqiao", "password": "灞桥区编辑员-2026"})
    assert login.status_code == 200, login.get_json()
    csrf = login.get_json()["csrf_token"]
    sid = _station_of(app, BAQIAO)
    body = {"properties": {"capacity": 12}}
    assert_error(client.patch(f"/api/stations/{sid}", json=body, headers={"If-Match": '"1"'}), 403, "CSRF")
    ok = client.patch(f"/api/stations/{sid}", json=body, headers={"If-Match": '"1"', "X-CSRF-Token": csrf})
    assert ok.status_code == 200, ok.get_json()
    assert ok.get_json()["properties"]["capacity"] == 12


def test_revert_is_a_new_edit(app, tokens):
    client = app.test_client()
    sid = _station_of(app, BAQIAO)
    original = client.get(f"/api/stations/{sid}").get_json()["properties"]["name"]
    changed = client.patch(f"/api/stations/{sid}", json={"properties": {"name": "误改"}},
                           headers=_auth(tokens["admin"], 1)).get_json()
    edit_id = changed["edit"]["edit_id"]
    assert_error(client.post(f"/api/edits/{edit_id}/revert", headers=_auth(tokens["admin"])), 428, "If-Match")
    reverted = client.post(f"/api/edits/{edit_id}/revert", headers=_auth(tokens["admin"], 2))
    assert reverted.status_code == 200, reverted.get_json()
    assert reverted.get_json()["properties"]["name"] == original
    assert reverted.get_json()["edit"]["reverts"] == edit_id
    for bad in ("0", "501", "x"):
        assert_error(client.get("/api/edits", query_string={"limit": bad}, headers=_auth(tokens["viewer"])), 400,
                     "limit")
    recent = client.get("/api/edits", query_string={"limit": 2}, headers=_auth(tokens["viewer"])).get_json()
    assert [e["action"] for e in recent["edits"]] == ["revert", "modify"]
    assert "before=" in recent["next"]


def test_write_routes_refuse_bad_bodies_plainly(app, tokens):
    client = app.test_client()
    sid = _station_of(app, BAQIAO)
    headers = _auth(tokens["admin"], 1, **{"Content-Type": "application/json"})
    assert_error(client.patch(f"/api/stations/{sid}", data="{", headers=headers), 400, "not JSON")
    assert_error(client.patch(f"/api/stations/{sid}", data="[1]", headers=headers), 400, "JSON object")
    assert_error(client.patch(f"/api/stations/{sid}", data="[" * 100_000, headers=headers), 400, "")
    assert_error(client.patch(f"/api/stations/{sid}", data=b"\xff\xfe", headers=headers), 400, "UTF-8")
    assert_error(client.patch(f"/api/stations/{sid}", json={"properties": {}, "colour": 1}, headers=headers), 400,
                 "Unknown members")
    assert_error(client.patch(f"/api/stations/{sid}", json={"properties": {"name": "x"}},
                              headers=_auth(tokens["admin"], **{"If-Match": '"abc"'})), 400, "ETag")
    hostile = {"properties": {"name": "<img src=x onerror=alert(1)>"}}
    response = client.patch(f"/api/stations/{sid}", json=hostile, headers=headers)
    assert response.status_code == 200  # stored as text; every page escapes it
    assert json.loads(response.get_data())["properties"]["name"] == "<img src=x onerror=alert(1)>"


def test_write_api_is_not_open_cross_origin(app, tokens):
    client = app.test_client()
    sid = _station_of(app, BAQIAO)
    read = client.get(f"/api/stations/{sid}")
    assert read.headers["Access-Control-Allow-Origin"] == "*"
    write = client.patch(f"/api/stations/{sid}", json={"properties": {"stars": 2}}, headers=_auth(tokens["admin"], 1))
    assert "Access-Control-Allow-Origin" not in write.headers
