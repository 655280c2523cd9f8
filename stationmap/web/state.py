"""What the web app loads once per process: the stations, their nearest index, and lookups for queries."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from stationmap import geo
from stationmap.analysis.nearest import NearestIndex
from stationmap.config import Settings
from stationmap.districts import District, bundled_adcodes, load_district
from stationmap.errors import StationDataError
from stationmap.mapping import TileProvider, tile_provider
from stationmap.rubric import Rubric, default_rubric_path, load_rubric
from stationmap.schema import DEMO_NOTICE
from stationmap.stations import json_safe, load_stations

__all__ = ["AppState", "load_state", "state_from_stations"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AppState:
    """
    Everything a request needs, built once in `create_app` and never changed by a request.

    Attributes
    ----------
    settings
        The app's settings.
    stations
        All stations, EPSG:4326, one row per station.
    index
        Nearest-station index over `stations`.
    provider
        Base-map tiles.
    demo
        True if any loaded file is marked as demo data.
    notices
        Demo-data notices (``{"zh": ..., "en": ...}``) from the files' metadata, deduplicated.
    row_of
        Station id -> row position.
    district_codes
        ``district_code`` per station (None where missing).
    search_text
        Lower-cased name, English name, address and id per station, for substring search.
    rubric
        The star rubric stations are assessed against in their detail, or None if the data folder has none.
    districts
        Bundled district boundaries by adcode, for reports.
    """

    settings: Settings
    stations: gpd.GeoDataFrame
    index: NearestIndex
    provider: TileProvider
    demo: bool
    notices: tuple[dict[str, str], ...]
    row_of: dict[str, int]
    district_codes: np.ndarray
    search_text: np.ndarray
    rubric: Rubric | None = None
    districts: dict[str, District] = field(default_factory=dict)
    _columns: tuple[tuple[str, np.ndarray], ...] = field(repr=False, default=())
    _features: list[dict[str, Any] | None] = field(repr=False, default_factory=list)

    def features(self, rows: np.ndarray | list[int]) -> list[dict[str, Any]]:
        """
        Return RFC 7946 Features for `rows`, as fresh copies the caller may add properties to.

        Each station is converted once, from column arrays prepared at start-up, and kept: no request
        touches the GeoDataFrame or a file.
        """
        out = []
        for r in rows:
            r = int(r)
            cached = self._features[r]
            if cached is None:
                cached = self._features[r] = self._convert(r)  # a racing thread writes an identical dict
            out.append({"type": "Feature", "id": cached["id"], "geometry": dict(cached["geometry"]),
                        "properties": dict(cached["properties"])})
        return out

    def _convert(self, row: int) -> dict[str, Any]:
        props = {}
        for name, values in self._columns:
            value = json_safe(values[row])
            if value is not None:
                props[name] = value
        lon = round(float(self.index.lon[row]), _PRECISION)
        lat = round(float(self.index.lat[row]), _PRECISION)
        return {"type": "Feature", "id": props.get("id"), "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "properties": props}


_PRECISION = 7  # decimal places of served coordinates, about 1 cm


def state_from_stations(settings: Settings, stations: gpd.GeoDataFrame,
                        metadata: list[dict[str, Any]] | None = None, *, rubric: Rubric | None = None,
                        districts: dict[str, District] | None = None) -> AppState:
    """
    Build the app state from an already loaded station frame.

    Parameters
    ----------
    settings
        The app's settings (tile provider and key are checked here).
    stations
        Stations in EPSG:4326.
    metadata
        The ``metadata`` members of the files they came from.
    rubric
        Star rubric for the station detail.
    districts
        District boundaries by adcode.

    Raises
    ------
    StationDataError
        If two stations share an id.
    BadRequestError
        If the tile provider setting is unknown or lacks its key.
    """
    provider = tile_provider(settings.tile_provider, tianditu_key=settings.tianditu_key)
    stations = stations.reset_index(drop=True)
    ids = stations["id"].astype(str) if len(stations) else pd.Series([], dtype=object)
    duplicated = ids[ids.duplicated()].unique().tolist()
    if duplicated:
        msg = f"Station ids appear in more than one record: {', '.join(map(repr, duplicated[:10]))}."
        raise StationDataError(msg)
    metadata = metadata or []
    demo = any(m.get("demo") for m in metadata) or bool(
        "demo" in stations and stations["demo"].fillna(False).astype(bool).any())
    notices: list[dict[str, str]] = []
    for meta in metadata:
        if meta.get("demo"):
            notice = {"zh": str(meta.get("notice_zh") or DEMO_NOTICE["zh"]),
                      "en": str(meta.get("notice_en") or DEMO_NOTICE["en"])}
            if notice not in notices:
                notices.append(notice)
    if demo and not notices:
        notices.append(dict(DEMO_NOTICE))

    def column(name: str) -> pd.Series:
        if name in stations:
            return stations[name].astype(object).where(stations[name].notna(), "")
        return pd.Series([""] * len(stations), dtype=object)

    search = (column("name").astype(str) + "\n" + column("name_en").astype(str) + "\n"
              + column("address").astype(str) + "\n" + column("id").astype(str)).str.lower()
    return AppState(
        settings=settings,
        stations=stations,
        index=NearestIndex(stations),
        provider=provider,
        demo=demo,
        notices=tuple(notices),
        row_of={sid: i for i, sid in enumerate(ids)},
        district_codes=column("district_code").astype(str).to_numpy(),
        search_text=search.to_numpy(dtype=object),
        rubric=rubric,
        districts=dict(districts or {}),
        _columns=tuple((name, stations[name].to_numpy(dtype=object)) for name in stations.columns
                       if name != stations.geometry.name),
        _features=[None] * len(stations),
    )


def load_state(settings: Settings) -> AppState:
    """
    Load every ``stations/*.geojson`` under ``settings.data_dir`` once and build the app state.

    Parameters
    ----------
    settings
        Where the data is and how to serve it.

    Raises
    ------
    StationDataError
        If a station file or the star rubric (``rubric/stars-v1.toml``, optional) is invalid, or ids collide
        across files.
    """
    folder = Path(settings.data_dir) / "stations"
    paths = sorted(folder.glob("*.geojson")) if folder.is_dir() else []
    if not paths:
        logger.warning("No station files in %s; the map will be empty.", folder)
    frames, metadata = [], []
    for path in paths:
        frame = load_stations(path)
        frames.append(frame)
        metadata.append(dict(frame.attrs.get("metadata") or {}))
    if frames:
        stations = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=geo.WGS84)
    else:
        stations = gpd.GeoDataFrame({"id": [], "name": []}, geometry=gpd.points_from_xy([], []), crs=geo.WGS84)
    stations.attrs = {}
    logger.info("Loaded %d stations from %d files in %s", len(stations), len(paths), folder)
    rubric_path = default_rubric_path(settings.data_dir)
    rubric = load_rubric(rubric_path) if rubric_path.is_file() else None
    districts = {code: load_district(code, data_dir=settings.data_dir)
                 for code in bundled_adcodes(settings.data_dir)} if (Path(settings.data_dir) / "boundaries").is_dir() else {}
    return state_from_stations(settings, stations, metadata, rubric=rubric, districts=districts)
