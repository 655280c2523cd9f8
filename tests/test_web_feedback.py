"""Workers' feedback over HTTP on both backends: the public report, the editors' queue, refusals, 429, permissions."""

from __future__ import annotations

import pytest
from webcheck import assert_error  # tests/webcheck.py

from stationmap import accounts
from stationmap.config import Settings
from stationmap.web import create_app
from stationmap.web.live import app_state

CHEAP = accounts.ScryptCost(n=2**10, r=8, p=1)  # tests only: the real cost takes 0.4 s a hash
BAQIAO, GUANDU = "610111", "530111"


@pytest.fixture
def app(database_url, tmp_path):
    app = create_app(Settings(database_url=database_url, data_home=tmp_path / "home"))
    app.config["TESTING"] = True
    yield app
    app.extensions["stationmap_store"].close()


@pytest.fixture
def tokens(app) -> dict[str, str]:
    store = app.extensions["stationmap_store"]
    accounts.add_user(store, "admin", "admin", cost=CHEAP)
    accounts.add_user(store, "baqiao", "editor", districts=[BAQIAO], cost=CHEAP)
    accounts.add_user(store, "guandu", "editor", districts=[GUANDU], cost=CHEAP)
    accounts.add_user(store, "viewer", "viewer", cost=CHEAP)
    return {name: accounts.create_token(store, name, "test") for name in ("admin", "baqiao", "guandu", "viewer")}


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _station_of(app, adcode: str) -> tuple[str, list[str]]:
    state = app_state(app)
    sid = str(state.stations["id"][state.district_codes == adcode].iloc[0])
    amenities = app.extensions["stationmap_store"].get(sid).feature["properties"].get("amenities") or []
    return sid, list(amenities)


def _post(client, sid, body, addr="203.0.113.7"):
    return client.post(f"/api/stations/{sid}/feedback", json=body, environ_base={"REMOTE_ADDR": addr})


def test_every_kind_is_taken_without_an_account_and_the_phone_is_never_echoed(app):
    client = app.test_client()
    sid, amenities = _station_of(app, BAQIAO)
    bodies = [{"kind": "broken_facility", "amenity": amenities[0]}, {"kind": "closed_at_stated_hours"},
              {"kind": "wrong_location", "location": {"lon": 109.1, "lat": 34.3, "datum": "gcj02"}},
              {"kind": "unsafe_or_dirty", "rating": 1}, {"kind": "confirm_open", "rating": 5},
              {"kind": "other", "text": "没有热水", "phone": "13800138000"}]
    for n, body in enumerate(bodies):
        response = _post(client, sid, body, addr=f"198.51.100.{n}")
        assert response.status_code == 201, response.get_json()
        answer = response.get_json()
        assert answer["kind"] == body["kind"] and answer["station_id"] == sid
        assert answer["state"] == ("resolved" if body["kind"] == "confirm_open" else "new")
        assert "phone" not in answer and "13800138000" not in response.get_data(as_text=True)
        assert answer["deadline"].endswith("+08:00")
        assert "Access-Control-Allow-Origin" not in response.headers  # a write is not CORS-open


def test_refusals_answer_400_with_their_message(app):
    client = app.test_client()
    sid, _ = _station_of(app, BAQIAO)
    assert_error(_post(client, sid, {"kind": "nope"}), 400, "unknown feedback kind 'nope'")
    assert_error(_post(client, sid, {"kind": "broken_facility", "amenity": "helipad"}), 400,
                 "one of the station's listed amenities")
    assert_error(_post(client, sid, {"kind": "other", "text": "x" * 501}), 400, "text has 501 characters")
    assert_error(_post(client, sid, {"kind": "other", "text": "a\u0000b"}), 400, "control characters")
    assert_error(_post(client, sid, {"kind": "confirm_open", "rating": 6}), 400, "rating must be a whole number")
    assert_error(_post(client, sid, {"kind": "wrong_location"}), 400, "needs a location")
    assert_error(_post(client, sid, {"kind": "confirm_open", "phone": "138 0013"}), 400, "phone must be digits only")
    assert_error(client.post(f"/api/stations/{sid}/feedback", data=b"\xff"), 400, "not UTF-8")
    assert_error(client.post(f"/api/stations/{sid}/feedback", json=[1]), 400, "must be a JSON object")
    assert_error(_post(client, "000000-999", {"kind": "confirm_open"}), 404, "000000-999")


