"""The bounded pool behind reports and the planner, and the reports' disk cache (issue 11, fair under load)."""

from __future__ import annotations

import dataclasses
import threading

import pytest
from webcheck import assert_error  # tests/webcheck.py

import stationmap
from stationmap import report
from stationmap.config import BUNDLED_DATA_DIR, Settings
from stationmap.web import create_app
from stationmap.web.live import app_state
from stationmap.web.planner import PlannerBusyError, PlannerCache
from stationmap.web.pool import BoundedPool, PoolBusyError, waiting_limits
from stationmap.web.reports import ReportBusyError, ReportCache, report_key

DISTRICT = "450305"  # a bundled district with stations


@pytest.fixture(scope="module")
def app():
    return create_app(Settings(data_dir=BUNDLED_DATA_DIR))


@pytest.fixture
def reports(app, tmp_path):
    """A fresh report cache per test, on disk under `tmp_path`."""
    cache = ReportCache(folder=tmp_path / "reports")
    app.extensions["stationmap_reports"] = cache
    return cache


def _held_build(monkeypatch):
    """Make every report build wait for the returned `release` event; `started` is set when one begins."""
    started, release = threading.Event(), threading.Event()

    def held(*args, **kwargs):
        started.set()
        release.wait(10)
        return "held"

    monkeypatch.setattr(report, "build_district_report", held)
    monkeypatch.setattr(report, "render_html", lambda built, lang: f"<p>{built[0]} {lang}</p>")
    return started, release


@pytest.mark.parametrize("bounds", [{"workers": 1, "max_pending": 1}, {"workers": 2, "max_pending": 4, "max_waiting": 1}],
                         ids=["computations", "waiting-requests"])
def test_full_report_pool_answers_503_with_retry_after(app, reports, monkeypatch, bounds):
    reports.pool = BoundedPool(name="report builder", wait_s=10, busy_error=ReportBusyError, **bounds)
    started, release = _held_build(monkeypatch)
    first = {}
    holder = threading.Thread(target=lambda: first.update(r=app.test_client().get(f"/report/{DISTRICT}.html")))
    holder.start()
    try:
        assert started.wait(10)
        busy = app.test_client().get(f"/report/{DISTRICT}.html?lang=en")  # another report: no room
        body = assert_error(busy, 503, "busy", "retry")
        assert busy.headers["Retry-After"] == str(ReportBusyError.retry_after_s)
        assert "Internal" not in body["error"]
    finally:
        release.set()
        holder.join(10)
    assert first["r"].status_code == 200 and first["r"].data == b"<p>held zh</p>"


def test_report_is_served_from_disk_after_the_memory_cache_is_cleared(app, reports, monkeypatch, tmp_path):
    url = f"/report/{DISTRICT}.html?lang=en"
    built = app.test_client().get(url)
    assert built.status_code == 200 and b"Outdoor-worker station coverage report" in built.data
    assert (reports.builds, reports.disk_hits) == (1, 0)
    files = list((tmp_path / "reports").iterdir())
    assert [f.name for f in files] == [report_key(app_state(app), DISTRICT, fmt="html", lang="en")]

    def refuse(*args, **kwargs):
        raise AssertionError("the report was built again")

    monkeypatch.setattr(report, "build_district_report", refuse)
    reports.clear()
    again = app.test_client().get(url)
    assert again.status_code == 200 and again.data == built.data
    assert (reports.builds, reports.disk_hits) == (1, 1)
    # another worker process (a new cache over the same folder) reuses the file too
    app.extensions["stationmap_reports"] = other = ReportCache(folder=tmp_path / "reports")
    assert app.test_client().get(url).data == built.data and other.disk_hits == 1


def test_report_key_changes_when_the_stations_change(app):
    state = app_state(app)
    key = report_key(state, DISTRICT, fmt="pdf", lang="zh")
    assert key == report_key(state, DISTRICT, fmt="pdf", lang="zh")
    assert key.startswith(f"{DISTRICT}-zh-") and key.endswith(f"-v{stationmap.__version__}.pdf")
    assert len({key, report_key(state, DISTRICT, fmt="html", lang="zh"),
                report_key(state, DISTRICT, fmt="pdf", lang="en")}) == 3
    row = int((state.district_codes == DISTRICT).nonzero()[0][0])
    stations = state.stations.copy()
    stations.loc[row, "name"] = str(stations.loc[row, "name"]) + " (renamed)"
    changed = dataclasses.replace(state, stations=stations)
    assert report_key(changed, DISTRICT, fmt="pdf", lang="zh") != key
    cache = ReportCache()  # the memoised key follows the state it is asked about
    assert cache.key(state, DISTRICT, fmt="pdf", lang="zh") == key
    assert cache.key(changed, DISTRICT, fmt="pdf", lang="zh") == report_key(changed, DISTRICT, fmt="pdf", lang="zh")


def test_pool_refuses_waiting_requests_beyond_its_bound():
    pool = BoundedPool(workers=2, max_pending=4, max_waiting=1, wait_s=10)
    started, release = threading.Event(), threading.Event()
    results = []

    def held():
        started.set()
        release.wait(10)
        return "a"

    holder = threading.Thread(target=lambda: results.append(pool.run("a", held)))
    holder.start()
    try:
        assert started.wait(10)
        with pytest.raises(PoolBusyError, match="busy with 1 requests"):
            pool.run("b", lambda: "b")
    finally:
        release.set()
        holder.join(10)
    assert results == ["a"] and pool.run("b", lambda: "b") == "b"  # room again once the first is answered


def test_planner_cache_uses_the_shared_pool():
    cache = PlannerCache(workers=1, max_pending=1, max_waiting=3, wait_s=5)
    assert isinstance(cache._pool, BoundedPool) and cache._pool.max_waiting == 3
    assert issubclass(PlannerBusyError, PoolBusyError) and issubclass(ReportBusyError, PoolBusyError)
    assert cache.get("k", lambda: 1) == 1 and cache.get("k", lambda: 2) == 1
    assert (cache.hits, cache.misses) == (1, 1)


def test_waiting_limits_always_leave_the_worker_page_a_thread():
    assert waiting_limits(8) == (2, 5)  # waitress's default: 2 + 5 waiting, 1 free
    assert waiting_limits(4) == (1, 2)  # gunicorn's default threads per process
    assert waiting_limits(3) == (1, 1)
    for threads in range(3, 65):
        reports, planner = waiting_limits(threads)
        assert reports >= 1 and planner >= 1 and reports + planner <= threads - 1


def test_pools_are_sized_from_the_settings(fixture_dir):
    app = create_app(Settings(data_dir=fixture_dir, threads=4, planner_workers=3, report_workers=2))
    planner, reports = app.extensions["stationmap_planner"], app.extensions["stationmap_reports"]
    assert (planner.workers, planner.max_waiting) == (3, 2)
    assert (reports.pool.workers, reports.pool.max_waiting) == (2, 1)
