"""`stationmap feedback list / set`: the editors' queue from the command line, on both backends."""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from datetime import UTC, datetime, timedelta

import pytest

from stationmap import feedback
from stationmap.accounts import ScryptCost, add_user
from stationmap.cli import main
from stationmap.hours import day_start_utc
from stationmap.store import Change, open_store

CHEAP = ScryptCost(n=16, r=1, p=1)  # tests only
HOSTILE = '=HYPERLINK("http://evil.example/","点我领奖")'
T0 = datetime(2025, 6, 6, 2, 0, tzinfo=UTC)  # Friday 10:00 in Shanghai: 3 working days -> Thursday 00:00


def _display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


@pytest.fixture
def queue(database_url, settings):
    """
    A register with the bundled 610111 and 530111 stations and four reports: #1 broken facility of 610111-001 made
    on T0 (overdue ever since 2025-06-12 00:00 China time), #2 a hostile text on 610111-002, #3 made now on
    530111-001 with a phone, #4 a confirmation (resolved at once); an admin and an editor of 610111.
    """
    store = open_store(database_url)
    for code in ("610111", "530111"):
        path = settings.data_dir / "stations" / f"{code}.geojson"
        features = json.loads(path.read_text(encoding="utf-8"))["features"]
        store.apply([Change(f["id"], "add", f, code) for f in features], user="stationmap", comment="filled",
                    effective_at=day_start_utc(T0.date() - timedelta(days=30)))
    amenity = store.get("610111-001").feature["properties"]["amenities"][0]

    def report(sid, body, n, now=None):
        return feedback.submit_feedback(store, sid, body, client=f"198.51.100.{n}", secret="s" * 32,
                                        deadline_days=3, now=now)

    report("610111-001", {"kind": "broken_facility", "amenity": amenity, "text": "微波炉坏了", "rating": 2}, 1, T0)
    report("610111-002", {"kind": "other", "text": HOSTILE}, 2)
    report("530111-001", {"kind": "unsafe_or_dirty", "phone": "13800138000"}, 3)
    report("610111-003", {"kind": "confirm_open"}, 4)
    add_user(store, "boss", "admin", cost=CHEAP)
    add_user(store, "baqiao", "editor", districts=["610111"], cost=CHEAP)
    store.close()
    return database_url


def test_list_shows_every_report_newest_first_with_the_overdue_one_flagged(runner, queue):
    result = runner.invoke(main, ["feedback", "list", "--database", queue])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["编号", "状态", "逾期", "截止", "站点", "名称", "类型", "设施", "评分", "电话", "内容"]
    assert [line.split()[0] for line in lines[1:5]] == ["#4", "#3", "#2", "#1"]
    first = lines[4]
    assert first.split()[1:4] == ["新报告", "逾期", "2025-06-12"]  # Friday + 3 working days: due by Thursday 00:00
    assert "2/5" in first and "微波炉坏了" in first
    assert "13800138000" in lines[2]
    assert lines[-1] == "共 4 条，逾期 1 条"
    # columns line up in terminal columns, a Chinese character counting two: "站点" starts at one column in every row
    starts = {_display_width(line[:line.index(sid)]) for line, sid in
              zip(lines[1:5], ("610111-003", "530111-001", "610111-002", "610111-001"), strict=True)}
    header = lines[0]
    assert starts == {_display_width(header[:header.index("站点")])}


def test_list_filters_by_district_state_and_overdue(runner, queue):
    def ids(*args):
        result = runner.invoke(main, ["feedback", "list", "--database", queue, "--format", "json", *args])
        assert result.exit_code == 0, result.output
        return [r["id"] for r in json.loads(result.stdout)["reports"]]

    assert ids() == [4, 3, 2, 1]
    assert ids("--district", "610111") == [4, 2, 1]
    assert ids("--district", "530111") == [3]
    assert ids("--state", "resolved") == [4]
    assert ids("--overdue") == [1]
    assert ids("--overdue", "--state", "resolved") == []
    english = runner.invoke(main, ["feedback", "list", "--database", queue, "--overdue", "--lang", "en"])
    assert "OVERDUE" in english.stdout and english.stdout.splitlines()[-1] == "1 report(s), 1 overdue"
    bad = runner.invoke(main, ["feedback", "list", "--database", queue, "--district", "6101"])
    assert bad.exit_code == 2 and "--district" in bad.output
    bad_state = runner.invoke(main, ["feedback", "list", "--database", queue, "--state", "closed"])
    assert bad_state.exit_code == 2


def test_csv_neutralises_a_formula_and_a_file_for_excel_has_a_bom(runner, queue, tmp_path):
    result = runner.invoke(main, ["feedback", "list", "--database", queue, "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    [hostile] = [r for r in rows if r["id"] == "2"]
    assert hostile["text"] == "'" + HOSTILE  # shown as text in Excel and WPS, never run
    assert not any(v.startswith(("=", "+", "@")) for r in rows for v in r.values())
    [broken] = [r for r in rows if r["id"] == "1"]
    assert (broken["overdue"], broken["kind_label"], broken["deadline"]) == ("True", "设施损坏或缺失",
                                                                              "2025-06-12T00:00:00+08:00")
    out = tmp_path / "queue.csv"
    written = runner.invoke(main, ["feedback", "list", "--database", queue, "--format", "csv", "-o", str(out)])
    assert written.exit_code == 0, written.output
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfid,state,") and b"\r\n" in raw
    assert raw.decode("utf-8-sig") == result.stdout.replace("\n", "\r\n").replace("\r\r\n", "\r\n")


def test_set_moves_a_report_as_the_named_account(runner, queue):
    args = ["--database", queue]
    done = runner.invoke(main, ["feedback", "set", "2", "rejected", "--user", "boss", "--note", "广告", *args])
    assert done.exit_code == 0, done.output
    assert done.stdout.strip() == "#2 610111-002: rejected by boss (广告)"
    again = runner.invoke(main, ["feedback", "set", "2", "resolved", "--user", "boss", *args])
    assert again.exit_code == 1 and "may become nothing" in again.output
    other = runner.invoke(main, ["feedback", "set", "3", "acknowledged", "--user", "baqiao", *args])
    assert other.exit_code == 1 and "not of 530111" in other.output
    stale = runner.invoke(main, ["feedback", "set", "1", "resolved", "--user", "baqiao", "--expected-state",
                                 "acknowledged", *args])
    assert stale.exit_code == 1 and "Reload the queue" in stale.output
    nobody = runner.invoke(main, ["feedback", "set", "1", "acknowledged", "--user", "nobody", *args])
    assert nobody.exit_code == 2 and "No account 'nobody'" in nobody.output
    missing = runner.invoke(main, ["feedback", "set", "99", "acknowledged", "--user", "boss", *args])
    assert missing.exit_code == 1 and "No feedback report 99" in missing.output
    shown = json.loads(runner.invoke(main, ["feedback", "list", "--state", "rejected", "--format", "json",
                                            *args]).stdout)["reports"]
    assert [(r["id"], r["note"], r["state_changed_by"]) for r in shown] == [(2, "广告", "boss")]
