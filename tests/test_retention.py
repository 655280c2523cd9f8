"""What the register forgets: sender hashes after 2 days, reply phones 30 days after closing, closed reports after
two years, failed sign-ins after a day; open reports are kept. On both backends, with dates counted by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stationmap import feedback, retention
from stationmap.store import Change, User

T0 = datetime(2025, 6, 6, 2, 0, tzinfo=UTC)  # Friday 10:00 in Shanghai
SID = "610111-001"
ADMIN = User("admin", "admin")


def _feature() -> dict:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [109.06, 34.27]},
            "properties": {"id": SID, "name": "驿站", "amenities": ["drinking_water"]}}


@pytest.fixture
def register(store):
    store.apply([Change(SID, "add", _feature(), "610111")], user="test", comment="")
    return store


def _submit(store, now: datetime, client: str, **body):
    return feedback.submit_feedback(store, SID, {"kind": "other", "text": "门锁坏了", "phone": "13800138000", **body},
                                    client=client, secret="s" * 32, deadline_days=3, now=now)


def test_each_period_forgets_exactly_what_it_covers(register):
    old_closed = _submit(register, T0, "192.0.2.1")
    feedback.change_state(register, old_closed.id, ADMIN, state="rejected", note="重复", now=T0 + timedelta(days=1))
    recent_closed = _submit(register, T0 + timedelta(days=700), "192.0.2.2")
    feedback.change_state(register, recent_closed.id, ADMIN, state="resolved", now=T0 + timedelta(days=720))
    old_open = _submit(register, T0 + timedelta(days=1), "192.0.2.3")
    fresh = _submit(register, T0 + timedelta(days=759), "192.0.2.4")
    register.note_login_failure("baqiao", T0 + timedelta(days=758))  # 2 days before now: gone
    register.note_login_failure("baqiao", T0 + timedelta(days=759, hours=12))  # 12 hours before now: kept
    now = T0 + timedelta(days=760)

    pruned = retention.prune(register, now)

    # closed on day 1, 759 days ago > 730: deleted; closed on day 720, 40 days ago: kept, phone gone (> 30)
    assert (pruned.reports, pruned.phones, pruned.login_failures) == (1, 1, 1)
    # hashes older than 2 days: recent_closed (60 days) and old_open (759 days); fresh (1 day) keeps its hash
    assert pruned.client_keys == 2
    kept = {r.id: r for r in register.feedback_for(None, limit=10)}
    assert set(kept) == {recent_closed.id, old_open.id, fresh.id}
    assert (kept[recent_closed.id].phone, kept[recent_closed.id].client_key) == ("", "")
    assert (kept[old_open.id].phone, kept[old_open.id].client_key) == ("13800138000", "")  # still owed a reply
    assert kept[fresh.id].client_key == feedback.client_key("192.0.2.4", "s" * 32)
    assert len(register.login_failures("baqiao", T0)) == 1

    again = retention.prune(register, now)
    assert (again.reports, again.phones, again.client_keys, again.login_failures) == (0, 0, 0, 0)


def test_a_blanked_hash_no_longer_counts_against_its_sender(register):
    for i in range(10):
        _submit(register, T0 + timedelta(minutes=i), "203.0.113.7")
    retention.prune(register, T0 + timedelta(days=3))
    # the hour of those reports is long past anyway; what matters is that nothing links them to the address
    assert all(r.client_key == "" for r in register.feedback_for(None, limit=20))


def test_the_summary_is_said_in_each_language(register):
    pruned = retention.prune(register, T0)
    assert pruned.describe("zh").startswith("已删除 0 条登录失败记录")
    assert pruned.describe("en").startswith("Deleted 0 failed sign-in(s)")


def test_the_cli_prunes_a_register(runner, tmp_path):
    from stationmap.cli import main

    url = "sqlite:///" + str(tmp_path / "r.db")
    from stationmap.store import open_store

    with open_store(url) as store:
        store.apply([Change(SID, "add", _feature(), "610111")], user="test", comment="")
        _submit(store, T0, "192.0.2.9")
    result = runner.invoke(main, ["prune", "--database", url, "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert "blanked the sender hash of 1 report(s)" in result.output
