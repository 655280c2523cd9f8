"""Demand read in chunks for national runs: one WGS-84 box of cells at a time, never the whole grid.

`stationmap.analysis.national` gives each tile's task one of these readers: a GeoTIFF read window by window
(`RasterDemand`, on the worker), GeoParquet points read by row group (`ParquetDemand`, on the worker) or a small
point layer cut by box on the client (`PointDemand`). Each returns a `DemandChunk` of the cells whose centre lies in
``[west, east) x [south, north)``, so a cell belongs to exactly one box. Small layers are read whole by
`stationmap.demand.load_demand`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import geopandas as gpd
import numpy as np
import pandas as pd

from stationmap import geo
from stationmap.demand import load_demand
from stationmap.errors import BadRequestError, DatumError, EmptyInputError
from stationmap.extras import import_extra

__all__ = [
    "DemandChunk",
    "ParquetDemand",
    "PointDemand",
    "RasterDemand",
    "open_chunked_demand",
    "open_parquet_demand",
    "open_raster_demand",
]


@dataclass(frozen=True)
class DemandChunk:
    """
    The demand cells of one box, as points.

    Attributes
    ----------
    lon, lat
        Cell centres (or points), WGS-84 degrees.
    weight
        Non-negative finite weights (people, workers ...), one per cell.
    keys
        One key per cell: ``row * width + col`` of a raster cell (ids are made only for the cells listed, see
        `cell_id`), or the ``id`` of a point.
    width
        Cells per row of the raster, or 0 when `keys` are the ids themselves.
    """

    lon: np.ndarray
    lat: np.ndarray
    weight: np.ndarray
    keys: np.ndarray
    width: int = 0

    def __len__(self) -> int:
        return len(self.lon)

    def cell_id(self, i: int) -> str:
        """The id of cell `i`: ``r<row>c<col>`` for a raster cell, else its key."""
        if self.width:
            row, col = divmod(int(self.keys[i]), self.width)
            return f"r{row}c{col}"
        return str(self.keys[i])


def _in_box(lon: np.ndarray, lat: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """Points in the half-open box ``[west, east) x [south, north)``: neighbouring boxes share no point."""
    west, south, east, north = box
    return (lon >= west) & (lon < east) & (lat >= south) & (lat < north)


def _chunk(lon: np.ndarray, lat: np.ndarray, weight: np.ndarray, keys: np.ndarray,
           box: tuple[float, float, float, float], width: int = 0) -> DemandChunk:
    keep = _in_box(lon, lat, box) & np.isfinite(weight) & (weight > 0)
    return DemandChunk(lon[keep], lat[keep], weight[keep].astype(float), keys[keep], width)


@functools.lru_cache(maxsize=16)
def _crs_from_wkt(wkt: str) -> Any:
    from pyproj import CRS

    return CRS.from_wkt(wkt)


@dataclass(frozen=True)
class RasterDemand:
    """
    A population raster (GeoTIFF, band 1) read one window at a time: a point per cell with a positive value.

    Made by `open_raster_demand`; it holds the file's path, not its cells, so it can be sent to a worker that
    reads its own window (the path must be readable there: a shared file system on a real cluster).

    Attributes
    ----------
    path
        The raster file.
    crs_wkt
        WKT of the raster's CRS (the file's, or the one given for a file without one).
    datum
        ``gcj02`` or ``bd09`` when the raster is lon/lat in a Chinese datum, else None.
    bounds_wgs84
        ``(west, south, east, north)`` of the raster in WGS-84 degrees (approximate for a Chinese datum).
    width, height
        Cells per row and rows.
    """

    path: str
    crs_wkt: str
    datum: str | None
    bounds_wgs84: tuple[float, float, float, float]
    width: int
    height: int
    #: Each worker reads its own windows: only the path travels with a task.
    read_on_worker: ClassVar[bool] = True

    @property
    def name(self) -> str:
        """The file's name."""
        return Path(self.path).name

    @property
    def n_cells(self) -> int:
        """Cells in the raster (populated or not)."""
        return self.width * self.height

    def read_box(self, west: float, south: float, east: float, north: float) -> DemandChunk:
        """
        Read the populated cells whose centres lie in a WGS-84 box, from the window of the raster that holds them.

        Parameters
        ----------
        west, south, east, north
            The box in WGS-84 degrees; half-open (``west <= lon < east``, ``south <= lat < north``) so that
            neighbouring boxes share no cell.

        Returns
        -------
        chunk
            Cell centres in WGS-84 with their values; no-data, non-finite and non-positive cells are left out.
        """
        rasterio = import_extra("rasterio")
        from pyproj import Transformer
        from rasterio.windows import Window, from_bounds

        crs = _crs_from_wkt(self.crs_wkt)
        # a Chinese datum moves points by at most about 700 m: widen the window, then keep the box exactly
        pad = 0.02 if self.datum else 0.0
        west_, south_, east_, north_ = west - pad, south - pad, east + pad, north + pad
        if not crs.equals(geo.WGS84) and self.datum is None:
            to_raster = Transformer.from_crs(geo.WGS84, crs, always_xy=True)
            west_, south_, east_, north_ = to_raster.transform_bounds(west_, south_, east_, north_, densify_pts=21)
        empty = np.empty(0)
        try:
            with rasterio.open(self.path) as src:
                window = from_bounds(west_, south_, east_, north_, transform=src.transform)
                col0 = max(int(np.floor(window.col_off)) - 1, 0)
                row0 = max(int(np.floor(window.row_off)) - 1, 0)
                col1 = min(int(np.ceil(window.col_off + window.width)) + 1, src.width)
                row1 = min(int(np.ceil(window.row_off + window.height)) + 1, src.height)
                if col1 <= col0 or row1 <= row0:
                    return DemandChunk(empty, empty, empty, np.empty(0, dtype=np.int64), self.width)
                values = src.read(1, window=Window(col0, row0, col1 - col0, row1 - row0), masked=True)
                transform = src.transform
        except (OSError, rasterio.errors.RasterioError) as err:
            msg = f"Cannot read population raster {self.path!r}: {err}"
            raise BadRequestError(msg) from err
        values = values.astype(float).filled(np.nan)
        rows, cols = np.nonzero(np.isfinite(values) & (values > 0))
        weight = values[rows, cols]
        rows, cols = rows + row0, cols + col0
        col_c, row_c = cols + 0.5, rows + 0.5  # cell centres, through the affine transform (as load_demand)
        xs = transform.c + col_c * transform.a + row_c * transform.b
        ys = transform.f + col_c * transform.d + row_c * transform.e
        if self.datum is not None:
            xs, ys = geo.convert_coords(xs, ys, src=self.datum, dst="wgs84")
        elif not crs.equals(geo.WGS84):
            xs, ys = Transformer.from_crs(crs, geo.WGS84, always_xy=True).transform(xs, ys)
        keys = rows.astype(np.int64) * self.width + cols
        return _chunk(np.asarray(xs, dtype=float), np.asarray(ys, dtype=float), weight, keys,
                      (west, south, east, north), self.width)


