"""Shared fixtures: tiny hand-checkable station sets, the bundled data folder, and the CLI runner."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import geopandas as gpd
import pytest
from click.testing import CliRunner

from stationmap.config import BUNDLED_DATA_DIR, Settings

TESTS = Path(__file__).resolve().parent
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def boundary_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """
    One cache of converted boundaries for the whole session, never the user's ~/.cache (servers inherit it).

    Registers made without a database URL (``$XDG_DATA_HOME/stationmap/registers``) go to a session folder too.
    """
    folder = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(folder))
        mp.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("data-home")))
        yield folder / "stationmap"


@pytest.fixture(scope="session")
def settings() -> Settings:
    """Settings pointing at the bundled data folder."""
    return Settings(data_dir=BUNDLED_DATA_DIR)


#: The day district reports are built for in tests: a Monday, so time-of-day figures do not follow the calendar.
REPORT_DAY = dt.date(2026, 11, 23)


@pytest.fixture(scope="session")
def bundled_report(settings: Settings) -> Callable[[str], tuple[gpd.GeoDataFrame, Any, Any]]:
    """
    Return ``build(adcode) -> (stations, district, report)``: a bundled district's report with the default options
    on `REPORT_DAY`, built once per session however many tests read it (tests must not change what they get).
    """
    from stationmap import report
    from stationmap.districts import load_district
    from stationmap.rubric import default_rubric_path, load_rubric
    from stationmap.stations import load_stations

    rubric = load_rubric(default_rubric_path(settings.data_dir))

    @functools.cache
    def build(adcode: str) -> tuple[gpd.GeoDataFrame, Any, Any]:
        stations = load_stations(settings.data_dir / "stations" / f"{adcode}.geojson")
        district = load_district(adcode, data_dir=settings.data_dir)
        return stations, district, report.build_district_report(stations, district, rubric=rubric, on=REPORT_DAY)

    return build


@pytest.fixture(scope="session")
def fixture_path() -> Path:
    """Five stations around (109.06 E, 34.27 N) in 灞桥区; tests/data/README.md gives their geometry."""
    return TESTS / "data" / "fixture_stations.geojson"


@pytest.fixture(scope="session")
def fixture_dir(tmp_path_factory: pytest.TempPathFactory, fixture_path: Path) -> Path:
    """A data folder whose only station file is the five-station fixture (no boundaries, no rubric); read-only."""
    root = tmp_path_factory.mktemp("fixture-data")
    (root / "stations").mkdir()
    shutil.copy(fixture_path, root / "stations" / "fixture.geojson")
    return root


@pytest.fixture
def stations_utm() -> gpd.GeoDataFrame:
    """Four stations on a 1 km grid in EPSG:32649 (UTM 49N, around Xi'an), so distances are known by hand."""
    return gpd.GeoDataFrame(
        {"id": ["A", "B", "C", "D"], "name": ["甲站", "乙站", "丙站", "丁站"]},
        geometry=gpd.points_from_xy([500_000, 501_000, 500_000, 503_000], [3_790_000, 3_790_000, 3_791_000, 3_790_000]),
        crs=32649,
    )


@pytest.fixture(scope="session")
def district_points(boundary_cache: Path):
    """``district_points(adcode, n)``: `n` WGS-84 (lon, lat) points spread over a district, each inside its boundary."""
    import numpy as np
    import shapely

    from stationmap.districts import load_district

    def points(adcode: str, n: int) -> list[tuple[float, float]]:
        district = load_district(adcode, data_dir=BUNDLED_DATA_DIR, cache_dir=boundary_cache)
        inner = district.geometry.buffer(-0.002)  # about 200 m inside, so no point sits on the border
        west, south, east, north = inner.bounds
        side = 8 * int(np.ceil(np.sqrt(n)))
        lon, lat = (a.ravel() for a in np.meshgrid(np.linspace(west, east, side), np.linspace(south, north, side)))
        inside = shapely.contains_xy(inner, lon, lat)
        lon, lat = lon[inside], lat[inside]
        pick = np.linspace(0, len(lon) - 1, n).round().astype(int)
        return [(round(float(lon[i]), 6), round(float(lat[i]), 6)) for i in pick]

    return points


@pytest.fixture
def runner() -> CliRunner:
    """A click runner for CLI tests."""
    return CliRunner()


# --- end-to-end tests: Debian's Chromium driven by Playwright ------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = TESTS.parent / "test-artifacts"
# Without the background-networking flags Chromium keeps calling home, and this machine refuses every such call.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
BLANK_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)
TILE_HOSTS = {"tile.openstreetmap.org", *(f"webrd0{n}.is.autonavi.com" for n in range(1, 5))}  # OSM, Amap


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One headless Debian Chromium for every end-to-end test (skipped where it is not installed)."""
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium (scripts/test installs it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


@contextlib.contextmanager
def _serve(data_dir: Path, **settings: object) -> Iterator[str]:
    from stationmap.web.server import running_server

    with running_server(Settings(data_dir=data_dir, host="127.0.0.1", port=0, **settings)) as server:
        yield f"http://127.0.0.1:{server.effective_port}"


@pytest.fixture(scope="session")
def live_server():
    """``with live_server(data_dir, **settings) as base_url:`` runs the real waitress server on 127.0.0.1, a free port.

    Extra keyword arguments are `Settings` fields, e.g. ``stations=(register,)`` to serve a union's register.
    """
    return _serve


@pytest.fixture(scope="session")
def page_watch():
    """The `PageWatch` class: ``watch = page_watch(page)`` before loading the page."""
    return PageWatch


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Folder for screenshots (``test-artifacts/``, not committed)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


class PageWatch:
    """Records console errors, page errors, dialogs, and every request to another host (answered locally)."""

    def __init__(self, page) -> None:
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.outside: list[str] = []
        page.on("console", lambda msg: self.errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda err: self.errors.append(str(err)))
        page.on("dialog", self._dialog)
        page.route("**/*", self._route)

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _route(self, route) -> None:
        url = route.request.url
        host = urlsplit(url).hostname
        if host == "127.0.0.1":
            route.continue_()
            return
        self.outside.append(url)
        if host in TILE_HOSTS:
            route.fulfill(status=200, content_type="image/png", body=BLANK_PNG)
        else:
            route.abort()

    def assert_clean(self) -> None:
        """No console error, no dialog, and no request outside 127.0.0.1 but base-map tiles."""
        assert self.errors == [], self.errors
        assert self.dialogs == [], self.dialogs
        hosts = {urlsplit(u).hostname for u in self.outside}
        assert hosts <= TILE_HOSTS, f"requests outside 127.0.0.1 other than tiles: {self.outside}"


# --- the living register: SQLite and a throwaway PostgreSQL + PostGIS server -------------------------------------


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    """
    This test process's own throwaway PostgreSQL + PostGIS server (`tests.pgserver.PgServer`), stopped at the end.

    Skipped when PostgreSQL or PostGIS is not installed, unless ``CI=true``: then the tests fail loudly.
    """
    import os

    from pgserver import PgServer, PgUnavailableError  # tests/pgserver.py

    try:
        server = PgServer.start()
    except PgUnavailableError as err:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {err}", pytrace=False)
        pytest.skip(str(err))
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgis"], ids=["sqlite", "postgis"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty register database: ``sqlite:///`` a file in `tmp_path`, or a new database on `pg_server`."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'register.db'}"
        return
    server = request.getfixturevalue("pg_server")
    url = server.new_database()
    yield url
    server.drop_database(url)


@pytest.fixture
def store(database_url: str) -> Iterator[Any]:
    """``open_store(database_url)``: an empty register on each backend, closed after the test."""
    from stationmap.store import open_store

    opened = open_store(database_url)
    yield opened
    opened.close()
