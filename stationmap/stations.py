"""Read, convert and export station records (RFC 7946 GeoJSON, GeoPackage, CSV, XLSX; WGS-84 lon/lat).

Loading validates every record first (`stationmap.validation`); writing goes through `files.atomic_write`.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
from shapely.geometry.base import BaseGeometry

from stationmap import geo
from stationmap.errors import BadRequestError, StationDataError
from stationmap.files import atomic_write, neutralise_formula, read_utf8
from stationmap.schema import (
    AMENITIES,
    FIELDS,
    HOST_TYPES,
    KINDS,
    NESTED_FIELDS,
    SERVED_GROUPS,
    STATUSES,
    TOILET,
)
from stationmap.validation import DEFAULT_DUPLICATE_M, ValidationReport, validate_features

__all__ = [
    "EXPORT_FORMATS",
    "export_stations",
    "json_safe",
    "load_stations",
    "read_feature_collection",
    "stations_from_features",
    "stations_table",
    "stations_to_geojson",
    "validate_stations",
]

EXPORT_FORMATS = ("geojson", "gpkg", "csv", "xlsx")


def read_feature_collection(path: str | Path) -> dict[str, Any]:
    """
    Read a GeoJSON FeatureCollection from `path`, with a precise error for every way the file can be broken.

    Parameters
    ----------
    path
        A ``.geojson`` / ``.json`` file, UTF-8.

    Raises
    ------
    StationDataError
        If the file is missing, not UTF-8, not JSON (with line and column), nested too deeply (``[[[[...]]]]``), or
        not a FeatureCollection.
    """
    path = Path(path)
    text = read_utf8(path, what="Station file")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        msg = f"{path.name}: invalid JSON at line {err.lineno}, column {err.colno}: {err.msg}."
        raise StationDataError(msg) from err
    except RecursionError as err:  # [[[[...]]]] nested deeper than the parser's stack
        msg = f"{path.name}: JSON nested too deeply to be a station FeatureCollection."
        raise StationDataError(msg) from err
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        found = doc.get("type") if isinstance(doc, dict) else type(doc).__name__
        msg = f"{path.name}: expected a GeoJSON FeatureCollection, found {found!r}."
        raise StationDataError(msg)
    if not isinstance(doc.get("features"), list):
        msg = f"{path.name}: the FeatureCollection has no 'features' list."
        raise StationDataError(msg)
    return doc



def validate_stations(source: str | Path | Mapping[str, Any] | gpd.GeoDataFrame, *,
                      districts: Mapping[str, BaseGeometry] | None = None,
                      duplicate_m: float = DEFAULT_DUPLICATE_M) -> ValidationReport:
    """
    Validate a station file, a parsed FeatureCollection or a GeoDataFrame of stations.

    Parameters
    ----------
    source
        Path to a GeoJSON file, a FeatureCollection dict, or stations in EPSG:4326.
    districts
        District boundaries in EPSG:4326 keyed by adcode (see `validate_features`).
    duplicate_m
        Distance in meters below which two stations are a possible duplicate.

    Returns
    -------
    report
        Every problem found.

    Raises
    ------
    StationDataError
        If a file cannot be read as a FeatureCollection at all.
    """
    if isinstance(source, gpd.GeoDataFrame):
        return validate_features(stations_to_geojson(source), districts=districts, duplicate_m=duplicate_m,
                                 source="stations")
    if isinstance(source, Mapping):
        return validate_features(source, districts=districts, duplicate_m=duplicate_m)
    path = Path(source)
    return validate_features(read_feature_collection(path), districts=districts, duplicate_m=duplicate_m,
                             source=path.name)


# --- loading ----------------------------------------------------------------------------------------------------

def stations_from_features(features: Sequence[Mapping[str, Any]],
                           metadata: Mapping[str, Any] | None = None) -> gpd.GeoDataFrame:
    """
    Build the stations GeoDataFrame from already validated GeoJSON Features.

    Parameters
    ----------
    features
        Point Features in WGS-84 whose properties follow ``schema.FIELDS``.
    metadata
        Collection-level metadata, kept in ``attrs["metadata"]``.

    Returns
    -------
    stations
        As `load_stations` returns them.
    """
    rows = []
    extra_cols: list[str] = []
    for feature in features:
        props = dict(feature["properties"])
        props.setdefault("id", feature.get("id"))
        rows.append(props)
        extra_cols.extend(k for k in props if k not in FIELDS and k not in extra_cols)
    columns = [*FIELDS, *extra_cols]
    # column by column as object Series, so ints stay ints and missing values stay None (no float upcasting)
    frame = pd.DataFrame({name: pd.Series([r.get(name) for r in rows], dtype=object) for name in columns})
    frame["kind"] = [k or "outdoor_worker_station" for k in frame["kind"]]
    frame["stars"] = [0 if s is None else int(s) for s in frame["stars"]]
    frame["status"] = [s or "open" for s in frame["status"]]
    for name in ("amenities", "served_groups", "honours"):
        frame[name] = [list(v) if v is not None else [] for v in frame[name]]
    lon = [f["geometry"]["coordinates"][0] for f in features]
    lat = [f["geometry"]["coordinates"][1] for f in features]
    gdf = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(lon, lat), crs=geo.WGS84)
    gdf.attrs["metadata"] = dict(metadata or {})
    return gdf


def load_stations(path: str | Path, *, districts: Mapping[str, BaseGeometry] | None = None,
                  strict: bool = False) -> gpd.GeoDataFrame:
    """
    Load and validate a station file into a GeoDataFrame.

    Parameters
    ----------
    path
        A GeoJSON FeatureCollection (``.geojson``/``.json``) or a GeoPackage written by `export_stations`.
    districts
        District boundaries in EPSG:4326 keyed by adcode, for the "outside district" check.
    strict
        Treat warnings as errors.

    Returns
    -------
    stations
        One row per station, EPSG:4326 point geometry, one column per field of ``schema.FIELDS`` (missing
        optional values are None; list fields are lists). ``attrs["metadata"]`` holds the file's metadata
        (including the demo-data notice where present).

    Raises
    ------
    StationDataError
        With every problem, if the file has any error (or any warning, when `strict`).
    """
    path = Path(path)
    doc = _read_gpkg_as_features(path) if path.suffix.lower() == ".gpkg" else read_feature_collection(path)
    report = validate_features(doc, districts=districts, source=path.name)
    if not report.ok(strict=strict):
        raise StationDataError(report.message(limit=50))
    return stations_from_features(doc["features"], doc.get("metadata") or {})


def _read_gpkg_as_features(path: Path) -> dict[str, Any]:
    try:
        frame = pyogrio.read_dataframe(path)
    except (pyogrio.errors.DataSourceError, OSError) as err:
        msg = f"Cannot read GeoPackage {str(path)!r}: {err}"
        raise StationDataError(msg) from err
    if frame.crs is None or not frame.crs.equals(geo.WGS84):
        msg = f"{path.name}: expected EPSG:4326 coordinates, found {frame.crs}."
        raise StationDataError(msg)
    features = []
    for row in frame.itertuples(index=False):
        props = {}
        for name, value in row._asdict().items():
            if name == "geometry" or value is None or (isinstance(value, float) and math.isnan(value)):
                continue
            if name in NESTED_FIELDS and isinstance(value, str):
                value = json.loads(value)
            elif FIELDS.get(name) == "int" and isinstance(value, (float, np.integer, np.floating)):
                value = int(value)
            elif FIELDS.get(name) == "number" and isinstance(value, (np.integer, np.floating)):
                value = float(value)
            elif FIELDS.get(name) == "bool":
                value = bool(value)
            props[name] = value
        geom = row.geometry
        features.append({"type": "Feature", "id": props.get("id"), "properties": props,
                         "geometry": {"type": "Point", "coordinates": [geom.x, geom.y]} if geom else None})
    metadata = {}
    with contextlib.suppress(Exception):
        metadata = json.loads(pyogrio.read_info(path)["layer_metadata"].get("metadata", "{}"))
    return {"type": "FeatureCollection", "metadata": metadata, "features": features}


# --- export -----------------------------------------------------------------------------------------------------

def json_safe(value: Any) -> Any:
    """Turn numpy scalars into Python values and NaN, inf and NaT into None, so records serialise as strict JSON."""
    if value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (list, tuple, np.ndarray)):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    return value


def _iter_records(stations: gpd.GeoDataFrame) -> Iterator[dict[str, Any]]:
    columns = [c for c in stations.columns if c != stations.geometry.name]
    for row in stations[columns].itertuples(index=False, name=None):
        props = {name: json_safe(value) for name, value in zip(columns, row, strict=True)}
        yield {k: v for k, v in props.items() if v is not None}


def stations_to_geojson(stations: gpd.GeoDataFrame, *, datum: str = "wgs84",
                        metadata: Mapping[str, Any] | None = None, precision: int = 7) -> dict[str, Any]:
    """
    Return stations as an RFC 7946 FeatureCollection dict.

    Parameters
    ----------
    stations
        Stations in EPSG:4326.
    datum
        ``wgs84`` (RFC 7946) or ``gcj02``/``bd09`` for Amap/Baidu users; a non-WGS-84 collection says so in a
        top-level ``datum`` member, and stationmap refuses to load it as WGS-84.
    metadata
        Top-level ``metadata`` member; defaults to ``stations.attrs["metadata"]``.
    precision
        Decimal places of the coordinates (7 is about 1 cm).
    """
    target = geo.parse_datum(datum)
    lon = stations.geometry.x.to_numpy(dtype=float)
    lat = stations.geometry.y.to_numpy(dtype=float)
    lon, lat = geo.convert_coords(lon, lat, src="wgs84", dst=target)
    features = []
    for props, x, y in zip(_iter_records(stations), lon, lat, strict=True):
        features.append({"type": "Feature", "id": props.get("id"),
                         "geometry": {"type": "Point", "coordinates": [round(float(x), precision),
                                                                       round(float(y), precision)]},
                         "properties": props})
    doc: dict[str, Any] = {"type": "FeatureCollection"}
    meta = dict(metadata if metadata is not None else stations.attrs.get("metadata", {}))
    if target != "wgs84":
        doc["datum"] = target
        meta["datum"] = target
    if meta:
        doc["metadata"] = meta
    doc["features"] = features
    return doc


_ZH_HEADERS = {
    "id": "站点编号", "name": "站点名称", "name_en": "英文名称", "kind": "站点类型", "address": "地址",
    "district_code": "行政区划代码", "district": "所属区县", "stars": "星级", "stars_assessed_on": "评星日期",
    "amenities": "设施/服务项目", "toilet": "厕所", "opening_hours": "开放时间", "served_groups": "服务对象",
    "host_type": "依托单位类型", "host_org": "依托单位", "area_m2": "面积(平方米)", "capacity": "座位数",
    "honours": "荣誉", "manager": "负责人", "phone": "联系电话", "visits": "服务人次", "status": "运营状态",
    "last_verified": "核实日期", "demo": "示意数据", "amenities_other": "其他设施", "opening_hours_raw": "开放时间原文",
    "extra": "其他信息", "lon": "经度", "lat": "纬度",
}


_VOCAB_LISTS = {"amenities": AMENITIES, "served_groups": SERVED_GROUPS}
#: Single-value vocabulary fields, written as their Chinese labels under Chinese headers (the importer reads both).
_VOCAB_VALUES = {"kind": KINDS, "status": STATUSES, "toilet": TOILET, "host_type": HOST_TYPES}


def stations_table(stations: gpd.GeoDataFrame, *, datum: str = "wgs84", headers: str = "en") -> pd.DataFrame:
    """
    Flatten stations to one row each, as CSV and XLSX exports write them.

    Vocabulary lists become labels a clerk reads (and, under Chinese headers, kind, status, toilet and host type
    their Chinese labels too), other nested values JSON; coordinates become ``lon``/``lat``
    columns in `datum`; no cell or header can run as a spreadsheet formula.

    Parameters
    ----------
    stations
        Stations in EPSG:4326.
    datum
        ``wgs84``, ``gcj02`` or ``bd09``: the datum of the ``lon``/``lat`` columns.
    headers
        ``en`` (field names) or ``zh`` (Chinese headers that `importer` reads back).
    """
    lon, lat = geo.convert_coords(stations.geometry.x.to_numpy(dtype=float), stations.geometry.y.to_numpy(dtype=float),
                                  src="wgs84", dst=datum)
    records = []
    for props, x, y in zip(_iter_records(stations), lon, lat, strict=True):
        row: dict[str, Any] = {}
        for k, v in props.items():
            if k in _VOCAB_LISTS:
                row[k] = ("、".join(_VOCAB_LISTS[k].label(key, "zh") for key in v) if headers == "zh"
                          else ";".join(v))
            elif k in _VOCAB_VALUES and headers == "zh" and isinstance(v, str) and v in _VOCAB_VALUES[k].keys:
                row[k] = _VOCAB_VALUES[k].label(v, "zh")
            elif k in NESTED_FIELDS or isinstance(v, (list, dict)):
                row[k] = json.dumps(v, ensure_ascii=False)
            else:
                row[k] = v
        row["lon"], row["lat"] = round(float(x), 7), round(float(y), 7)
        records.append(row)
    columns = ["id", "name", "lon", "lat", *[c for c in stations.columns if c not in {"id", "name", "geometry"}]]
    table = pd.DataFrame.from_records(records, columns=columns)
    if headers == "zh":
        table = table.rename(columns=_ZH_HEADERS)
    # no cell or header may run as a formula when a clerk opens the file in Excel or WPS
    return table.rename(columns=neutralise_formula).map(neutralise_formula)


def export_stations(stations: gpd.GeoDataFrame, path: str | Path, *, fmt: str | None = None,
                    datum: str = "wgs84", headers: str = "en") -> Path:
    """
    Write stations to GeoJSON, GeoPackage, CSV or XLSX, atomically.

    Parameters
    ----------
    stations
        Stations in EPSG:4326, as `load_stations` returns them.
    path
        Output file.
    fmt
        ``geojson``, ``gpkg``, ``csv`` or ``xlsx``; taken from the suffix of `path` when None.
    datum
        Output datum: ``wgs84`` (default), or ``gcj02``/``bd09`` for Amap/Baidu users (GeoJSON, CSV, XLSX only:
        a GeoPackage declares an EPSG CRS and no EPSG code exists for those datums).
    headers
        ``en`` (field names) or ``zh`` (Chinese headers, as union clerks keep them) for CSV/XLSX.

        In CSV and XLSX, text starting with ``=``, ``+``, ``-``, ``@``, tab or CR gets a leading ``'`` (OWASP), so
        that no cell runs as a formula in Excel or WPS; numbers stay numbers.

    Returns
    -------
    path
        The file written.

    Raises
    ------
    BadRequestError
        If the format or datum is unsupported for the output.
    """
    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    fmt = {"json": "geojson", "xls": "xlsx"}.get(fmt, fmt)
    if fmt not in EXPORT_FORMATS:
        msg = f"Unknown export format {fmt!r}; expected one of {', '.join(EXPORT_FORMATS)}."
        raise BadRequestError(msg)
    target = geo.parse_datum(datum)
    if headers not in ("en", "zh"):
        msg = f"Unknown header language {headers!r}; expected 'en' or 'zh'."
        raise BadRequestError(msg)
    writers: dict[str, Callable[[Path], object]] = {  # what a writer returns is not used
        "geojson": lambda tmp: tmp.write_text(
            json.dumps(stations_to_geojson(stations, datum=target), ensure_ascii=False, indent=1) + "\n",
            encoding="utf-8"),
        "gpkg": lambda tmp: _write_gpkg(stations, tmp, target),
        # CRLF lines (RFC 4180): the csv writer then also quotes a cell holding a lone CR
        "csv": lambda tmp: stations_table(stations, datum=target, headers=headers).to_csv(tmp, index=False, encoding="utf-8-sig",
                                                                    lineterminator="\r\n"),
        "xlsx": lambda tmp: stations_table(stations, datum=target, headers=headers).to_excel(tmp, index=False, sheet_name="stations"),
    }
    if fmt == "gpkg" and target != "wgs84":
        msg = ("A GeoPackage declares an EPSG CRS and GCJ-02/BD-09 have none; export GCJ-02 or BD-09 as GeoJSON, "
               "CSV or XLSX instead.")
        raise BadRequestError(msg)
    with atomic_write(path) as tmp:
        writers[fmt](tmp)
    return path


def _write_gpkg(stations: gpd.GeoDataFrame, tmp: Path, datum: str) -> None:
    frame = stations.copy()
    for name in frame.columns:
        if name == frame.geometry.name:
            continue
        if name in NESTED_FIELDS or frame[name].map(lambda v: isinstance(v, (list, dict))).any():
            frame[name] = [None if v is None else json.dumps(json_safe(v), ensure_ascii=False) for v in frame[name]]
    for name, kind in FIELDS.items():
        if kind == "int" and name in frame:
            frame[name] = pd.array([None if v is None else int(v) for v in frame[name]], dtype="Int64")
        elif kind == "bool" and name in frame:
            frame[name] = pd.array([None if v is None else bool(v) for v in frame[name]], dtype="boolean")
        elif kind == "number" and name in frame:
            frame[name] = pd.array([None if v is None else float(v) for v in frame[name]], dtype="Float64")
    meta = json.dumps(stations.attrs.get("metadata", {}), ensure_ascii=False)
    pyogrio.write_dataframe(frame, tmp, layer="stations", driver="GPKG", metadata={"metadata": meta})
