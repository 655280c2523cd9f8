"""Settings: frozen, documented defaults, environment overrides."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from stationmap.config import Settings
from stationmap.errors import BadRequestError


def test_defaults_and_frozen():
    s = Settings()
    assert s.default_radius_m == 1000.0 and s.tile_provider == "osm"
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.port = 1  # type: ignore[misc]


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
