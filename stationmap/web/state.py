"""What the web app loads once per process: the stations, their nearest index, and lookups for queries."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from stationmap import hours
from stationmap.analysis.nearest import NearestIndex
from stationmap.config import Settings
from stationmap.districts import District
from stationmap.errors import DistrictLookupError, StationDataError, StationNotFoundError
from stationmap.gazetteer import cnmaps_gazetteer
from stationmap.mapping import TileProvider, tile_provider
from stationmap.rubric import Rubric
from stationmap.schema import DEMO_NOTICE
from stationmap.stations import json_safe

__all__ = ["CLUSTER_CELL_PX", "VERIFIED_SOURCES", "AppState", "cluster_cell_deg", "last_verified",
           "state_from_stations"]

logger = logging.getLogger(__name__)

#: Grid cell of the map view's zoomed-out aggregation, in screen pixels.
CLUSTER_CELL_PX = 80
#: Zoom levels the cluster cells are prepared for at start-up (the ``zoom`` parameter's range).
_ZOOMS = range(23)
_HONOUR_RANK = {"national": 3, "provincial": 2, "city": 1}


#: What ``last_verified_source`` says: a worker's "here and open" (``confirm_open``) or the record's own date, set
#: by the union's clerks and editors (an editor's visit is an edit of ``last_verified``).
VERIFIED_SOURCES = ("worker", "union")


def last_verified(recorded: object, confirmed: str | None) -> tuple[str | None, str | None]:
    """
    Return the later of a record's ``last_verified`` date and its latest confirmation's date, and which it is.

    Parameters
    ----------
    recorded
        The record's ``last_verified`` (``YYYY-MM-DD`` or an ISO time; None or "" when unknown).
    confirmed
        The Asia/Shanghai date (``YYYY-MM-DD``) of the station's latest ``confirm_open`` report, or None.

    Returns
    -------
    date, source
        ``YYYY-MM-DD`` and ``"worker"`` or ``"union"`` (`VERIFIED_SOURCES`); a tie is the union's (an editor's
        visit says more than a tap). ``(None, None)`` when neither is known.
    """
    own = str(recorded)[:10] if recorded not in (None, "") else None
    if confirmed and (own is None or confirmed > own):
        return confirmed, "worker"
    return (own, "union") if own else (None, None)


def cluster_cell_deg(zoom: int, *, cell_px: float = CLUSTER_CELL_PX) -> float:
    """Return the side in degrees of a `cell_px`-pixel map cell at `zoom` (256-pixel web-map tiles)."""
    return 360.0 / (256 * 2 ** zoom) * cell_px


def _best_honour(honours: object) -> str | None:
    if not isinstance(honours, (list, tuple)) or not honours:
        return None
    levels = [h.get("level") for h in honours if isinstance(h, dict)]
    ranked = sorted((lvl for lvl in levels if lvl in _HONOUR_RANK), key=_HONOUR_RANK.__getitem__, reverse=True)
    return ranked[0] if ranked else None


def _cells(lon: np.ndarray, lat: np.ndarray, cell: float) -> tuple[np.ndarray, int]:
    """Number the `cell`-degree grid cells the points fall in, in key order; return each point's and the count."""
    with np.errstate(invalid="ignore"):  # a missing position gets a junk cell no bbox ever selects
        keys = np.floor(lon / cell).astype(np.int64) * 10_000_000 + np.floor(lat / cell).astype(np.int64)
    unique, inverse = np.unique(keys, return_inverse=True)
    return inverse.reshape(-1).astype(np.int32), len(unique)  # 4 bytes a station a zoom level


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
        The district adcode of each station: its ``district_code``, or for a station without one the district it
        lies in (derived at load time; the record is unchanged); "" where there is none.
    search_text
        Lower-cased name, English name, address and id per station, for substring search.
    rubric
        The star rubric stations are assessed against in their detail, or None if the data folder has none.
    districts
        Boundaries (EPSG:4326) by adcode of every district served: those the stations belong to and those
        named in the settings; for the planner and reports.
    revision
        The register's revision (`stationmap.store.Store.revision`) the state was built from; cached planner
        results are keyed by it, so an edit is never answered with a result from before it.
    versions
        Station id -> its version in the register (the HTTP ETag); empty for a state not built from a register.
    confirmed
        Station id -> the Asia/Shanghai date (``YYYY-MM-DD``) of its latest ``confirm_open`` report. `features`
        serves ``last_verified`` as the later of it and the record's own date, with ``last_verified_source``
        (`last_verified`). A live register replaces only this mapping when confirmations come in
        (`stationmap.web.live.LiveRegister`); the record is never changed.
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
    revision: int = 0
    versions: dict[str, int] = field(default_factory=dict)
    confirmed: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    _columns: tuple[tuple[str, np.ndarray], ...] = field(repr=False, default=())
    _features: list[dict[str, Any] | None] = field(repr=False, default_factory=list)
    _lon_order: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0, dtype=np.intp))
    _lon_sorted: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))
    _lat_by_lon: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))
    _lat_min: float = field(repr=False, default=math.nan)
    _lat_max: float = field(repr=False, default=math.nan)
    _cell_cache: dict[float, tuple[np.ndarray, int]] = field(repr=False, default_factory=dict)
    _totals_cache: dict[float, tuple[np.ndarray, np.ndarray, np.ndarray]] = field(repr=False, default_factory=dict)
    _honours: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0, dtype=object))
    _hours_codes: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0, dtype=np.intp))
    _hours_uniques: tuple[str, ...] = field(repr=False, default=())
    _shut: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0, dtype=bool))

    def rows_in_bbox(self, west: float, south: float, east: float, north: float) -> np.ndarray:
        """
        Return the rows (positions, file order) of the stations inside a bbox, edges included.

        A binary search over the stations sorted by longitude (prepared at start-up) picks the band
        ``west <= lon <= east``, so a city-sized bbox touches only the stations of its band.

        Parameters
        ----------
        west, south, east, north
            WGS-84 degrees.
        """
        n = len(self._lon_order)
        if n and west <= self._lon_sorted[0] and east >= self._lon_sorted[-1] and south <= self._lat_min \
                and north >= self._lat_max:
            return np.arange(n)
        lo = int(np.searchsorted(self._lon_sorted, west, side="left"))
        hi = int(np.searchsorted(self._lon_sorted, east, side="right"))
        if hi - lo > n // 8:  # a wide band: one pass over the columns in file order is cheaper than a sort
            lon, lat = self.index.lon, self.index.lat
            return np.flatnonzero((lon >= west) & (lon <= east) & (lat >= south) & (lat <= north))
        band = slice(lo, max(lo, hi))
        lat = self._lat_by_lon[band]
        return np.sort(self._lon_order[band][(lat >= south) & (lat <= north)])

    def cluster_cells(self, cell: float) -> tuple[np.ndarray, int]:
        """
        Return each station's grid-cell number for `cell`-degree cells (WGS-84), and how many cells there are.

        Cells are numbered in order of their key ``floor(lon / cell) * 10**7 + floor(lat / cell)``. The cells of
        every zoom level are prepared at start-up; another size is computed once and kept.
        """
        found = self._cell_cache.get(cell)
        if found is None:
            found = self._cell_cache[cell] = _cells(self.index.lon, self.index.lat, cell)  # racing threads agree
        return found

    def cluster_totals(self, cell: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """
        Return, per grid cell of `cluster_cells`, the number of stations and the sums of their lon and lat.

        Over every station, summed in row order; computed on the first request for a cell size and kept, so a
        view of the whole country costs no pass over the stations.
        """
        found = self._totals_cache.get(cell)
        if found is None:
            cell_of, n_cells = self.cluster_cells(cell)
            found = self._totals_cache[cell] = (  # racing threads compute identical arrays
                np.bincount(cell_of, minlength=n_cells),
                np.bincount(cell_of, weights=self.index.lon, minlength=n_cells),
                np.bincount(cell_of, weights=self.index.lat, minlength=n_cells),
            )
        return found

    def best_honours(self, rows: np.ndarray) -> list[str | None]:
        """Return the highest honour level (``national``, ``provincial``, ``city``) of each row, or None."""
        return self._honours[rows].tolist()

    def open_at_rows(self, rows: np.ndarray, when: datetime) -> np.ndarray:
        """
        Return which of `rows` are open at `when`, by the rule of `NearestIndex.filter_mask` (``open_at``).

        Missing hours are never open, nor is a station whose status is closed or temporarily closed.
        """
        lookup = np.append(hours.open_mask(list(self._hours_uniques), None, when), False)
        return lookup[self._hours_codes[rows]] & ~self._shut[rows]

    def district(self, query: str) -> District:
        """
        Return the served district an adcode or Chinese name means: ``440106``, ``天河区``, ``广州市 天河区``, ``天河``.

        A name that fits several districts of China is taken when exactly one of them is served.

        Raises
        ------
        StationNotFoundError
            If no served district fits (404), with the districts served listed.
        DistrictLookupError
            If the name fits several served districts (400), with them listed.
        """
        text = str(query or "").strip()
        if text in self.districts:
            return self.districts[text]
        found = [d for d in cnmaps_gazetteer().find(text) if d.adcode in self.districts] if text else []
        if len(found) == 1:
            return self.districts[found[0].adcode]
        if found:
            listed = "; ".join(d.describe() for d in found)
            msg = f"District {text!r} is ambiguous among the districts served: {listed}; give the adcode."
            raise DistrictLookupError(msg, candidates=tuple(found))
        known = ", ".join(f"{d.label} ({code})" for code, d in sorted(self.districts.items())) or "none"
        msg = f"District {text!r} is not served here; the districts served are: {known}."
        raise StationNotFoundError(msg)

    def features(self, rows: np.ndarray | list[int], *, verified: bool = False) -> list[dict[str, Any]]:
        """
        Return RFC 7946 Features for `rows`, as fresh copies the caller may add properties to.

        Each station is converted once, from column arrays prepared at start-up, and kept: no request
        touches the GeoDataFrame or a file. With `verified` (what workers are shown), ``last_verified`` is the
        later of the record's date and the latest worker's confirmation (`confirmed`), with
        ``last_verified_source`` (``worker`` or ``union``); without it, the properties are the record's.
        """
        out = []
        for r in rows:
            r = int(r)
            cached = self._features[r]
            if cached is None:
                cached = self._features[r] = self._convert(r)  # a racing thread writes an identical dict
            props = dict(cached["properties"])
            if verified:
                date, source = last_verified(props.get("last_verified"), self.confirmed.get(cached["id"]))
                if date is not None:
                    props.update({"last_verified": date, "last_verified_source": source})
            out.append({"type": "Feature", "id": cached["id"], "geometry": dict(cached["geometry"]),
                        "properties": props})
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
                        districts: dict[str, District] | None = None,
                        district_codes: np.ndarray | None = None, revision: int = 0,
                        versions: dict[str, int] | None = None,
                        confirmed: Mapping[str, str] | None = None) -> AppState:
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
    district_codes
        The district of each station, in row order (``register.served_districts``); default its
        ``district_code``.
    revision, versions
        The register's revision and each station's version (see `AppState`).
    confirmed
        Each station's latest worker's confirmation date (see `AppState`).

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
    index = NearestIndex(stations)
    return AppState(
        settings=settings,
        stations=stations,
        index=index,
        provider=provider,
        demo=demo,
        notices=tuple(notices),
        row_of={sid: i for i, sid in enumerate(ids)},
        district_codes=(column("district_code").astype(str).to_numpy() if district_codes is None
                        else np.asarray(district_codes, dtype=object)),
        search_text=search.to_numpy(dtype=object),
        rubric=rubric,
        districts=dict(districts or {}),
        revision=int(revision),
        versions=dict(versions or {}),
        confirmed=MappingProxyType(dict(confirmed or {})),
        _columns=tuple((name, stations[name].to_numpy(dtype=object)) for name in stations.columns
                       if name != stations.geometry.name),
        _features=[None] * len(stations),
        **_view_lookups(stations, index),
    )


