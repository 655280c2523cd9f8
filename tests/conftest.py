"""Shared fixtures: tiny hand-checkable station sets, the bundled data folder, and the CLI runner."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
from click.testing import CliRunner

from stationmap.config import PROJECT_ROOT, Settings

TESTS = Path(__file__).resolve().parent
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def settings() -> Settings:
    """Settings pointing at the bundled data folder."""
    return Settings(data_dir=PROJECT_ROOT / "data")


@pytest.fixture(scope="session")
def fixture_path() -> Path:
    """Five stations around (109.06 E, 34.27 N) in 灞桥区; tests/data/README.md gives their geometry."""
    return TESTS / "data" / "fixture_stations.geojson"


@pytest.fixture
def stations_utm() -> gpd.GeoDataFrame:
    """Four stations on a 1 km grid in EPSG:32649 (UTM 49N, around Xi'an), so distances are known by hand."""
    return gpd.GeoDataFrame(
        {"id": ["A", "B", "C", "D"], "name": ["甲站", "乙站", "丙站", "丁站"]},
        geometry=gpd.points_from_xy([500_000, 501_000, 500_000, 503_000], [3_790_000, 3_790_000, 3_791_000, 3_790_000]),
        crs=32649,
    )


@pytest.fixture
def runner() -> CliRunner:
    """A click runner for CLI tests."""
    return CliRunner()
