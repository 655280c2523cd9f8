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


def _version(client, sid: str) -> int:
    response = client.get(f"/api/stations/{sid}")
    return int(response.headers["ETag"].strip('"'))


def test_resolving_removes_the_broken_amenity_as_an_edit_in_the_history(app, tokens):
    client = app.test_client()
    sid, amenities = _station_of(app, BAQIAO)
    broken = amenities[0]
    report = _post(client, sid, {"kind": "broken_facility", "amenity": broken, "text": "坏了"}).get_json()
    version = _version(client, sid)
    kept = [a for a in amenities if a != broken]
    answer = client.post(f"/api/feedback/{report['id']}/state", headers=_auth(tokens["baqiao"]),
                         json={"state": "resolved", "note": "已撤下", "expected_state": "new",
                               "edit": {"properties": {"amenities": kept}}, "if_match": version})
    assert answer.status_code == 200, answer.get_json()
    resolved = answer.get_json()
    assert (resolved["state"], resolved["note"], resolved["state_changed_by"]) == ("resolved", "已撤下", "baqiao")
    station = client.get(f"/api/stations/{sid}").get_json()
    assert broken not in station["properties"]["amenities"] and station["properties"]["amenities"] == kept
    assert station["version"] == version + 1
    last = client.get(f"/api/stations/{sid}/history", headers=_auth(tokens["baqiao"])).get_json()["edits"][-1]
    assert (last["edit_id"], last["user"], last["action"]) == (resolved["edit_id"], "baqiao", "modify")
    assert last["comment"] == f"反馈 #{report['id']}: 已撤下"
    assert broken in last["before"]["properties"]["amenities"] and broken not in last["after"]["properties"]["amenities"]
    queue = client.get(f"/api/feedback?district={BAQIAO}", headers=_auth(tokens["baqiao"])).get_json()["reports"]
    assert [r["edit_id"] for r in queue if r["id"] == report["id"]] == [resolved["edit_id"]]


def test_a_refused_edit_leaves_the_report_and_the_station_as_they_were(app, tokens):
    client = app.test_client()
    sid, amenities = _station_of(app, BAQIAO)
    report = _post(client, sid, {"kind": "broken_facility", "amenity": amenities[0]}).get_json()
    url = f"/api/feedback/{report['id']}/state"
    version = _version(client, sid)
    before = client.get(f"/api/stations/{sid}").get_json()
    edit = {"properties": {"amenities": amenities[1:]}}
    stale = client.post(url, json={"state": "resolved", "edit": edit, "if_match": version - 1 or 99},
                        headers=_auth(tokens["baqiao"]))
    assert stale.status_code == 412 and "someone changed it" in stale.get_json()["error"]
    assert stale.get_json()["current"]["version"] == version
    assert_error(client.post(url, json={"state": "resolved", "edit": edit}, headers=_auth(tokens["baqiao"])), 428,
                 "If-Match")
    invalid = client.post(url, json={"state": "resolved", "edit": {"properties": {"stars": 9}}, "if_match": version},
                          headers=_auth(tokens["baqiao"]))
    assert invalid.status_code == 422 and "stars" in invalid.get_json()["error"]
    assert_error(client.post(url, json={"state": "acknowledged", "edit": edit, "if_match": version},
                             headers=_auth(tokens["baqiao"])), 400, "state 'resolved' only")
    assert_error(client.post(url, json={"state": "resolved", "edit": edit, "if_match": version},
                             headers=_auth(tokens["guandu"])), 403, "not of 610111")
    assert_error(client.post(url, json={"state": "resolved", "edit": edit, "if_match": "v3"},
                             headers=_auth(tokens["baqiao"])), 400, "if_match must be the station's version")
    [shown] = [r for r in client.get(f"/api/feedback?district={BAQIAO}", headers=_auth(tokens["baqiao"]))
               .get_json()["reports"] if r["id"] == report["id"]]
    assert (shown["state"], shown["edit_id"], shown["state_changed_by"]) == ("new", None, None)
    assert client.get(f"/api/stations/{sid}").get_json() == before


def test_a_report_moved_since_refuses_the_edit_too(app, tokens):
    client = app.test_client()
    sid, amenities = _station_of(app, BAQIAO)
    report = _post(client, sid, {"kind": "broken_facility", "amenity": amenities[0]}).get_json()
    url = f"/api/feedback/{report['id']}/state"
    assert client.post(url, json={"state": "rejected", "note": "重复"}, headers=_auth(tokens["admin"])).status_code \
        == 200
    version = _version(client, sid)
    refused = client.post(url, json={"state": "resolved", "expected_state": "new", "if_match": version,
                                     "edit": {"properties": {"amenities": amenities[1:]}}},
                          headers=_auth(tokens["baqiao"]))
    assert_error(refused, 409, "Reload the queue")
    assert _version(client, sid) == version  # the edit rolled back with the refused state change
    assert amenities[0] in client.get(f"/api/stations/{sid}").get_json()["properties"]["amenities"]


def test_resolving_a_wrong_location_moves_the_station_there(app, tokens):
    client = app.test_client()
    sid, _ = _station_of(app, BAQIAO)
    lon, lat = client.get(f"/api/stations/{sid}").get_json()["geometry"]["coordinates"][:2]
    there = {"lon": round(lon + 0.001, 6), "lat": round(lat + 0.001, 6)}  # ~140 m north-east, still in 灞桥区
    report = _post(client, sid, {"kind": "wrong_location", "location": there}).get_json()
    answer = client.post(f"/api/feedback/{report['id']}/state", headers=_auth(tokens["admin"]),
                         json={"state": "resolved", "if_match": _version(client, sid),
                               "edit": {"geometry": {"type": "Point", "coordinates": [there["lon"], there["lat"]]}}})
    assert answer.status_code == 200, answer.get_json()
    assert client.get(f"/api/stations/{sid}").get_json()["geometry"]["coordinates"][:2] == [there["lon"], there["lat"]]
    last = client.get(f"/api/stations/{sid}/history", headers=_auth(tokens["admin"])).get_json()["edits"][-1]
    assert last["comment"] == f"反馈 #{report['id']}: 位置不对"