def open_raster_demand(path: str | Path, *, crs: str | None = None) -> RasterDemand:
    """
    Open a population raster for reading in windows (`RasterDemand`), checking its CRS; no cell is read.

    Parameters
    ----------
    path
        A GeoTIFF whose band 1 holds people (or workers) per cell.
    crs
        The raster's CRS when the file states none: ``wgs84``, ``gcj02``, ``bd09`` (lon/lat in that datum) or an
        EPSG code. A CRS the file states is used as is.

    Returns
    -------
    raster
        The raster's path, CRS and bounds.

    Raises
    ------
    BadRequestError
        If the file is missing or not a raster, or its bounds are not on earth in its CRS.
    DatumError
        If neither the file nor `crs` gives the CRS, or `crs` is unknown.
    MissingExtraError
        If rasterio is not installed (``stationmap[raster]``).
    """
    rasterio = import_extra("rasterio")
    from pyproj import CRS, Transformer
    from pyproj.exceptions import CRSError

    path = Path(path)
    if not path.is_file():
        msg = f"Demand file {str(path)!r} not found."
        raise BadRequestError(msg)
    try:
        with rasterio.open(path) as src:
            file_crs, bounds, width, height = src.crs, src.bounds, src.width, src.height
    except (OSError, rasterio.errors.RasterioError) as err:
        msg = f"Cannot read population raster {str(path)!r}: {err}"
        raise BadRequestError(msg) from err
    datum = None
    if file_crs is not None:
        raster_crs = CRS.from_wkt(file_crs.to_wkt())
    elif crs is None:
        msg = f"Population raster {path.name!r} states no CRS; give it (wgs84, gcj02, bd09 or an EPSG code)."
        raise DatumError(msg)
    else:
        try:
            datum = geo.parse_datum(crs)
        except DatumError:
            datum = None
        try:
            raster_crs = geo.WGS84 if datum is not None else CRS.from_user_input(crs)
        except CRSError as err:
            msg = f"Unknown --demand-crs {crs!r}: expected wgs84, gcj02, bd09 or an EPSG code ({err})."
            raise DatumError(msg) from err
        datum = None if datum == "wgs84" else datum
    try:
        box = Transformer.from_crs(raster_crs, geo.WGS84, always_xy=True).transform_bounds(
            bounds.left, bounds.bottom, bounds.right, bounds.top, densify_pts=21)
    except Exception as err:  # pyproj raises ProjError for bounds outside the CRS's domain
        msg = f"Population raster {path.name!r}: its bounds are not on earth in {raster_crs.to_string()} ({err})."
        raise BadRequestError(msg) from err
    if not (np.isfinite(box).all() and -180 <= box[0] <= box[2] <= 180 and -90 <= box[1] <= box[3] <= 90):
        msg = (f"Population raster {path.name!r}: its bounds {tuple(bounds)} are not lon/lat on earth in "
               f"{raster_crs.to_string()}; is its CRS right?")
        raise BadRequestError(msg)
    return RasterDemand(path=str(path.resolve()), crs_wkt=raster_crs.to_wkt(), datum=datum,
                        bounds_wgs84=(float(box[0]), float(box[1]), float(box[2]), float(box[3])), width=int(width),
                        height=int(height))


