"""District boundaries: the bundled ones by adcode, or any boundary file with its datum stated."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pyogrio
import shapely
from shapely.geometry.base import BaseGeometry

from stationmap import geo
from stationmap.errors import BoundaryError, DatumError

__all__ = ["District", "bundled_adcodes", "load_boundary_file", "load_district", "resolve_district"]


@dataclass(frozen=True)
class District:
    """
    A district boundary in WGS-84.

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
    """

    adcode: str
    name: str
    geometry: BaseGeometry
    source: str
    city: str = ""

    def to_frame(self) -> gpd.GeoDataFrame:
        """Return the boundary as a one-row GeoDataFrame in EPSG:4326."""
        return gpd.GeoDataFrame({"adcode": [self.adcode], "name": [self.name]}, geometry=[self.geometry],
                                crs=geo.WGS84)


def bundled_adcodes(data_dir: Path) -> list[str]:
    """Return the adcodes of the boundaries shipped in ``data_dir/boundaries``, sorted."""
    return sorted(p.stem for p in (Path(data_dir) / "boundaries").glob("[0-9]*.geojson"))


def load_district(adcode: str, *, data_dir: Path) -> District:
    """
    Load a bundled district boundary by its adcode.

    Parameters
    ----------
    adcode
        6-digit administrative code, e.g. ``610111``.
    data_dir
        The product's data folder (``Settings.data_dir``).

    Raises
    ------
    BoundaryError
        If no boundary for `adcode` is bundled.
    """
    path = Path(data_dir) / "boundaries" / f"{adcode}.geojson"
    if not path.is_file():
        known = ", ".join(bundled_adcodes(data_dir)) or "none"
        msg = (f"No bundled boundary for district {adcode!r} (bundled: {known}); "
               "give a boundary file with --boundary and its datum with --boundary-crs.")
        raise BoundaryError(msg)
    doc = json.loads(path.read_text(encoding="utf-8"))
    feature = doc["features"][0] if doc.get("type") == "FeatureCollection" else doc
    props = feature.get("properties") or {}
    return District(adcode=str(adcode), name=props.get("name", ""), city=props.get("city", ""),
                    geometry=shapely.geometry.shape(feature["geometry"]), source=props.get("source", str(path)))


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
    try:
        datum = geo.parse_datum(crs)
    except DatumError:
        datum = None
    if datum is None:
        try:
            polys = polys.set_crs(crs, allow_override=True).to_crs(geo.WGS84)
        except Exception as err:  # pyproj raises CRSError, a ValueError subclass, for unknown codes
            msg = f"Unknown --boundary-crs {crs!r}: expected wgs84, gcj02, bd09 or an EPSG code ({err})."
            raise DatumError(msg) from err
        geometry = shapely.union_all(polys.values)
    else:
        if polys.crs is not None and not polys.crs.is_geographic:
            msg = (f"Boundary file {str(path)!r} is in projected CRS {polys.crs.to_string()}, "
                   f"but --boundary-crs says {crs!r}; give its EPSG code instead.")
            raise DatumError(msg)
        geometry = geo.convert_geometry(shapely.union_all(polys.values), src=datum, dst="wgs84")
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
                     data_dir: Path) -> District | None:
    """
    Return the district a command names, by bundled adcode or by boundary file, or None if neither is given.

    Raises
    ------
    BoundaryError, DatumError
        As `load_district` and `load_boundary_file`.
    """
    if boundary is not None:
        district = load_boundary_file(boundary, crs=boundary_crs)
        if adcode:
            district = District(adcode=adcode, name=district.name, geometry=district.geometry,
                                source=district.source)
        return district
    if adcode:
        return load_district(adcode, data_dir=data_dir)
    return None