def _view_lookups(stations: gpd.GeoDataFrame, index: NearestIndex) -> dict[str, Any]:
    """Prepare what every map-view request would otherwise recompute: sort order, cluster cells, honours, hours."""
    order = np.argsort(index.lon, kind="stable")
    honours = (np.array([_best_honour(h) for h in stations["honours"]], dtype=object) if "honours" in stations
               else np.full(len(stations), None, dtype=object))
    hours_col = stations["opening_hours"] if "opening_hours" in stations else pd.Series([None] * len(stations))
    codes, uniques = pd.factorize(hours_col.astype(object), use_na_sentinel=True)
    status = stations["status"] if "status" in stations else pd.Series([None] * len(stations))
    return {
        "_lon_order": order,
        "_lon_sorted": index.lon[order],
        "_lat_by_lon": index.lat[order],
        "_lat_min": float(np.nanmin(index.lat)) if len(index) else math.nan,
        "_lat_max": float(np.nanmax(index.lat)) if len(index) else math.nan,
        "_cell_cache": {cluster_cell_deg(z): _cells(index.lon, index.lat, cluster_cell_deg(z)) for z in _ZOOMS},
        "_honours": honours,
        "_hours_codes": np.asarray(codes, dtype=np.intp),
        "_hours_uniques": tuple(uniques),
        "_shut": status.isin(["closed", "temporarily_closed"]).to_numpy(dtype=bool),
    }