@dataclass(frozen=True)
class PointDemand:
    """
    Demand points already in memory (a hot-spot file), cut into boxes on the machine that holds them.

    Attributes
    ----------
    lon, lat, weight, ids
        As `DemandChunk`, WGS-84 degrees.
    name
        Where they came from (a file name).
    """

    lon: np.ndarray
    lat: np.ndarray
    weight: np.ndarray
    ids: np.ndarray
    name: str = ""
    #: Cut by tile where the points are held; each task gets its own points.
    read_on_worker: ClassVar[bool] = False

    @property
    def bounds_wgs84(self) -> tuple[float, float, float, float]:
        """``(west, south, east, north)`` of the points, WGS-84 degrees."""
        if not len(self.lon):
            return (0.0, 0.0, 0.0, 0.0)
        return (float(self.lon.min()), float(self.lat.min()), float(self.lon.max()), float(self.lat.max()))

    def read_box(self, west: float, south: float, east: float, north: float) -> DemandChunk:
        """The points in a half-open WGS-84 box (see `RasterDemand.read_box`)."""
        return _chunk(self.lon, self.lat, self.weight, self.ids, (west, south, east, north))

    @classmethod
    def from_frame(cls, frame: gpd.GeoDataFrame, *, weight_col: str = "weight", name: str = "") -> PointDemand:
        """
        Take the points of a demand frame (`load_demand`) with their weights.

        Raises
        ------
        BadRequestError
            If the frame holds polygons (give cell centres as points, or a raster), or a weight is not a
            non-negative number.
        """
        if len(frame) and not (frame.geom_type == "Point").all():
            msg = ("National coverage counts demand at points: give cell centres as points, or a population raster "
                   "(GeoTIFF); polygons are measured district by district (without --scheduler).")
            raise BadRequestError(msg)
        series = frame.geometry.to_crs(geo.WGS84) if not frame.crs.equals(geo.WGS84) else frame.geometry
        weight = pd.to_numeric(frame[weight_col], errors="coerce").fillna(0.0).to_numpy(dtype=float)
        if (weight < 0).any() or not np.isfinite(weight).all():
            msg = f"Demand column {weight_col!r} must be finite and non-negative."
            raise BadRequestError(msg)
        ids = (frame["id"].astype(str) if "id" in frame.columns else pd.Series(range(1, len(frame) + 1)).astype(str))
        return cls(series.x.to_numpy(dtype=float), series.y.to_numpy(dtype=float), weight,
                   ids.to_numpy(dtype=object), name)


