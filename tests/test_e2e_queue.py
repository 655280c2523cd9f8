"""End to end: the editors' queue of workers' reports (/feedback) on the real server, on both database backends.

An editor of 灞桥区 (610111) signs in through the login page and sees their district's reports only, newest first,
with the one past its deadline flagged; acknowledges one, resolves a broken facility by removing the amenity from the
station (an edit in its history naming the report), rejects one with the note the page insists on, moves a station
to where a worker says it is, and is told in words when someone else got there first (409) or changed the station
(412). A worker's hostile text shows literally and fires no dialog. Screenshots at 360×640 and 1280×800.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from stationmap import editing, feedback, i18n
from stationmap.accounts import ScryptCost, add_user
from stationmap.config import BUNDLED_DATA_DIR, Settings
from stationmap.store import User, utc_now

pytestmark = pytest.mark.e2e

BAQIAO, GUANDU = "610111", "530111"
EDITOR, ADMIN = ("baqiao", "editor pass 610111"), ("boss", "admin pass 000000")
CHEAP = ScryptCost(n=16, r=1, p=1)  # tests only
EVIL = "<img src=x onerror=alert(1)><script>alert(2)</script>"
TIMEOUT_MS = 30_000


def zh(key: str, **values: object) -> str:
    return i18n.text(f"web.queue.{key}", "zh").format(**values)


def en(key: str, **values: object) -> str:
    return i18n.text(f"web.queue.{key}", "en").format(**values)


@pytest.fixture
def served(database_url: str, tmp_path) -> Iterator[tuple[str, Any, dict[str, int]]]:
    """
    The real server on a fresh register (the bundled demo) with an editor of 610111 and an admin, and reports:
    ``overdue`` (broken meal heating at 610111-001, made 10 days ago), ``broken`` (broken seating at 610111-003),
    ``hostile`` (other, EVIL text, at 610111-002), ``moved`` (wrong location of 610111-005, 144 m north-east),
    ``race`` (unsafe at 610111-004) and ``elsewhere`` (at 530111-001, another district's).
    """
    from stationmap.web.app import create_app
    from stationmap.web.server import running_server

    settings = Settings(data_dir=BUNDLED_DATA_DIR, host="127.0.0.1", port=0, database_url=database_url,
                        data_home=tmp_path / "home")
    app = create_app(settings)
    store = app.extensions["stationmap_store"]
    add_user(store, EDITOR[0], "editor", districts=[BAQIAO], password=EDITOR[1], cost=CHEAP)
    add_user(store, ADMIN[0], "admin", password=ADMIN[1], cost=CHEAP)
    lon, lat = store.get("610111-005").feature["geometry"]["coordinates"][:2]
    now = utc_now()

    def report(n: int, sid: str, body: dict[str, Any], age: timedelta = timedelta(0)) -> int:
        return feedback.submit_feedback(store, sid, body, client=f"198.51.100.{n}", secret="s" * 32,
                                        deadline_days=3, now=now - age).id

    ids = {
        "overdue": report(1, "610111-001", {"kind": "broken_facility", "amenity": "meal_heating",
                                            "text": "微波炉坏了，热不了饭", "rating": 2, "phone": "13800138000"},
                          timedelta(days=10)),
        "elsewhere": report(2, "530111-001", {"kind": "unsafe_or_dirty", "text": "官渡区的报告"}),
        "broken": report(3, "610111-003", {"kind": "broken_facility", "amenity": "seating", "text": "椅子断了"}),
        "race": report(4, "610111-004", {"kind": "unsafe_or_dirty", "text": "地面很滑"}),
        "moved": report(5, "610111-005", {"kind": "wrong_location",
                                          "location": {"lon": round(lon + 0.001, 6), "lat": round(lat + 0.001, 6)}}),
        "hostile": report(6, "610111-002", {"kind": "other", "text": EVIL}),
    }
    with running_server(settings, app=app) as server:
        yield f"http://127.0.0.1:{server.effective_port}", store, ids


def _get(base_url: str, path: str) -> dict[str, Any]:
    with urllib.request.urlopen(base_url + path, timeout=60) as response:  # 127.0.0.1 only
        return json.loads(response.read().decode("utf-8"))


def _settled(page) -> None:
    page.wait_for_selector("body[data-pending='0']", state="attached", timeout=TIMEOUT_MS)


def _status(page, text: str) -> None:
    page.locator("#fq-status", has_text=text).wait_for(timeout=TIMEOUT_MS)
    _settled(page)


def _card(page, report_id: int):
    return page.locator(f".fq-card[data-id='{report_id}']")


def _expected_refusals(watch, *statuses: int) -> None:
    """Take the console's note of each expected refusal (one per status) off the page's error list."""
    for status in statuses:
        note = next((e for e in watch.errors if "Failed to load resource" in e and f"status of {status}" in e), None)
        assert note is not None, (status, watch.errors)
        watch.errors.remove(note)


def _fits(page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_an_editor_works_through_the_queue(browser, served, page_watch, artifacts, request):
    base_url, store, ids = served
    backend = request.node.callspec.params["database_url"]
    shots = artifacts / "queue"
    shots.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 360, "height": 640}, device_scale_factor=2, locale="zh-CN")
    page = context.new_page()
    watch = page_watch(page)
    try:
        # not signed in: the page says so and links to the login page, which comes back here
        page.goto(f"{base_url}/feedback", wait_until="load")
        _settled(page)
        assert page.locator("#fq-signed-out").is_visible() and page.locator("#fq-filters").is_hidden()
        assert page.locator("#fq-login").get_attribute("href") == "/login?next=/feedback"
        assert page.locator(".fq-card").count() == 0
        page.locator("#fq-login").click()
        page.wait_for_url("**/login?next=/feedback")
        page.fill("#login-name", EDITOR[0])
        page.fill("#login-password", EDITOR[1])
        page.locator("#login-form button[type=submit]").click()
        page.wait_for_url("**/feedback")
        _settled(page)
        assert page.locator("#fq-user").inner_text() == zh("signed_in", name=EDITOR[0], role=zh("role_editor"))

        # the district's reports only, newest first; the confirmation-free queue has five, one of them overdue
        shown = [int(x) for x in page.locator(".fq-card").evaluate_all("cards => cards.map(c => c.dataset.id)")]
        assert shown == [ids["hostile"], ids["moved"], ids["race"], ids["broken"], ids["overdue"]]
        assert ids["elsewhere"] not in shown
        overdue = _card(page, ids["overdue"])
        assert overdue.get_attribute("data-overdue") == "1"
        assert overdue.locator(".fq-badge-overdue").inner_text() == zh("overdue")
        assert overdue.locator(".fq-badge-overdue").is_visible()
        assert page.locator(".fq-badge-overdue").count() == 1
        assert "13800138000" in overdue.locator(".fq-phone").inner_text()
        assert overdue.locator(".fq-kind").inner_text() == "设施损坏或缺失"
        assert overdue.locator(".fq-amenity").inner_text() == zh("amenity", name="热饭")
        assert overdue.locator(".fq-name").inner_text() == "纺织城街道纺织公园爱心驿站"
        colours = overdue.evaluate("c => [getComputedStyle(c).borderLeftColor, getComputedStyle(c).borderLeftWidth]")
        assert colours == ["rgb(200, 16, 46)", "8px"]  # the accent red, a thick bar: it stands out
        assert page.locator("#fq-count").inner_text() == zh("count", n=5, overdue=1)

        # the worker's hostile text is shown as text: no element made of it, no dialog
        hostile = _card(page, ids["hostile"])
        assert hostile.locator(".fq-text").inner_text() == EVIL
        assert page.locator("#fq-list img, #fq-list script").count() == 0
        _fits(page, 360)
        page.screenshot(path=str(shots / f"queue-360x640-{backend}.png"), full_page=False)

        # acknowledge the hostile one
        hostile.locator(".fq-ack").click()
        _status(page, zh("done_acknowledged", id=ids["hostile"]))
        assert store.get_feedback(ids["hostile"]).state == "acknowledged"
        assert hostile.get_attribute("data-state") == "acknowledged"
        assert hostile.locator(".fq-ack").count() == 0

        # resolve the broken seating by removing it from the station, in one tap
        broken = _card(page, ids["broken"])
        broken.locator(".fq-resolve").click()
        remove = broken.locator(".fq-remove-amenity")
        remove.wait_for(timeout=TIMEOUT_MS)
        assert remove.inner_text() == zh("remove_amenity", name="休息")
        version = store.get("610111-003").version
        remove.click()
        _status(page, zh("done_resolved", id=ids["broken"]))
        station = _get(base_url, "/api/stations/610111-003")
        assert "seating" not in station["properties"]["amenities"] and "fridge" in station["properties"]["amenities"]
        assert store.get("610111-003").version == version + 1
        last = store.history("610111-003")[-1]
        assert (last.user, last.comment) == (EDITOR[0], f"反馈 #{ids['broken']}: 设施损坏或缺失（休息）")
        done = store.get_feedback(ids["broken"])
        assert (done.state, done.edit_id) == ("resolved", last.edit_id)
        assert broken.locator(".fq-badge.fq-state-resolved").inner_text() == "已解决"

        # reject the hostile one: the page wants a note first
        hostile.locator(".fq-reject").click()
        hostile.locator(".fq-reject-do").click()
        assert hostile.locator(".fq-problem").inner_text() == zh("note_required")
        assert store.get_feedback(ids["hostile"]).state == "acknowledged"
        hostile.locator(".fq-panel textarea").fill("恶意内容，不予处理")
        hostile.locator(".fq-reject-do").click()
        _status(page, zh("done_rejected", id=ids["hostile"]))
        rejected = store.get_feedback(ids["hostile"])
        assert (rejected.state, rejected.note, rejected.state_changed_by) == ("rejected", "恶意内容，不予处理", EDITOR[0])
        assert hostile.locator(".fq-note-text").inner_text() == "恶意内容，不予处理"

        # a wrong location: both points, how far apart, and "move the station here"
        moved = _card(page, ids["moved"])
        moved.locator(".fq-resolve").click()
        moved.locator(".fq-move").wait_for(timeout=TIMEOUT_MS)
        assert moved.locator(".fq-sketch .fq-point-now").count() == 1
        assert moved.locator(".fq-sketch .fq-point-reported").count() == 1
        apart = moved.locator(".fq-apart").inner_text()
        # 0.001° each way at 34.28° N: 111 m north and 92 m east, 144 m apart
        assert apart in {zh("points_apart", m=m) for m in range(143, 146)}
        _fits(page, 360)
        moved.locator(".fq-move").scroll_into_view_if_needed()
        page.screenshot(path=str(shots / f"queue-move-360x640-{backend}.png"))
        there = store.get_feedback(ids["moved"])
        moved.locator(".fq-move").click()
        _status(page, zh("done_resolved", id=ids["moved"]))
        assert store.get("610111-005").feature["geometry"]["coordinates"][:2] == [there.lon, there.lat]

        # someone else handled a report meanwhile: 409, said in words, and the queue reloads
        race = _card(page, ids["race"])
        feedback.change_state(store, ids["race"], User(ADMIN[0], "admin"), state="rejected", note="重复")
        race.locator(".fq-ack").click()
        page.locator("#fq-error .fq-error-lead", has_text=zh("conflict", id=ids["race"])).wait_for(timeout=TIMEOUT_MS)
        _settled(page)
        assert page.locator("#fq-error .fq-error-lead").get_attribute("data-status") == "409"
        assert _card(page, ids["race"]).get_attribute("data-state") == "rejected"
        _expected_refusals(watch, 409)

        # the station changed after the editor opened the report: 412, nothing changes
        overdue = _card(page, ids["overdue"])
        overdue.locator(".fq-resolve").click()
        overdue.locator(".fq-remove-amenity").wait_for(timeout=TIMEOUT_MS)
        places = editing.Places(BUNDLED_DATA_DIR)
        current = store.get("610111-001")
        editing.update_station(store, "610111-001", {"properties": {"phone": "029-12345678"}},
                               user=User(ADMIN[0], "admin"), expected_version=current.version, places=places)
        overdue.locator(".fq-remove-amenity").click()
        page.locator("#fq-error .fq-error-lead", has_text=zh("stale", station="610111-001")).wait_for(
            timeout=TIMEOUT_MS)
        _settled(page)
        assert store.get_feedback(ids["overdue"]).state == "new"
        assert "meal_heating" in store.get("610111-001").feature["properties"]["amenities"]
        _expected_refusals(watch, 412)

        # overdue only
        page.check("#fq-overdue-only")
        assert [int(x) for x in page.locator(".fq-card").evaluate_all("cs => cs.map(c => c.dataset.id)")] == \
            [ids["overdue"]]
        page.screenshot(path=str(shots / f"queue-overdue-360x640-{backend}.png"))

        # English, and the wide screen
        page.click("#fq-lang")
        assert page.locator(".sm-title").inner_text() == en("short")
        assert _card(page, ids["overdue"]).locator(".fq-badge-overdue").inner_text() == en("overdue")
        page.uncheck("#fq-overdue-only")
        page.set_viewport_size({"width": 1280, "height": 800})
        _fits(page, 1280)
        page.screenshot(path=str(shots / f"queue-1280x800-{backend}.png"))

        # the editing page links here for an editor
        page.goto(f"{base_url}/edit", wait_until="load")
        page.wait_for_selector("body.ed-can-edit", state="attached", timeout=TIMEOUT_MS)
        assert page.locator("#ed-queue-link").is_visible()
        assert page.locator("#ed-queue-link").get_attribute("href") == "/feedback?lang=zh"
        page.click("#ed-lang")  # the queue opens in the language the editor chose
        assert page.locator("#ed-queue-link").get_attribute("href") == "/feedback?lang=en"
        watch.assert_clean()
    finally:
        context.close()
