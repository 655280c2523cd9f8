"""Workers' feedback: checks, working-day deadlines, overdue, rate limits and the queue, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stationmap import feedback, geo
from stationmap.errors import (
    AuthenticationError,
    BadRequestError,
    EditConflictError,
    PermissionDeniedError,
    StationNotFoundError,
    TooManyAttemptsError,
)
from stationmap.store import FEEDBACK_STATES, Change, Feedback, StationRecord, User

T0 = datetime(2025, 6, 6, 2, 0, tzinfo=UTC)  # Friday 10:00 in Shanghai
SID = "610111-001"
ADMIN = User("admin", "admin")
BAQIAO = User("baqiao", "editor", ("610111",))
GUANDU = User("guandu", "editor", ("530111",))


def _feature(sid: str = SID) -> dict:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [109.06, 34.27]},
            "properties": {"id": sid, "name": "驿站", "amenities": ["drinking_water", "charging"]}}


STATION = StationRecord(SID, 1, _feature(), "610111", T0)


def _refusal(body: dict) -> str:
    with pytest.raises(BadRequestError) as err:
        feedback.check_report(body, STATION)
    return str(err.value)


def test_every_kind_is_accepted_with_what_it_needs():
    assert feedback.check_report({"kind": "broken_facility", "amenity": "charging"}, STATION)["amenity"] == "charging"
    assert feedback.check_report({"kind": "closed_at_stated_hours", "rating": 2}, STATION)["rating"] == 2
    moved = feedback.check_report({"kind": "wrong_location", "location": {"lon": 109.1, "lat": 34.3}}, STATION)
    assert (moved["lon"], moved["lat"]) == (109.1, 34.3)
    assert feedback.check_report({"kind": "unsafe_or_dirty", "text": " 很脏 "}, STATION)["text"] == "很脏"
    assert feedback.check_report({"kind": "confirm_open", "rating": 5}, STATION)["rating"] == 5
    assert feedback.check_report({"kind": "other", "text": "门锁坏了", "phone": "13800138000"},
                                 STATION)["phone"] == "13800138000"
    assert feedback.KINDS.keys == ("broken_facility", "closed_at_stated_hours", "wrong_location", "unsafe_or_dirty",
                                   "confirm_open", "other")
    assert feedback.KINDS.label("confirm_open", "zh") == "在这里，开着"
    assert feedback.STATES.keys == FEEDBACK_STATES


def test_a_gcj02_tap_is_kept_in_wgs84():
    moved = feedback.check_report({"kind": "wrong_location",
                                   "location": {"lon": 109.06, "lat": 34.27, "datum": "gcj02"}}, STATION)
    assert (moved["lon"], moved["lat"]) == pytest.approx(geo.convert_coords(109.06, 34.27, src="gcj02", dst="wgs84"))
    assert 109.06 - moved["lon"] == pytest.approx(0.0051, abs=1e-4)  # in Xi'an GCJ-02 sits ~470 m east of WGS-84


def test_every_refusal_names_its_problem():
    assert "unknown feedback kind 'broken'" in _refusal({"kind": "broken"})
    assert "one of the station's listed amenities (drinking_water, charging), got 'shower'" in _refusal(
        {"kind": "broken_facility", "amenity": "shower"})
    assert "amenity applies to kind 'broken_facility' only" in _refusal({"kind": "other", "text": "x",
                                                                          "amenity": "charging"})
    assert "kind 'other' needs a short text" in _refusal({"kind": "other"})
    assert "text has 501 characters; at most 500" in _refusal({"kind": "other", "text": "a" * 501})
    assert "text contains control characters" in _refusal({"kind": "other", "text": "a\x00b"})
    assert "text contains control characters" in _refusal({"kind": "other", "text": "a\x1b[2Jb"})
    for rating in (0, 6, 2.5, True, "5"):
        assert "rating must be a whole number from 1 to 5" in _refusal({"kind": "confirm_open", "rating": rating})
    assert "needs a location" in _refusal({"kind": "wrong_location"})
    assert "outside -180..180" in _refusal({"kind": "wrong_location", "location": {"lon": 200, "lat": 34}})
    assert "Unknown coordinate datum 'mars'" in _refusal({"kind": "wrong_location",
                                                          "location": {"lon": 109, "lat": 34, "datum": "mars"}})
    assert "location applies to kind 'wrong_location' only" in _refusal({"kind": "confirm_open",
                                                                         "location": {"lon": 1, "lat": 2}})
    for phone in ("138-0013", "+8613800138000", "1" * 21, 13800138000):
        assert "phone must be digits only, at most 20" in _refusal({"kind": "confirm_open", "phone": phone})
    assert "unknown member(s) 'email'" in _refusal({"kind": "confirm_open", "email": "a@b"})
    both = _refusal({"kind": "other", "rating": 9})  # every problem at once
    assert "needs a short text" in both and "rating must be" in both


def test_deadline_counts_working_days_in_shanghai():
    # Friday 10:00 + 3 working days (Mon, Tue, Wed): due at Thursday 00:00 Shanghai, Wednesday 16:00 UTC
    assert feedback.working_deadline(T0, 3) == datetime(2025, 6, 11, 16, 0, tzinfo=UTC)
    # Monday 09:00 Shanghai + 1: end of Tuesday
    assert feedback.working_deadline(datetime(2025, 6, 9, 1, 0, tzinfo=UTC), 1) == datetime(2025, 6, 10, 16, 0,
                                                                                             tzinfo=UTC)
    # Friday 23:30 UTC is Saturday in Shanghai: Monday is the first working day after it
    assert feedback.working_deadline(datetime(2025, 6, 6, 23, 30, tzinfo=UTC), 1) == datetime(2025, 6, 9, 16, 0,
                                                                                               tzinfo=UTC)


def test_client_key_is_a_keyed_hash_not_the_address():
    key = feedback.client_key("203.0.113.7", "secret")
    assert len(key) == 64 and "203.0.113.7" not in key
    assert key != feedback.client_key("203.0.113.7", "other secret")


@pytest.fixture
def register(store):
    store.apply([Change(SID, "add", _feature(), "610111"), Change("530111-001", "add", _feature("530111-001"),
                                                                  "530111")], user="test", comment="")
    return store


def _submit(store, body, *, client="203.0.113.7", now=T0, sid=SID):
    return feedback.submit_feedback(store, sid, body, client=client, secret="s" * 32, deadline_days=3, now=now)


def test_reports_are_kept_and_queued(register):
    report = _submit(register, {"kind": "other", "text": "<script>alert(1)</script>'; DROP TABLE feedback;--",
                                "phone": "13800138000", "rating": 1})
    kept = register.get_feedback(report.id)
    assert kept == report
    assert kept.text == "<script>alert(1)</script>'; DROP TABLE feedback;--"  # stored as text
    assert (kept.state, kept.district_code, kept.deadline) == ("new", "610111", datetime(2025, 6, 11, 16, 0,
                                                                                         tzinfo=UTC))
    assert kept.client_key == feedback.client_key("203.0.113.7", "s" * 32)
    confirm = _submit(register, {"kind": "confirm_open"}, client="198.51.100.1")
    assert (confirm.state, confirm.deadline) == ("resolved", T0)  # asks nothing of the editors
    moved = _submit(register, {"kind": "wrong_location", "location": {"lon": 109.1, "lat": 34.3}}, sid="530111-001")
    assert (moved.lon, moved.lat, moved.district_code) == (109.1, 34.3, "530111")
    assert [r.id for r in register.feedback_for(["610111"])] == [confirm.id, report.id]
    assert [r.id for r in register.feedback_for(["610111"], states=["new"])] == [report.id]
    assert [r.id for r in register.feedback_for(None, limit=2)] == [moved.id, confirm.id]
    assert [r.id for r in register.feedback_for(None, before_id=confirm.id)] == [report.id]
    assert register.feedback_for([]) == []
    with pytest.raises(StationNotFoundError):
        _submit(register, {"kind": "confirm_open"}, sid="nope")
    with pytest.raises(StationNotFoundError):
        register.get_feedback(999)


def test_overdue_after_the_deadline_while_open(register):
    report = _submit(register, {"kind": "unsafe_or_dirty"})
    assert not feedback.is_overdue(report, datetime(2025, 6, 11, 16, 0, tzinfo=UTC))
    assert feedback.is_overdue(report, datetime(2025, 6, 11, 16, 1, tzinfo=UTC))
    done = feedback.change_state(register, report.id, BAQIAO, state="resolved", note="已清扫",
                                 now=T0 + timedelta(days=1))
    assert not feedback.is_overdue(done, datetime(2025, 7, 1, tzinfo=UTC))
    assert feedback.editor_json(report, datetime(2025, 6, 12, tzinfo=UTC))["overdue"] is True


def test_rate_limit_per_client_gives_retry_after(register):
    for minute in range(10):
        _submit(register, {"kind": "confirm_open"}, now=T0 + timedelta(minutes=minute))
    with pytest.raises(TooManyAttemptsError) as err:
        _submit(register, {"kind": "confirm_open"}, now=T0 + timedelta(minutes=10))
    assert err.value.retry_after_s == 50 * 60  # the first report (T0) leaves the hour at T0 + 60 min
    _submit(register, {"kind": "confirm_open"}, client="198.51.100.1", now=T0 + timedelta(minutes=10))
    _submit(register, {"kind": "confirm_open"}, now=T0 + timedelta(minutes=60))  # an hour on: allowed again


def test_rate_limit_per_station(register, monkeypatch):
    monkeypatch.setattr(feedback, "FEEDBACK_STATION_PER_DAY", 3)
    for n in range(3):
        _submit(register, {"kind": "confirm_open"}, client=f"198.51.100.{n}", now=T0 + timedelta(hours=n))
    with pytest.raises(TooManyAttemptsError, match="on this station") as err:
        _submit(register, {"kind": "confirm_open"}, client="198.51.100.9", now=T0 + timedelta(hours=3))
    assert err.value.retry_after_s == 21 * 3600
    _submit(register, {"kind": "confirm_open"}, client="198.51.100.9", sid="530111-001", now=T0 + timedelta(hours=3))


def test_states_move_along_the_queue_only(register):
    report = _submit(register, {"kind": "closed_at_stated_hours"})
    seen = feedback.change_state(register, report.id, BAQIAO, state="acknowledged", now=T0 + timedelta(hours=1))
    assert (seen.state, seen.state_changed_by, seen.state_changed_at) == ("acknowledged", "baqiao",
                                                                          T0 + timedelta(hours=1))
    with pytest.raises(EditConflictError, match="is 'acknowledged' now, not 'new'"):
        feedback.change_state(register, report.id, ADMIN, state="resolved", expected_state="new")
    with pytest.raises(BadRequestError, match="needs a note saying why"):
        feedback.change_state(register, report.id, ADMIN, state="rejected", note="  ")
    done = feedback.change_state(register, report.id, ADMIN, state="rejected", note="核实正常开放")
    assert (done.state, done.note) == ("rejected", "核实正常开放")
    with pytest.raises(BadRequestError, match="may become nothing"):
        feedback.change_state(register, report.id, ADMIN, state="new")
    with pytest.raises(BadRequestError, match="unknown feedback state 'done'"):
        feedback.change_state(register, report.id, ADMIN, state="done")
    other = _submit(register, {"kind": "unsafe_or_dirty"}, client="198.51.100.1")
    with pytest.raises(BadRequestError, match="note contains control characters"):
        feedback.change_state(register, other.id, ADMIN, state="resolved", note="a\x00")


def test_only_admins_and_the_districts_editors_handle_reports(register):
    report = _submit(register, {"kind": "unsafe_or_dirty"})
    with pytest.raises(PermissionDeniedError, match="not of 610111"):
        feedback.change_state(register, report.id, GUANDU, state="acknowledged")
    with pytest.raises(PermissionDeniedError, match="not of 610111"):
        feedback.list_feedback(register, GUANDU, district="610111")
    with pytest.raises(PermissionDeniedError, match="viewer"):
        feedback.list_feedback(register, User("v", "viewer"))
    with pytest.raises(AuthenticationError):
        feedback.list_feedback(register, None)
    with pytest.raises(AuthenticationError):
        feedback.change_state(register, report.id, None, state="acknowledged")
    assert feedback.list_feedback(register, GUANDU) == []
    assert [r.id for r in feedback.list_feedback(register, BAQIAO)] == [report.id]
    assert [r.id for r in feedback.list_feedback(register, ADMIN)] == [report.id]


# --- resolving with an edit of the station (one transaction) -------------------------------------------------------


@pytest.fixture
def bundled(store, settings):
    """The register with the bundled 610111 stations."""
    import json

    features = json.loads((settings.data_dir / "stations" / "610111.geojson").read_text(encoding="utf-8"))["features"]
    store.apply([Change(f["id"], "add", f, "610111") for f in features], user="stationmap", comment="filled")
    return store


def test_resolving_with_an_edit_records_it_and_a_refusal_changes_nothing(bundled, settings, boundary_cache):
    from stationmap import editing
    from stationmap.errors import PreconditionRequiredError, VersionConflictError

    places = editing.Places(settings.data_dir, boundary_cache)
    amenities = bundled.get(SID).feature["properties"]["amenities"]
    report = _submit(bundled, {"kind": "broken_facility", "amenity": amenities[0]})
    kept = {"properties": {"amenities": amenities[1:]}}
    with pytest.raises(VersionConflictError):
        feedback.change_state(bundled, report.id, BAQIAO, state="resolved", edit=kept, if_match=2, places=places)
    with pytest.raises(PreconditionRequiredError):
        feedback.change_state(bundled, report.id, BAQIAO, state="resolved", edit=kept, places=places)
    with pytest.raises(PermissionDeniedError):
        feedback.change_state(bundled, report.id, GUANDU, state="resolved", edit=kept, if_match=1, places=places)
    with pytest.raises(BadRequestError, match="state 'resolved' only"):
        feedback.change_state(bundled, report.id, BAQIAO, state="rejected", note="重复", edit=kept, if_match=1,
                              places=places)
    assert bundled.get_feedback(report.id).state == "new" and bundled.get(SID).version == 1

    done = feedback.change_state(bundled, report.id, BAQIAO, state="resolved", note="已更换", edit=kept, if_match='"1"',
                                 places=places, now=T0 + timedelta(hours=3))
    [_added, edit] = bundled.history(SID)
    assert (done.state, done.edit_id, done.note, done.state_changed_by) == ("resolved", edit.edit_id, "已更换", "baqiao")
    assert (edit.user, edit.comment, edit.version) == ("baqiao", f"反馈 #{report.id}: 已更换", 2)
    assert edit.after["properties"]["amenities"] == amenities[1:]
    assert feedback.editor_json(done)["edit_id"] == edit.edit_id


def test_the_edit_comment_names_the_report_and_its_kind():
    report = Feedback(12, SID, "610111", "broken_facility", T0, T0, amenity="meal_heating")
    assert feedback.edit_comment(report) == "反馈 #12: 设施损坏或缺失（热饭）"
    assert feedback.edit_comment(report, "换了新微波炉") == "反馈 #12: 换了新微波炉"
    long = feedback.edit_comment(report, "字" * 600)
    assert len(long) == 500 and long.endswith("…")


def test_an_older_register_gets_the_edit_id_column(database_url, tmp_path):
    from stationmap.store import open_store

    with open_store(database_url) as store:
        kept = store.add_feedback(Feedback(0, SID, "610111", "other", T0, T0, text="旧的"))
    if database_url.startswith("sqlite"):
        import sqlite3

        db = sqlite3.connect(database_url.removeprefix("sqlite:///"))
        with db:
            db.execute("ALTER TABLE feedback DROP COLUMN edit_id")
        db.close()
    else:
        import psycopg

        with psycopg.connect(database_url) as pg:
            pg.execute("ALTER TABLE feedback DROP COLUMN edit_id")
    with open_store(database_url) as store:
        old = store.get_feedback(kept.id)
        assert (old.text, old.edit_id) == ("旧的", None)
        moved = store.set_feedback_state(kept.id, state="rejected", user="admin", note="", expected_state="new")
        assert moved.state == "rejected"


def test_concurrent_posts_cannot_overshoot_a_limit(register):
    """24 posts from one address at once: the limit is checked in the transaction that keeps each report, so
    exactly 10 are kept (checked before the insert, outside it, 11 to 24 got through under load)."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    barrier = threading.Barrier(24)

    def post(i: int) -> str:
        barrier.wait()
        try:
            _submit(register, {"kind": "confirm_open"}, client="203.0.113.99", now=T0 + timedelta(seconds=i))
        except TooManyAttemptsError:
            return "429"
        return "201"

    with ThreadPoolExecutor(24) as pool:
        answers = sorted(pool.map(post, range(24)))
    assert answers.count("201") == feedback.FEEDBACK_CLIENT_PER_HOUR == 10
    assert len(register.feedback_for(None, limit=100)) == 10