@dataclass(frozen=True)
class ParquetDemand:
    """
    Demand points in a GeoParquet file, read one row group at a time: only the row groups whose bounds meet a box.

    Made by `open_parquet_demand`; like `RasterDemand` it holds the path, not the points. Row groups of points
    written in spatial order (sorted by a space-filling curve or by tile) keep each box's reads small.

    Attributes
    ----------
    path
        The GeoParquet file.
    geometry_col, weight_col, id_col
        Its point column (WKB), weight column (None: every point weighs 1) and id column (None: the row number).
    crs_wkt
        WKT of the points' CRS.
    group_bounds
        ``(xmin, ymin, xmax, ymax)`` of each row group, in that CRS.
    bounds_wgs84
        ``(west, south, east, north)`` of all points, WGS-84 degrees.
    group_rows
        Rows in each row group.
    """

    path: str
    geometry_col: str
    weight_col: str | None
    id_col: str | None
    crs_wkt: str
    group_bounds: tuple[tuple[float, float, float, float], ...]
    bounds_wgs84: tuple[float, float, float, float]
    group_rows: tuple[int, ...]
    #: Each worker reads its own row groups: only the path travels with a task.
    read_on_worker: ClassVar[bool] = True

    @property
    def name(self) -> str:
        """The file's name."""
        return Path(self.path).name

    def read_box(self, west: float, south: float, east: float, north: float) -> DemandChunk:
        """
        Read the points in a half-open WGS-84 box (see `RasterDemand.read_box`) from the row groups that meet it.

        Raises
        ------
        BadRequestError
            If a geometry is not a point or a weight is not a non-negative number.
        """
        pq = import_extra("pyarrow.parquet")
        from pyproj import Transformer

        crs = _crs_from_wkt(self.crs_wkt)
        wgs84 = crs.equals(geo.WGS84)
        box = (west, south, east, north)
        if not wgs84:
            box = Transformer.from_crs(geo.WGS84, crs, always_xy=True).transform_bounds(*box, densify_pts=21)
        groups = [k for k, (x0, y0, x1, y1) in enumerate(self.group_bounds)
                  if x0 <= box[2] and box[0] <= x1 and y0 <= box[3] and box[1] <= y1]
        empty = np.empty(0)
        if not groups:
            return DemandChunk(empty, empty, empty, np.empty(0, dtype=np.int64))
        columns = [c for c in (self.geometry_col, self.weight_col, self.id_col) if c is not None]
        table = pq.ParquetFile(self.path).read_row_groups(groups, columns=columns)
        import shapely

        points = shapely.from_wkb(table.column(self.geometry_col).to_numpy(zero_copy_only=False))
        if len(points) and (shapely.get_type_id(points) != 0).any():
            msg = f"GeoParquet demand {self.name!r} must hold points (cell centres); found other geometries."
            raise BadRequestError(msg)
        xs, ys = shapely.get_x(points), shapely.get_y(points)
        if not wgs84:
            xs, ys = Transformer.from_crs(crs, geo.WGS84, always_xy=True).transform(xs, ys)
        if self.weight_col is None:
            weight = np.ones(len(points))
        else:
            weight = pd.to_numeric(pd.Series(table.column(self.weight_col).to_numpy(zero_copy_only=False)),
                                   errors="coerce").to_numpy(dtype=float)
            if (weight < 0).any() or np.isnan(weight).any():
                msg = f"GeoParquet demand {self.name!r}: column {self.weight_col!r} must hold non-negative numbers."
                raise BadRequestError(msg)
        if self.id_col is not None:
            keys = table.column(self.id_col).to_numpy(zero_copy_only=False).astype(str).astype(object)
        else:
            starts = np.concatenate([[0], np.cumsum(self.group_rows)])
            keys = np.concatenate([np.arange(starts[k], starts[k + 1]) + 1 for k in groups])
        return _chunk(np.asarray(xs, dtype=float), np.asarray(ys, dtype=float), weight, keys, (west, south, east, north))