def test_a_confirmation_becomes_last_verified_without_an_edit(app):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    client = app.test_client()
    live = app.extensions["stationmap"]
    sid, _ = _station_of(app, BAQIAO)
    recorded = app.extensions["stationmap_store"].get(sid).feature["properties"]["last_verified"]
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    assert recorded < today  # the demo's dates are all in the past
    before = client.get(f"/api/stations/{sid}").get_json()["properties"]
    assert (before["last_verified"], before["last_verified_source"]) == (recorded, "union")
    revision = app.extensions["stationmap_store"].revision()

    live.confirmations_every_s = 3600  # not yet due: the state still shows the record's date
    assert _post(client, sid, {"kind": "confirm_open"}).status_code == 201
    assert client.get(f"/api/stations/{sid}").get_json()["properties"]["last_verified"] == recorded
    live.confirmations_every_s = 0  # due: the next request reads the new confirmation
    after = client.get(f"/api/stations/{sid}").get_json()["properties"]
    assert (after["last_verified"], after["last_verified_source"]) == (today, "worker")
    feature = client.get(f"/api/stations/{sid}").get_json()
    lon, lat = feature["geometry"]["coordinates"]
    near = client.get(f"/api/nearest?lon={lon}&lat={lat}&k=1").get_json()["features"][0]["properties"]
    assert (near["id"], near["last_verified"], near["last_verified_source"]) == (sid, today, "worker")
    # with a need, a closed station ranks after open ones (at 21:00 China time this one closes): find it by id
    ranked = client.get(f"/api/nearest?lon={lon}&lat={lat}&need=any&k=20").get_json()["features"]
    need = next(f["properties"] for f in ranked if f["properties"]["id"] == sid)
    assert (need["last_verified"], need["last_verified_source"]) == (today, "worker")
    # a confirmation is not an edit: the register's record and revision are unchanged
    assert app.extensions["stationmap_store"].get(sid).feature["properties"]["last_verified"] == recorded
    assert app.extensions["stationmap_store"].revision() == revision


def test_a_flood_of_ten_thousand_posts_is_bounded_and_the_worker_page_answers_the_same(app, database_url):
    """10,000 posts from 10,000 addresses, 150 of them at one station: the register takes its 5,000 a day, the
    station its 100, every other post gets 429 with Retry-After, the disk grows by at most 5,000 reports of the
    longest kind, and the worker page's answer is unchanged (its speed: benchmarks/bench_flood.py)."""
    from stationmap.parameters import FEEDBACK_REGISTER_PER_DAY, FEEDBACK_STATION_PER_DAY, FEEDBACK_TEXT_MAX_CHARS

    client = app.test_client()
    store = app.extensions["stationmap_store"]
    ids = [str(i) for i in app_state(app).stations["id"]]
    nearest = "/api/nearest?lon=109.06&lat=34.27&k=5"
    before = _timeless(client.get(nearest).get_json())
    size = _register_bytes(database_url)
    body = {"kind": "other", "text": "字" * FEEDBACK_TEXT_MAX_CHARS, "phone": "1" * 20}
    answers: dict[int, int] = {}
    retry_after_ok = True
    for i in range(10_000):
        sid = ids[0] if i < 150 else ids[i % len(ids)]
        response = _post(client, sid, body, addr=f"10.{i // 65536}.{i // 256 % 256}.{i % 256}")
        answers[response.status_code] = answers.get(response.status_code, 0) + 1
        if response.status_code == 429:
            retry_after_ok &= int(response.headers["Retry-After"]) > 0
    assert answers == {201: FEEDBACK_REGISTER_PER_DAY, 429: 10_000 - FEEDBACK_REGISTER_PER_DAY}
    assert retry_after_ok
    kept = store.feedback_for(None, limit=10_000)
    assert len(kept) == FEEDBACK_REGISTER_PER_DAY
    assert sum(r.station_id == ids[0] for r in kept) == FEEDBACK_STATION_PER_DAY
    if size is not None:  # SQLite: 5,000 reports of 500 CJK characters (1,500 bytes) take under 4 kB each
        assert _register_bytes(database_url) - size < FEEDBACK_REGISTER_PER_DAY * 4096
    assert _timeless(client.get(nearest).get_json()) == before


def _timeless(answer: dict) -> list[dict]:
    """The features of a /api/nearest answer without the words of the moment ("closes at 21:00" becomes "closed,
    opens tomorrow" when the run crosses 21:00 China time, as one full-suite run did)."""
    moment = ("open_now", "state_text", "next_change")
    return [{**f, "properties": {k: v for k, v in f["properties"].items() if k not in moment}}
            for f in answer["features"]]


def _register_bytes(database_url: str) -> int | None:
    """The SQLite register's size on disk with its WAL (bytes); None for PostgreSQL."""
    if not database_url.startswith("sqlite"):
        return None
    from stationmap.store.sqlite import sqlite_path

    path = sqlite_path(database_url)
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def test_the_queue_page_carries_its_strings_and_the_worker_page_does_not(app):
    client = app.test_client()
    page = client.get("/feedback?lang=en")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "feedback queue" in html and "queue.js" in html and '"queue.conflict"' in html
    assert '"queue.conflict"' not in client.get("/").get_data(as_text=True)
    assert "工人反馈处理" in client.get("/feedback?lang=zh").get_data(as_text=True)
