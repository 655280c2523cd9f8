"""Read demand layers (population grids, worker hot spots, street lengths): points or polygons with a weight."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from stationmap import geo
from stationmap.errors import BadRequestError, DatumError, EmptyInputError
from stationmap.extras import import_extra
from stationmap.files import check_xlsx_size

__all__ = ["InputSource", "PlanningInputs", "load_demand", "read_planning_inputs"]

_LON_NAMES = ("lon", "lng", "longitude", "x", "经度")
_LAT_NAMES = ("lat", "latitude", "y", "纬度")


def load_demand(path: str | Path, *, weight_col: str | None = None, layer: str | None = None,
                crs: str | None = None) -> gpd.GeoDataFrame:
    """
    Read a demand layer into EPSG:4326 with a numeric ``weight`` column.

    Parameters
    ----------
    path
        GeoJSON, GeoPackage, shapefile (any OGR format) of points or polygons, or a CSV with lon/lat columns
        (``lon``/``lat``, ``lng``, ``longitude``/``latitude``, ``x``/``y``, ``经度``/``纬度``), or the same as an
        XLSX workbook (first sheet), or a population raster (GeoTIFF, ``stationmap[raster]``): a point per
        populated cell, weighing its value.
    weight_col
        Column with the demand weight (people, workers, metres of street). None: a column named ``weight`` if
        there is one, else every feature weighs 1.
    layer
        Layer of a multi-layer file (GeoPackage); default the first.
    crs
        Datum or CRS of the coordinates when the file does not carry one (CSV): ``wgs84``, ``gcj02``, ``bd09`` or
        an EPSG code. Chinese datums are converted to WGS-84; a CRS the file states is used as is.

    Returns
    -------
    demand
        EPSG:4326 frame with the file's columns plus ``weight`` (float, missing values 0) and ``id`` (str).

    Raises
    ------
    BadRequestError
        If the file cannot be read, has no coordinates, or its weights are not non-negative numbers.
    DatumError
        If a CSV gives no datum.
    EmptyInputError
        If it has no features.
    """
    path = Path(path)
    if not path.is_file():
        msg = f"Demand file {str(path)!r} not found."
        raise BadRequestError(msg)
    if path.suffix.lower() in {".csv", ".txt", ".xlsx", ".xlsm"}:
        frame = _read_csv(path, crs)
    elif path.suffix.lower() in {".tif", ".tiff"}:
        frame = _read_raster(path, crs)
    else:
        try:
            frame = pyogrio.read_dataframe(path, layer=layer)
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError) as err:
            msg = f"Cannot read demand file {str(path)!r}: {err}"
            raise BadRequestError(msg) from err
        frame = _set_crs(frame, crs, path)
    if len(frame) == 0:
        msg = f"Demand file {path.name!r} has no features."
        raise EmptyInputError(msg)
    frame = frame[frame.geometry.notna() & ~frame.geometry.is_empty]
    kinds = set(frame.geom_type.unique())
    if not kinds <= {"Point", "Polygon", "MultiPolygon"}:
        msg = f"Demand file {path.name!r} must hold points or polygons, found {', '.join(sorted(kinds))}."
        raise BadRequestError(msg)
    name = weight_col or ("weight" if "weight" in frame.columns else None)
    if name is None:
        weights = np.ones(len(frame))
    elif name not in frame.columns:
        cols = ", ".join(c for c in frame.columns if c != frame.geometry.name)
        msg = f"Demand file {path.name!r} has no column {name!r} (columns: {cols})."
        raise BadRequestError(msg)
    else:
        weights = pd.to_numeric(frame[name], errors="coerce")
        bad = frame[name].notna() & weights.isna()
        if bad.any() or (weights < 0).any():
            example = frame.loc[bad | (weights < 0), name].iloc[0]
            msg = f"Demand column {name!r} must hold non-negative numbers; found {example!r}."
            raise BadRequestError(msg)
        weights = weights.fillna(0.0).to_numpy(dtype=float)
    frame = frame.copy()
    frame["weight"] = weights
    frame["id"] = frame["id"].astype(str) if "id" in frame.columns else [str(i) for i in range(1, len(frame) + 1)]
    return frame.reset_index(drop=True)


@dataclass(frozen=True)
class InputSource:
    """
    Where a planner's demand or candidate sites came from.

    Attributes
    ----------
    kind
        ``file`` (a demand or candidates file) or ``osm`` (an OSM extract).
    file
        The file's name, without its folder.
    text
        The English words answers carry as ``demand_source`` / ``candidates_source``.
    """

    kind: Literal["file", "osm"]
    file: str
    text: str


@dataclass(frozen=True)
class PlanningInputs:
    """
    The demand and candidate sites a planner answer uses, read once (`read_planning_inputs`).

    Attributes
    ----------
    demand
        Demand points or polygons (EPSG:4326) with a ``weight`` column, or None (demand is the district's area).
    demand_from
        Where `demand` came from, or None.
    candidates
        Candidate sites (EPSG:4326 points), or None (generated inside the gaps).
    candidates_from
        Where `candidates` came from, or None.
    """

    demand: gpd.GeoDataFrame | None = None
    demand_from: InputSource | None = None
    candidates: gpd.GeoDataFrame | None = None
    candidates_from: InputSource | None = None

    def candidates_in(self, region: Any) -> gpd.GeoDataFrame | None:
        """The candidates for one district (a WGS-84 geometry): an extract's inside it, a file's all of them."""
        frame = self.candidates
        if frame is None or self.candidates_from is None or self.candidates_from.kind != "osm":
            return frame
        import shapely

        return frame[shapely.contains_xy(region, frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy())]


def read_planning_inputs(*, demand: Path | None = None, weight_col: str | None = None, demand_crs: str | None = None,
                         demand_osm: Path | None = None, candidates: Path | None = None,
                         candidates_crs: str | None = None, candidates_osm: Path | None = None,
                         region: Any = None) -> PlanningInputs:
    """
    Read a planner's demand (a file or an OSM extract) and candidate sites (a file or an OSM extract).

    Parameters
    ----------
    demand, weight_col, demand_crs
        A demand file, its weight column and the datum of a CSV (`load_demand`).
    demand_osm
        An OSM extract whose walkable street length and worker hot spots are the demand
        (`stationmap.osm_features.read_osm_demand`).
    candidates, candidates_crs
        A file of candidate sites (points) and the datum of a CSV.
    candidates_osm
        An OSM extract whose host institutions are the candidates (`stationmap.osm_features.read_osm_candidates`).
    region
        A WGS-84 geometry the extracts are clipped to; None keeps a whole extract.

    Returns
    -------
    inputs
        The frames (EPSG:4326) and where each came from; None for what was not given.

    Raises
    ------
    BadRequestError
        If both sources of the demand, or of the candidates, are given, or a file is missing or unreadable.
    DatumError, EmptyInputError, MissingExtraError
        As `load_demand` and the OSM readers.
    """
    for one, other, what in ((demand, demand_osm, "demand"), (candidates, candidates_osm, "candidates")):
        if one is not None and other is not None:
            msg = f"A {what} file and an OSM extract for the {what} are two {what} sources; give one of them."
            raise BadRequestError(msg)
    from stationmap import osm_features

    demand_frame, demand_from = None, None
    if demand_osm is not None:
        demand_frame = osm_features.read_osm_demand(demand_osm, region)
        demand_from = InputSource("osm", Path(demand_osm).name, demand_frame.attrs["demand_source"])
    elif demand is not None:
        demand_frame = load_demand(demand, weight_col=weight_col, crs=demand_crs)
        demand_from = InputSource("file", Path(demand).name, f"demand file {Path(demand).name}")
    sites, sites_from = None, None
    if candidates_osm is not None:
        sites = osm_features.read_osm_candidates(candidates_osm, region)
        sites_from = InputSource("osm", Path(candidates_osm).name, sites.attrs["candidates_source"])
    elif candidates is not None:
        sites = load_demand(candidates, crs=candidates_crs)
        sites_from = InputSource("file", Path(candidates).name,
                                 f"{len(sites):,} sites from candidates file {Path(candidates).name}")
    return PlanningInputs(demand=demand_frame, demand_from=demand_from, candidates=sites, candidates_from=sites_from)


def _set_crs(frame: gpd.GeoDataFrame, crs: str | None, path: Path) -> gpd.GeoDataFrame:
    if frame.crs is not None:
        return frame.to_crs(geo.WGS84)
    if crs is None:
        msg = f"Demand file {path.name!r} states no CRS; give it (wgs84, gcj02, bd09 or an EPSG code)."
        raise DatumError(msg)
    return _apply_datum(frame, crs)


def _apply_datum(frame: gpd.GeoDataFrame, crs: str) -> gpd.GeoDataFrame:
    geoms = geo.geometries_to_wgs84(frame.geometry, crs, what="The demand file", option="--demand-crs")
    return gpd.GeoDataFrame(frame.drop(columns=frame.geometry.name), geometry=geoms, crs=geo.WGS84)


def _read_raster(path: Path, crs: str | None) -> gpd.GeoDataFrame:
    """
    A population raster (GeoTIFF, band 1): one point per cell with a positive value, at the cell's centre, weighing
    that value. The CRS is the file's, or `crs` for a raster that states none; no-data and non-finite cells are left
    out.
    """
    rasterio = import_extra("rasterio")
    try:
        with rasterio.open(path) as src:
            values = src.read(1, masked=True).astype(float).filled(np.nan)
            transform, file_crs = src.transform, src.crs
    except (OSError, rasterio.errors.RasterioError) as err:
        msg = f"Cannot read population raster {str(path)!r}: {err}"
        raise BadRequestError(msg) from err
    rows, cols = np.nonzero(np.isfinite(values) & (values > 0))
    col_c, row_c = cols + 0.5, rows + 0.5  # cell centres, through the affine transform (pixel -> CRS units)
    xs = transform.c + col_c * transform.a + row_c * transform.b
    ys = transform.f + col_c * transform.d + row_c * transform.e
    frame = gpd.GeoDataFrame({"weight": values[rows, cols]}, geometry=gpd.points_from_xy(xs, ys))
    if file_crs is not None:
        return frame.set_crs(file_crs.to_wkt()).to_crs(geo.WGS84)
    if crs is None:
        msg = f"Population raster {path.name!r} states no CRS; give it (wgs84, gcj02, bd09 or an EPSG code)."
        raise DatumError(msg)
    return _apply_datum(frame, crs)


def _read_csv(path: Path, crs: str | None) -> gpd.GeoDataFrame:
    """A table of hot spots with lon/lat columns: CSV (UTF-8) or XLSX (size-checked, first sheet)."""
    try:
        if path.suffix.lower() in {".xlsx", ".xlsm"}:
            check_xlsx_size(path)  # a small workbook may unpack to gigabytes
            table = pd.read_excel(path, sheet_name=0, engine="openpyxl")
        else:
            table = pd.read_csv(path, encoding="utf-8-sig")
    except (OSError, ValueError, pd.errors.ParserError) as err:
        msg = f"Cannot read demand table {str(path)!r}: {err}"
        raise BadRequestError(msg) from err
    lower = {str(c).strip().lower(): c for c in table.columns}
    lon_col = next((lower[n] for n in _LON_NAMES if n in lower), None)
    lat_col = next((lower[n] for n in _LAT_NAMES if n in lower), None)
    if lon_col is None or lat_col is None:
        msg = f"Demand CSV {path.name!r} needs lon and lat columns; found {', '.join(map(str, table.columns))}."
        raise BadRequestError(msg)
    if crs is None:
        msg = f"Demand CSV {path.name!r}: say which datum its coordinates are in (wgs84, gcj02 or bd09)."
        raise DatumError(msg)
    lon = pd.to_numeric(table[lon_col], errors="coerce")
    lat = pd.to_numeric(table[lat_col], errors="coerce")
    if lon.isna().any() or lat.isna().any():
        row = int(np.flatnonzero((lon.isna() | lat.isna()).to_numpy())[0]) + 2
        msg = f"Demand CSV {path.name!r} line {row}: lon/lat must be numbers."
        raise BadRequestError(msg)
    frame = gpd.GeoDataFrame(table.drop(columns=[lon_col, lat_col]), geometry=gpd.points_from_xy(lon, lat))
    return _apply_datum(frame, crs)