def open_parquet_demand(path: str | Path, *, weight_col: str | None = None, crs: str | None = None) -> ParquetDemand:
    """
    Open a GeoParquet file of demand points for reading by row group (`ParquetDemand`); no point is loaded whole.

    Each row group's bounds come from the file's bounding-box covering column statistics (GeoParquet 1.1,
    ``geopandas ... to_parquet(write_covering_bbox=True)``), or else from one pass over the point column, one row
    group at a time.

    Parameters
    ----------
    path
        A GeoParquet file of points (WKB encoding).
    weight_col
        Column with the weight; None: ``weight`` if there is one, else every point weighs 1.
    crs
        The points' CRS when the file says it is unknown (``wgs84`` or an EPSG code); a CRS the file states is
        used as is, and a file that states nothing is OGC:CRS84 (the GeoParquet default).

    Raises
    ------
    BadRequestError
        If the file is missing or not GeoParquet, its geometry is not WKB, or a column is missing.
    DatumError
        If its CRS is unknown and `crs` is not given, or `crs` is a Chinese datum (convert the points first).
    MissingExtraError
        If pyarrow is not installed (``stationmap[dask]``).
    """
    import json

    pq = import_extra("pyarrow.parquet")
    from pyproj import CRS, Transformer
    from pyproj.exceptions import CRSError

    path = Path(path)
    if not path.is_file():
        msg = f"Demand file {str(path)!r} not found."
        raise BadRequestError(msg)
    try:
        handle = pq.ParquetFile(path)
        meta = json.loads((handle.metadata.metadata or {}).get(b"geo", b"null"))
    except (OSError, ValueError) as err:
        msg = f"Cannot read GeoParquet demand {str(path)!r}: {err}"
        raise BadRequestError(msg) from err
    if not isinstance(meta, dict) or meta.get("primary_column") not in meta.get("columns", {}):
        msg = f"Demand file {path.name!r} is Parquet without GeoParquet metadata ('geo'); write it with geopandas."
        raise BadRequestError(msg)
    geometry_col = str(meta["primary_column"])
    column = meta["columns"][geometry_col]
    if str(column.get("encoding", "")).upper() != "WKB":
        msg = f"GeoParquet demand {path.name!r}: geometry encoding {column.get('encoding')!r}; only WKB is read."
        raise BadRequestError(msg)
    names = handle.schema_arrow.names
    weight = weight_col or ("weight" if "weight" in names else None)
    for wanted in (weight,):
        if wanted is not None and wanted not in names:
            msg = f"GeoParquet demand {path.name!r} has no column {wanted!r} (columns: {', '.join(names)})."
            raise BadRequestError(msg)
    if "crs" not in column:
        file_crs = CRS.from_user_input("OGC:CRS84")
    elif column["crs"] is None:
        if crs is None:
            msg = f"GeoParquet demand {path.name!r} says its CRS is unknown; give it (wgs84 or an EPSG code)."
            raise DatumError(msg)
        if crs.strip().lower() in {"gcj02", "bd09", "amap", "baidu"}:
            msg = f"GeoParquet demand {path.name!r}: convert GCJ-02/BD-09 points to WGS-84 first (stationmap export)."
            raise DatumError(msg)
        try:
            file_crs = geo.WGS84 if crs.strip().lower() == "wgs84" else CRS.from_user_input(crs)
        except CRSError as err:
            msg = f"Unknown --demand-crs {crs!r}: expected wgs84 or an EPSG code ({err})."
            raise DatumError(msg) from err
    else:
        file_crs = CRS.from_json_dict(column["crs"]) if isinstance(column["crs"], dict) else CRS.from_user_input(
            column["crs"])
    group_bounds = _row_group_bounds(handle, column, geometry_col, names)
    rows = tuple(handle.metadata.row_group(k).num_rows for k in range(handle.metadata.num_row_groups))
    if not group_bounds:
        msg = f"Demand file {path.name!r} has no features."
        raise EmptyInputError(msg)
    xmin = min(b[0] for b in group_bounds)
    ymin = min(b[1] for b in group_bounds)
    xmax = max(b[2] for b in group_bounds)
    ymax = max(b[3] for b in group_bounds)
    box = Transformer.from_crs(file_crs, geo.WGS84, always_xy=True).transform_bounds(xmin, ymin, xmax, ymax)
    id_col = "id" if "id" in names else None
    return ParquetDemand(path=str(path.resolve()), geometry_col=geometry_col, weight_col=weight, id_col=id_col,
                         crs_wkt=file_crs.to_wkt(), group_bounds=group_bounds,
                         bounds_wgs84=(float(box[0]), float(box[1]), float(box[2]), float(box[3])),
                         group_rows=rows)