def test_the_eleventh_post_of_a_client_gets_429_with_retry_after(app):
    client = app.test_client()
    sid, _ = _station_of(app, BAQIAO)
    for _ in range(10):
        assert _post(client, sid, {"kind": "confirm_open"}).status_code == 201
    response = _post(client, sid, {"kind": "confirm_open"})
    assert_error(response, 429, "Too many reports from this address")
    assert 3590 <= int(response.headers["Retry-After"]) <= 3600
    assert _post(client, sid, {"kind": "confirm_open"}, addr="198.51.100.1").status_code == 201


def test_the_queue_is_for_the_districts_editors_and_admins(app, tokens):
    client = app.test_client()
    sid, _ = _station_of(app, BAQIAO)
    hostile = "<img src=x onerror=alert(1)>'; DROP TABLE feedback;--"
    report = _post(client, sid, {"kind": "other", "text": hostile, "phone": "13800138000"}).get_json()
    queue = client.get(f"/api/feedback?district={BAQIAO}", headers=_auth(tokens["baqiao"]))
    assert queue.status_code == 200
    [shown] = queue.get_json()["reports"]
    assert (shown["id"], shown["text"], shown["phone"], shown["overdue"]) == (report["id"], hostile, "13800138000",
                                                                             False)
    assert "client_key" not in shown
    assert queue.headers["Cache-Control"] == "no-store"
    assert client.get("/api/feedback", headers=_auth(tokens["admin"])).get_json()["reports"][0]["id"] == report["id"]
    assert client.get("/api/feedback", headers=_auth(tokens["guandu"])).get_json()["reports"] == []
    assert client.get("/api/feedback?state=resolved", headers=_auth(tokens["baqiao"])).get_json()["reports"] == []
    assert_error(client.get(f"/api/feedback?district={BAQIAO}", headers=_auth(tokens["guandu"])), 403,
                 "not of 610111")
    assert_error(client.get("/api/feedback", headers=_auth(tokens["viewer"])), 403, "may not handle")
    assert_error(client.get("/api/feedback"), 401, "needs an account")
    assert_error(client.get("/api/feedback?district=61011", headers=_auth(tokens["admin"])), 400, "district")

    url = f"/api/feedback/{report['id']}/state"
    assert_error(client.post(url, json={"state": "acknowledged"}, headers=_auth(tokens["guandu"])), 403,
                 "not of 610111")
    assert_error(client.post(url, json={"state": "acknowledged"}), 401, "needs an account")
    moved = client.post(url, json={"state": "acknowledged", "note": "已派人"}, headers=_auth(tokens["baqiao"]))
    assert moved.status_code == 200
    assert (moved.get_json()["state"], moved.get_json()["state_changed_by"]) == ("acknowledged", "baqiao")
    assert_error(client.post(url, json={"state": "resolved", "expected_state": "new"},
                             headers=_auth(tokens["admin"])), 409, "Reload the queue")
    assert client.post(url, json={"state": "resolved"}, headers=_auth(tokens["admin"])).status_code == 200
    assert_error(client.post(url, json={"state": "new"}, headers=_auth(tokens["admin"])), 400, "may become nothing")
    assert_error(client.post("/api/feedback/999999/state", json={"state": "resolved"},
                             headers=_auth(tokens["admin"])), 404, "No feedback report 999999")


def test_a_session_needs_its_csrf_token_to_move_a_report(app, tokens):
    client = app.test_client()
    sid, _ = _station_of(app, BAQIAO)
    report = _post(client, sid, {"kind": "unsafe_or_dirty"}).get_json()
    store = app.extensions["stationmap_store"]
    accounts.set_password(store, "baqiao", "a long password 1", cost=CHEAP)
    login = client.post("/api/login", json={"name": "baqiao", "password": "a long password 1"})
    csrf = login.get_json()["csrf_token"]
    url = f"/api/feedback/{report['id']}/state"
    assert_error(client.post(url, json={"state": "acknowledged"}), 403, "X-CSRF-Token")
    assert client.post(url, json={"state": "acknowledged"}, headers={"X-CSRF-Token": csrf}).status_code == 200


def test_every_feedback_route_is_documented(app):
    paths = app.test_client().get("/api/openapi.json").get_json()["paths"]
    assert "post" in paths["/api/stations/{id}/feedback"]
    assert paths["/api/feedback"]["get"]["security"]
    assert "post" in paths["/api/feedback/{feedback_id}/state"]