def _row_group_bounds(handle: Any, column: dict[str, Any], geometry_col: str,
                      names: list[str]) -> tuple[tuple[float, float, float, float], ...]:
    """Each row group's bounds: from the covering bbox statistics, else one row group's points at a time."""
    import shapely

    meta = handle.metadata
    paths = [meta.row_group(0).column(i).path_in_schema for i in range(meta.num_columns)] if meta.num_row_groups else []
    covering = (column.get("covering") or {}).get("bbox")
    if covering:
        wanted = [".".join(covering[k]) for k in ("xmin", "ymin", "xmax", "ymax")]
        if all(w in paths for w in wanted):
            out = []
            for k in range(meta.num_row_groups):
                stats = [meta.row_group(k).column(paths.index(w)).statistics for w in wanted]
                if any(s is None or not s.has_min_max for s in stats):
                    break
                out.append((float(stats[0].min), float(stats[1].min), float(stats[2].max), float(stats[3].max)))
            else:
                return tuple(out)
    bounds = []
    for k in range(meta.num_row_groups):
        wkb = handle.read_row_group(k, columns=[geometry_col]).column(geometry_col).to_numpy(zero_copy_only=False)
        box = shapely.total_bounds(shapely.from_wkb(wkb))
        bounds.append((float(box[0]), float(box[1]), float(box[2]), float(box[3])))
    return tuple(bounds)


def open_chunked_demand(path: str | Path, *, weight_col: str | None = None,
                        crs: str | None = None) -> RasterDemand | ParquetDemand | PointDemand:
    """
    Open a demand file for a run by tiles: a GeoTIFF or GeoParquet is read by the workers box by box; any other
    file (GeoJSON, GeoPackage, CSV of points) is small and read here once.

    Raises
    ------
    StationDataError, DatumError, BadRequestError
        As `stationmap.demand.load_demand` and the readers above.
    """
    suffix = Path(path).suffix.lower()
    if suffix in {".tif", ".tiff"}:
        return open_raster_demand(path, crs=crs)  # each worker reads its own windows
    if suffix in {".parquet", ".geoparquet"}:
        return open_parquet_demand(path, weight_col=weight_col, crs=crs)  # by row group
    return PointDemand.from_frame(load_demand(path, weight_col=weight_col, crs=crs), name=Path(path).name)
