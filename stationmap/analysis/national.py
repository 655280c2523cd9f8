"""National and provincial coverage on Dask: stations and demand cut into lon/lat tiles, one task per tile.

The single-machine `stationmap.analysis.coverage.coverage_report` holds every station and every demand cell in
one process. Here the work is split spatially so it scales by adding machines (`dask.distributed`):

- **Tiles.** The plane is cut into ``tile_deg`` x ``tile_deg`` lon/lat tiles (1 degree by default, aligned with the
  6-degree UTM bands). A tile is processed if it meets a district or some station's disc reaches it.
- **Halo.** A tile's task gets the stations inside the tile *and* those within the service radius of it (a
  margin of ``radius_m`` in degrees at the tile's highest latitude, as `kernel.utm_zone_plan` widens its bands),
  so a station just across a tile edge still covers.
- **Areas counted once.** The task builds the discs of all its stations, halo included, with
  `coverage.coverage_pieces` clipped to its own tile (in the tile's UTM zone), and intersects those pieces with
  each district's part inside the tile. Tiles do not overlap, so summing the tiles' figures counts every square
  metre once, exactly as one union over everything would.
- **Demand counted once.** Each task reads only its own box of demand (a raster window, see
  `stationmap.demand_chunks.RasterDemand`): cells whose centre lies in ``[west, east) x [south, north)``, so a cell is in
  exactly one tile. "Within r metres" is the geodesic test of `stationmap.geo.GeodesicIndex` against the tile's
  stations and halo, the same test `coverage.demand_coverage` makes.
- **Aggregation.** Per tile and district: stations inside, area, area covered once and twice, demand features,
  total, covered once and twice. The client sums them per county, province (each computed with its own
  boundary, not as a sum of counties) and the whole selection, and over every tile with no clipping
  (``extent``, which `coverage_report` without a region gives).

Counties count every station within reach, including those of a neighbouring county (a worker does not stop at a
county line); `coverage_report(stations, county_geometry)` over the same stations is the single-machine figure
they match.

Runs on a `distributed.Client`: a `LocalCluster` (`open_client` with ``"local"``) or a scheduler at
``tcp://host:port``. The ``dask`` extra is required (`stationmap.extras`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Protocol

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from stationmap import geo, hours
from stationmap.analysis import kernel
from stationmap.analysis.coverage import CoverageReport, DemandCoverage, coverage_pieces, select_in_service
from stationmap.analysis.kernel import DEFAULT_RADIUS_M
from stationmap.demand_chunks import DemandChunk
from stationmap.errors import BadRequestError, EmptyInputError
from stationmap.extras import import_extra
from stationmap.parameters import SCHEDULER, SCHEDULER_TIMEOUT_S, TILE_DEG, WORKERS

__all__ = [
    "NATION_NAMES",
    "AreaUnit",
    "ChunkedDemand",
    "NationalCoverage",
    "UnitCoverage",
    "division_units",
    "national_coverage",
    "open_client",
    "plan_tiles",
]

#: Names that mean the whole country (every province and county).
NATION_NAMES = ("全国", "中国")

# A tile edge is drawn with a vertex every 0.01 degree, so its projected outline (in UTM) is within a centimetre
# of the true line and neighbouring tiles meet without slivers.
_EDGE_STEP_DEG = 0.01
# A point this close to a tile edge (about 0.1 mm) is tested as lying on it.
_EDGE_TOL_DEG = 1e-9
# Figures each tile gives per district, in this order (`_TileResult.values`).
_FIELDS = ("n_stations", "n_used", "area_m2", "covered_m2", "covered_twice_m2", "demand_n", "demand_total",
           "demand_covered", "demand_covered_twice")


class ChunkedDemand(Protocol):
    """
    Demand that can be read one WGS-84 box at a time (`stationmap.demand_chunks.RasterDemand`, `ParquetDemand`,
    `PointDemand`); `read_on_worker` says whether a task reads its own box (a file) or is sent it.
    """

    read_on_worker: ClassVar[bool]

    @property
    def bounds_wgs84(self) -> tuple[float, float, float, float]: ...

    def read_box(self, west: float, south: float, east: float, north: float) -> DemandChunk: ...


# --------------------------------------------------------------------------------------------------------------
# inputs and results


@dataclass(frozen=True)
class AreaUnit:
    """
    One district measured on its own row: a county, a province, or the selection as a whole.

    Attributes
    ----------
    adcode
        6-digit code (``100000`` for the nation).
    name
        Chinese name.
    level
        ``county``, ``city`` or ``province``.
    geometry
        Boundary in WGS-84 degrees.
    province
        Name of its province ("" for a province).
    whole
        Whether it is part of the selection as a whole (the province named, or every province for the nation):
        the whole's figures are the sum of these units'.
    """

    adcode: str
    name: str
    level: str
    geometry: BaseGeometry
    province: str = ""
    whole: bool = False


@dataclass(frozen=True)
class UnitCoverage:
    """
    Coverage of one district, summed over the tiles it meets.

    Attributes
    ----------
    adcode, name, level, province
        As `AreaUnit`.
    n_stations, n_used
        Stations inside the district (by point-in-polygon), and those in service (and open at ``when``).
    region_area_m2
        Area of the district, square metres (each tile's part in that tile's UTM zone).
    covered_area_m2, covered_twice_area_m2
        Area of the district within `radius_m` of one / two stations (any station, inside it or not).
    demand_features, demand_total, demand_covered, demand_covered_twice
        Demand cells (points) inside the district with a positive weight, their weight, and the weight within
        reach of one / two stations; 0 without demand.
    """

    adcode: str
    name: str
    level: str
    province: str
    n_stations: int
    n_used: int
    region_area_m2: float
    covered_area_m2: float
    covered_twice_area_m2: float
    demand_features: int = 0
    demand_total: float = 0.0
    demand_covered: float = 0.0
    demand_covered_twice: float = 0.0

    @property
    def pct_area_covered(self) -> float | None:
        """Share of the area covered, percent (None for no area)."""
        return 100.0 * self.covered_area_m2 / self.region_area_m2 if self.region_area_m2 > 0 else None

    @property
    def pct_area_covered_twice(self) -> float | None:
        """Share of the area covered twice, percent (None for no area)."""
        return 100.0 * self.covered_twice_area_m2 / self.region_area_m2 if self.region_area_m2 > 0 else None

    @property
    def demand_pct_covered(self) -> float | None:
        """Share of the demand covered, percent (None without demand)."""
        return 100.0 * self.demand_covered / self.demand_total if self.demand_total > 0 else None

    @property
    def demand_pct_covered_twice(self) -> float | None:
        """Share of the demand covered twice, percent (None without demand)."""
        return 100.0 * self.demand_covered_twice / self.demand_total if self.demand_total > 0 else None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict with the shares (percent) added; areas in m², rounded to 3 decimals."""
        out = asdict(self)
        for key in ("region_area_m2", "covered_area_m2", "covered_twice_area_m2", "demand_total", "demand_covered",
                    "demand_covered_twice"):
            out[key] = kernel.finite_or_none(out[key])
        for key in ("pct_area_covered", "pct_area_covered_twice", "demand_pct_covered", "demand_pct_covered_twice"):
            out[key] = kernel.finite_or_none(getattr(self, key))
        return out


@dataclass(frozen=True)
class NationalCoverage:
    """
    Coverage of a province or the nation, its counties (and provinces), computed tile by tile.

    Attributes
    ----------
    whole
        The usual coverage answer for the selection as a whole (`CoverageReport`, ``region_name`` its name): the
        sum of the units marked `AreaUnit.whole`; ``n_stations`` / ``n_used`` count the stations inside them.
    units
        One row per district measured: provinces first (for the nation), then counties, by adcode.
    extent
        Coverage over the tiles computed, clipped to no district. Without districts every tile some station's disc
        reaches (or the demand meets) is computed, and this is what `coverage_report` gives for the same stations
        (and `demand_coverage` for the same demand) without a region.
    n_tiles
        Tiles (tasks) computed.
    tile_deg
        Tile side in degrees.
    scheduler
        ``local (N workers)`` or the scheduler's address and its workers.
    notes
        Plain-language caveats (stations left out as closed or not open at ``when``).
    """

    whole: CoverageReport
    units: tuple[UnitCoverage, ...]
    extent: CoverageReport
    n_tiles: int
    tile_deg: float
    scheduler: str
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict: ``whole`` and ``extent`` as `CoverageReport.to_dict`, ``units`` as rows."""
        return {"whole": self.whole.to_dict(), "units": [u.to_dict() for u in self.units],
                "extent": self.extent.to_dict(), "n_tiles": self.n_tiles, "tile_deg": self.tile_deg,
                "scheduler": self.scheduler, "notes": list(self.notes)}


# --------------------------------------------------------------------------------------------------------------
# the districts and the demand of a run (shared by `stationmap coverage` and `stationmap report`)


def division_units(query: str, *, data_dir: Path, cache_dir: Path | None = None) -> tuple[str, list[AreaUnit]]:
    """
    Return the name and the districts of a national or provincial run.

    Parameters
    ----------
    query
        全国 (or 中国): every province (the whole) and every county; a province, city or county by name or
        adcode: the division (the whole) and its counties.
    data_dir, cache_dir
        As in `stationmap.districts.load_district` (boundaries in WGS-84).

    Returns
    -------
    name, units
        全国 or the division's label, and the provinces (for the nation) then the counties.

    Raises
    ------
    DistrictLookupError
        If no division or several fit `query`.
    """
    from stationmap.districts import load_district
    from stationmap.gazetteer import cnmaps_gazetteer

    text = query.strip()
    gazetteer = cnmaps_gazetteer()
    if text in NATION_NAMES:
        tops, name = gazetteer.divisions("province"), NATION_NAMES[0]
    else:
        division = gazetteer.resolve(text)
        tops, name = [division], division.label
    units = []
    for top in tops:
        units.append(AreaUnit(top.adcode, top.name, top.level,
                              load_district(top.adcode, data_dir=data_dir, cache_dir=cache_dir).geometry,
                              "" if top.level == "province" else top.province, whole=True))
        if top.level != "county":
            units += [AreaUnit(c.adcode, c.name, "county",
                               load_district(c.adcode, data_dir=data_dir, cache_dir=cache_dir).geometry, c.province)
                      for c in gazetteer.counties(top)]
    return name, units


# --------------------------------------------------------------------------------------------------------------
# the cluster


@contextmanager
def open_client(scheduler: str = "local", *, workers: int | None = None, processes: bool = True,
                timeout_s: float | None = None) -> Iterator[Any]:
    """
    Open a `distributed.Client`: on a new `LocalCluster`, or connected to a running scheduler; closed on exit.

    Parameters
    ----------
    scheduler
        ``local`` (a `LocalCluster` of `workers` processes, one thread each) or ``tcp://host:port`` of a running
        ``dask scheduler``.
    workers
        Worker processes of a local cluster (default `stationmap.parameters.WORKERS`' default); refused with an
        address (the cluster has the workers it has).
    processes
        Workers in their own processes (True) or as threads of this one (tests).
    timeout_s
        Seconds to wait for a scheduler at an address (default `stationmap.parameters.SCHEDULER_TIMEOUT_S`).

    Yields
    ------
    client
        The connected client.

    Raises
    ------
    BadRequestError
        If `scheduler` or `workers` is malformed or out of range, or the scheduler does not answer within
        `timeout_s` seconds.
    MissingExtraError
        If dask.distributed is not installed (``stationmap[dask]``).
    """
    distributed = import_extra("distributed")
    SCHEDULER.check(scheduler)
    if workers is not None:
        WORKERS.check(workers)
    if scheduler == "local":
        n = int(WORKERS.default if workers is None else workers)
        # the status pages on a free port: the usual 8787 may be taken by another cluster
        cluster = distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=processes,
                                           dashboard_address=":0")
        try:
            with distributed.Client(cluster) as client:
                yield client
        finally:
            cluster.close()
        return
    if workers is not None:
        msg = (f"--workers sets the size of a local cluster; the cluster at {scheduler} has the workers started "
               "there (dask worker ...). Leave --workers out.")
        raise BadRequestError(msg)
    timeout_s = SCHEDULER_TIMEOUT_S if timeout_s is None else timeout_s
    try:
        client = distributed.Client(scheduler, timeout=f"{timeout_s}s")
    except (OSError, TimeoutError) as err:
        msg = (f"No Dask scheduler answers at {scheduler} within {timeout_s:g} s ({err}); start one with "
               "'dask scheduler' and workers with 'dask worker <address>', or use --scheduler local.")
        raise BadRequestError(msg) from err
    try:
        yield client
    finally:
        client.close()


# --------------------------------------------------------------------------------------------------------------
# tiles


@dataclass(frozen=True)
class _TileJob:
    """Everything one tile's task needs (sent to a worker; no station frame, no full boundaries)."""

    box: tuple[float, float, float, float]
    radius_m: float
    lon: np.ndarray  # used stations, tile and halo
    lat: np.ndarray
    count_lon: np.ndarray  # every station inside the tile, and whether it is used
    count_lat: np.ndarray
    count_used: np.ndarray
    units: np.ndarray  # indices into the unit list
    parts: np.ndarray  # each unit's part inside the tile, WGS-84
    whole: np.ndarray  # whether each unit is part of the whole
    demand: Any  # a ChunkedDemand read by the worker, a DemandChunk cut by the client, or None
    top_n: int


@dataclass(frozen=True)
class _TileResult:
    units: np.ndarray
    values: np.ndarray  # (len(units), len(_FIELDS))
    extent: np.ndarray  # covered_m2, covered_twice_m2, demand_n, demand_total, demand_covered, demand_covered_twice
    whole_demand: np.ndarray  # the same four demand figures for cells inside the whole
    top: list[tuple[float, str, float, float, float]]  # (uncovered, id, lon, lat, weight), cells inside the whole
    crs: str


def plan_tiles(lon: np.ndarray, lat: np.ndarray, units: Sequence[AreaUnit], *, radius_m: float,
               tile_deg: float = float(TILE_DEG.default),
               demand_bounds: tuple[float, float, float, float] | None = None) -> list[tuple[int, int]]:
    """
    Return the tiles to compute: those the districts meet, or without districts every tile some station's disc
    reaches or the demand meets.

    Parameters
    ----------
    lon, lat
        Stations, WGS-84 degrees.
    units
        The districts measured.
    radius_m
        Service radius in metres.
    tile_deg
        Tile side in degrees; tiles are ``[-180 + i * tile_deg, ...)`` x ``[-90 + j * tile_deg, ...)``.
    demand_bounds
        WGS-84 bounds of the demand, whose tiles are computed too when no district is given.

    Returns
    -------
    tiles
        ``(i, j)`` column and row indices, sorted.
    """
    tiles: set[tuple[int, int]] = set()
    if len(lon) and not units:
        i = np.floor((lon + 180.0) / tile_deg).astype(int)
        j = np.floor((lat + 90.0) / tile_deg).astype(int)
        rings = _rings(float(np.abs(lat).max()), radius_m, tile_deg)
        base = set(zip(i.tolist(), j.tolist(), strict=True))
        for di in range(-rings, rings + 1):
            for dj in range(-rings, rings + 1):
                tiles.update((a + di, b + dj) for a, b in base)
    boxes = [u.geometry.bounds for u in units]
    if demand_bounds is not None and not units:
        boxes.append(demand_bounds)
    geoms = [u.geometry for u in units]
    for k, (west, south, east, north) in enumerate(boxes):
        i0, i1 = math.floor((west + 180.0) / tile_deg), math.floor((east + 180.0) / tile_deg)
        j0, j1 = math.floor((south + 90.0) / tile_deg), math.floor((north + 90.0) / tile_deg)
        cells = [(a, b) for a in range(i0, i1 + 1) for b in range(j0, j1 + 1) if (a, b) not in tiles]
        if not cells:
            continue
        if k < len(geoms):
            hit = shapely.intersects(geoms[k], shapely.box(*np.array([_box(a, b, tile_deg) for a, b in cells]).T))
            cells = [c for c, h in zip(cells, hit, strict=True) if h]
        tiles.update(cells)
    return sorted(t for t in tiles if 0 <= t[0] < round(360 / tile_deg) and 0 <= t[1] < round(180 / tile_deg))


def _box(i: int, j: int, tile_deg: float) -> tuple[float, float, float, float]:
    """The lon/lat box of tile (i, j); neighbours compute their shared edge with the same expression."""
    return (-180.0 + i * tile_deg, -90.0 + j * tile_deg, -180.0 + (i + 1) * tile_deg, -90.0 + (j + 1) * tile_deg)


def _margins(lat_abs_max: float, radius_m: float) -> tuple[float, float]:
    """Degrees of longitude and latitude a disc of `radius_m` spans at most, at latitudes up to `lat_abs_max`."""
    margin_lon = radius_m / (111_000.0 * math.cos(math.radians(min(lat_abs_max, 85.0)))) * 1.05
    return margin_lon, radius_m / 110_000.0 * 1.05


def _rings(lat_abs_max: float, radius_m: float, tile_deg: float) -> int:
    return max(1, math.ceil(max(_margins(lat_abs_max, radius_m)) / tile_deg))


def _tile_geometry(box: tuple[float, float, float, float]) -> BaseGeometry:
    return shapely.segmentize(shapely.box(*box), _EDGE_STEP_DEG)


def _run_tile(job: _TileJob) -> _TileResult:
    """Compute one tile: the discs of its stations and halo clipped to it, then each district's part."""
    west, south, east, north = job.box
    pieces = []
    if len(job.lon):
        stations = gpd.GeoDataFrame(geometry=gpd.points_from_xy(job.lon, job.lat), crs=geo.WGS84)
        pieces = coverage_pieces(stations, _tile_geometry(job.box), radius_m=job.radius_m)
    crs = pieces[0][0] if pieces else geo.utm_crs((west + east) / 2, (south + north) / 2)
    once = np.concatenate([p.once for _, p in pieces]) if pieces else np.empty(0, dtype=object)
    twice = np.concatenate([p.twice for _, p in pieces]) if pieces else np.empty(0, dtype=object)
    # a plain object array: shapely's functions take the fast path (a GeoSeries' array goes through pandas)
    parts_m = (np.asarray(gpd.GeoSeries(job.parts, crs=geo.WGS84).to_crs(crs).to_numpy(), dtype=object)
               if len(job.parts) else job.parts)
    values = np.zeros((len(job.units), len(_FIELDS)))
    values[:, 2] = shapely.area(parts_m) if len(parts_m) else 0.0
    if len(parts_m):
        shapely.prepare(parts_m)
    for col, level in ((3, once), (4, twice)):
        if not len(level) or not len(parts_m):
            continue
        values[:, col] = _areas_inside(level, parts_m)
    shapely.prepare(job.parts)
    for k, part in enumerate(job.parts):
        inside = _contains(part, job.count_lon, job.count_lat, job.box)
        values[k, 0], values[k, 1] = inside.sum(), (inside & job.count_used).sum()
    extent = np.zeros(6)
    extent[0] = float(shapely.area(once).sum()) if len(once) else 0.0
    extent[1] = float(shapely.area(twice).sum()) if len(twice) else 0.0
    whole_demand = np.zeros(4)
    top: list[tuple[float, str, float, float, float]] = []
    chunk = job.demand if isinstance(job.demand, DemandChunk) or job.demand is None else job.demand.read_box(*job.box)
    if chunk is not None and len(chunk):
        counts = (geo.GeodesicIndex(job.lon, job.lat).count_within(chunk.lon, chunk.lat, job.radius_m, at_most=2)
                  if len(job.lon) else np.zeros(len(chunk), dtype=np.int8))
        w = chunk.weight
        w1, w2 = np.where(counts >= 1, w, 0.0), np.where(counts >= 2, w, 0.0)
        extent[2:] = len(w), w.sum(), w1.sum(), w2.sum()
        in_whole = np.zeros(len(w), dtype=bool)
        for k, part in enumerate(job.parts):
            inside = _contains(part, chunk.lon, chunk.lat, job.box)
            values[k, 5:] = inside.sum(), w[inside].sum(), w1[inside].sum(), w2[inside].sum()
            if job.whole[k]:
                in_whole |= inside
        whole_demand[:] = in_whole.sum(), w[in_whole].sum(), w1[in_whole].sum(), w2[in_whole].sum()
        uncovered = np.where(in_whole & (counts == 0), w, 0.0)
        order = np.flatnonzero(uncovered > 0)
        if len(order) > job.top_n > 0:
            order = order[np.argpartition(uncovered[order], len(order) - job.top_n)[-job.top_n:]]
        top = [(float(uncovered[i]), chunk.cell_id(i), float(chunk.lon[i]), float(chunk.lat[i]), float(w[i]))
               for i in order[:max(job.top_n, 0)]]
    return _TileResult(job.units, values, extent, whole_demand, top, crs.to_string())


def _areas_inside(pieces: np.ndarray, parts: np.ndarray) -> np.ndarray:
    """
    Area of the disjoint `pieces` inside each of `parts` (prepared), square metres. As in the single-machine
    clipping, only pieces that straddle a part's boundary are intersected with it; pieces inside count whole.
    """
    part_idx, piece_idx = shapely.STRtree(pieces).query(parts, predicate="intersects")
    if not len(part_idx):
        return np.zeros(len(parts))
    areas = shapely.area(pieces[piece_idx])
    edge = ~shapely.contains_properly(parts[part_idx], pieces[piece_idx])
    if edge.any():
        areas[edge] = shapely.area(shapely.intersection(pieces[piece_idx[edge]], parts[part_idx[edge]]))
    return np.bincount(part_idx, weights=areas, minlength=len(parts))


def _contains(part: BaseGeometry, lon: np.ndarray, lat: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """
    Points inside a district's part of a tile, as `shapely.contains_xy` on the whole district: a point on (or
    within a rounding error of) a tile edge is on the part's boundary but may be inside the district, so it
    counts if it touches the part. The caller gives each point to one tile only.
    """
    inside = np.zeros(len(lon), dtype=bool)
    p_west, p_south, p_east, p_north = part.bounds
    # only the points in the part's bounds are tested: a tile's counties share its points between them
    near = np.flatnonzero((lon >= p_west) & (lon <= p_east) & (lat >= p_south) & (lat <= p_north))
    if not len(near):
        return inside
    x, y = lon[near], lat[near]
    hit = shapely.contains_xy(part, x, y)
    west, south, east, north = box
    edge = np.minimum.reduce([np.abs(x - west), np.abs(x - east), np.abs(y - south), np.abs(y - north)]) < _EDGE_TOL_DEG
    if edge.any():
        hit[edge] = shapely.intersects_xy(part, x[edge], y[edge])
    inside[near] = hit
    return inside


# --------------------------------------------------------------------------------------------------------------
# the run


def national_coverage(stations: gpd.GeoDataFrame, units: Sequence[AreaUnit], *, client: Any,
                      radius_m: float = DEFAULT_RADIUS_M, when: datetime | str | None = None,
                      demand: ChunkedDemand | None = None, weight_col: str = "weight", region_name: str = "",
                      tile_deg: float = float(TILE_DEG.default), top_n: int = 10,
                      progress: Callable[[int], None] | None = None,
                      on_plan: Callable[[int], None] | None = None) -> NationalCoverage:
    """
    Measure the coverage of a province or the nation, every county (and province) in it, on a Dask cluster.

    Parameters
    ----------
    stations
        Station points, any CRS (EPSG:4326 as loaded); closed ones (and, with `when`, those not open then) do not
        cover, as in `coverage_report`.
    units
        The districts to report: counties, provinces, and which of them make up the whole (`AreaUnit.whole`).
    client
        A `distributed.Client` (`open_client`).
    radius_m
        Service radius in metres.
    when
        Count only the stations open at this time (as `coverage_report`).
    demand
        Demand read one box at a time: a `stationmap.demand_chunks.RasterDemand` (each worker reads its own window), a
        `stationmap.demand_chunks.ParquetDemand` (its own row groups) or a `stationmap.demand_chunks.PointDemand` (cut by tile
        here); None for areas only.
    weight_col
        Name of the demand's weight, for the answer.
    region_name
        Name of the whole (e.g. 全国, 广东省).
    tile_deg
        Tile side in degrees (`stationmap.parameters.TILE_DEG`).
    top_n
        How many of the largest uncovered cells of the whole to list.
    progress
        Called with 1 as each tile finishes (a progress bar).
    on_plan
        Called once with the number of tiles, before any is computed.

    Returns
    -------
    coverage
        The whole, one row per unit, and the unclipped extent.

    Raises
    ------
    BadRequestError
        If `radius_m`, `tile_deg` or `when` is out of range, or the demand does not reach any station or district
        (a raster in the wrong CRS).
    EmptyInputError
        If there are neither stations nor districts.
    """
    radius_m = kernel.check_radius(radius_m)
    TILE_DEG.check(tile_deg)
    if len(stations) == 0 and not units:
        msg = "No stations and no district to measure coverage of."
        raise EmptyInputError(msg)
    used = select_in_service(stations, when=when)
    moment = hours.resolve_when(when).isoformat(timespec="minutes") if when is not None else None
    lon, lat = kernel.lonlat(stations) if len(stations) else (np.empty(0), np.empty(0))
    used_mask = np.zeros(len(stations), dtype=bool)
    used_mask[stations.index.get_indexer(used.index)] = True
    demand_bounds = None
    if demand is not None:
        demand_bounds = demand.bounds_wgs84
        _check_demand_reach(demand, demand_bounds, lon, lat, units)
    tiles = plan_tiles(lon, lat, units, radius_m=radius_m, tile_deg=tile_deg, demand_bounds=demand_bounds)
    if on_plan is not None:
        on_plan(len(tiles))
    jobs = _jobs(tiles, lon, lat, used_mask, units, radius_m=radius_m, tile_deg=tile_deg, demand=demand,
                 top_n=top_n)
    totals = np.zeros((len(units), len(_FIELDS)))
    extent = np.zeros(6)
    whole_demand = np.zeros(4)
    top: list[tuple[float, str, float, float, float]] = []
    zones: set[str] = set()
    distributed = import_extra("distributed")
    # submitted as they are cut, so the workers start while the client still clips districts to tiles
    futures = distributed.as_completed()
    try:
        for job in jobs:
            futures.add(client.submit(_run_tile, job, pure=False))
        for future in futures:
            result: _TileResult = future.result()
            totals[result.units] += result.values
            extent += result.extent
            whole_demand += result.whole_demand
            top.extend(result.top)
            zones.add(result.crs)
            future.release()
            if progress is not None:
                progress(1)
    except (OSError, TimeoutError, distributed.client.FutureCancelledError) as err:
        msg = (f"The Dask cluster stopped answering during the run ({type(err).__name__}: {err}); "
               "check the scheduler and its workers, then run again.")
        raise BadRequestError(msg) from err
    rows = tuple(_unit_row(u, totals[k]) for k, u in enumerate(units))
    label = "+".join(sorted(zones))
    notes = [] if len(used) == len(stations) else [f"{len(stations) - len(used)} station(s) not in service"
                                                   + (f" or not open at {moment}" if moment else "") + " left out."]
    whole_rows = [r for r, u in zip(rows, units, strict=True) if u.whole]
    area = sum(r.region_area_m2 for r in whole_rows)
    covered = sum(r.covered_area_m2 for r in whole_rows)
    twice = sum(r.covered_twice_area_m2 for r in whole_rows)
    whole_demand_report = _demand_report(whole_demand, top, used, weight_col, top_n) if demand is not None else None
    n_inside, n_used_inside = (sum(r.n_stations for r in whole_rows), sum(r.n_used for r in whole_rows))
    whole = CoverageReport(
        radius_m=radius_m, distance_model="straight-line", crs=label, when=moment,
        n_stations=n_inside if whole_rows else len(stations), n_used=n_used_inside if whole_rows else len(used),
        region_name=region_name, region_area_m2=area if whole_rows else None,
        covered_area_m2=covered, covered_twice_area_m2=twice,
        pct_area_covered=100.0 * covered / area if area else None,
        pct_area_covered_twice=100.0 * twice / area if area else None, demand=whole_demand_report,
        notes=tuple(notes))
    extent_demand = _demand_report(extent[2:], [], used, weight_col, 0) if demand is not None else None
    extent_report = CoverageReport(
        radius_m=radius_m, distance_model="straight-line", crs=label, when=moment, n_stations=len(stations),
        n_used=len(used), region_name="", region_area_m2=None, covered_area_m2=float(extent[0]),
        covered_twice_area_m2=float(extent[1]), pct_area_covered=None, pct_area_covered_twice=None,
        demand=extent_demand, notes=tuple(notes))
    order = sorted(range(len(rows)), key=lambda k: ({"province": 0, "city": 1}.get(rows[k].level, 2), rows[k].adcode))
    return NationalCoverage(whole=whole, units=tuple(rows[k] for k in order), extent=extent_report,
                            n_tiles=len(tiles), tile_deg=float(tile_deg), scheduler=_describe(client),
                            notes=tuple(notes))


def _check_demand_reach(demand: ChunkedDemand, bounds: tuple[float, float, float, float], lon: np.ndarray,
                        lat: np.ndarray, units: Sequence[AreaUnit]) -> None:
    """Refuse demand that lies nowhere near the stations or districts: usually a raster read in the wrong CRS."""
    reach = [u.geometry.bounds for u in units]
    if len(lon):
        reach.append((float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())))
    west, south, east, north = bounds
    if any(west <= e and w <= east and south <= n and s <= north for w, s, e, n in reach):
        return
    name = getattr(demand, "name", "The demand")
    msg = (f"Demand {name!r} lies at lon {west:.4f}..{east:.4f}, lat {south:.4f}..{north:.4f} (WGS-84), away "
           "from every station and district: is its CRS right?")
    raise BadRequestError(msg)


def _jobs(tiles: list[tuple[int, int]], lon: np.ndarray, lat: np.ndarray, used: np.ndarray,
          units: Sequence[AreaUnit], *, radius_m: float, tile_deg: float, demand: ChunkedDemand | None,
          top_n: int) -> Iterator[_TileJob]:
    """One job per tile: its stations and halo, its parts of the districts, and its demand (or where to read it)."""
    i_of = np.floor((lon + 180.0) / tile_deg).astype(int)
    j_of = np.floor((lat + 90.0) / tile_deg).astype(int)
    by_tile: dict[tuple[int, int], list[int]] = {}
    for k, key in enumerate(zip(i_of.tolist(), j_of.tolist(), strict=True)):
        by_tile.setdefault(key, []).append(k)
    geoms = np.array([u.geometry for u in units], dtype=object)
    tree = shapely.STRtree(geoms) if len(geoms) else None
    whole = np.array([u.whole for u in units], dtype=bool)
    local = demand is not None and not demand.read_on_worker  # points in memory: cut here, not on the worker
    for i, j in tiles:
        box = _box(i, j, tile_deg)
        west, south, east, north = box
        margin_lon, margin_lat = _margins(max(abs(south), abs(north)), radius_m)
        rings = _rings(max(abs(south), abs(north)), radius_m, tile_deg)
        near = [k for di in range(-rings, rings + 1) for dj in range(-rings, rings + 1)
                for k in by_tile.get((i + di, j + dj), ())]
        near_idx = np.array(near, dtype=int)
        n_lon, n_lat = lon[near_idx], lat[near_idx]
        halo = ((n_lon >= west - margin_lon) & (n_lon <= east + margin_lon) & (n_lat >= south - margin_lat)
                & (n_lat <= north + margin_lat) & used[near_idx])
        own = np.array(by_tile.get((i, j), ()), dtype=int)
        tile = _tile_geometry(box)
        hits = tree.query(tile, predicate="intersects") if tree is not None else np.empty(0, dtype=int)
        hits = np.sort(hits)
        parts = shapely.intersection(geoms[hits], tile) if len(hits) else np.empty(0, dtype=object)
        keep = ~shapely.is_empty(parts) & (shapely.area(parts) > 0) if len(parts) else np.zeros(0, dtype=bool)
        chunk = demand.read_box(*box) if local and demand is not None else demand
        yield _TileJob(box=box, radius_m=radius_m, lon=n_lon[halo], lat=n_lat[halo], count_lon=lon[own],
                       count_lat=lat[own], count_used=used[own], units=hits[keep], parts=parts[keep],
                       whole=whole[hits[keep]], demand=chunk, top_n=top_n)


def _unit_row(unit: AreaUnit, values: np.ndarray) -> UnitCoverage:
    return UnitCoverage(adcode=unit.adcode, name=unit.name, level=unit.level, province=unit.province,
                        n_stations=int(values[0]), n_used=int(values[1]), region_area_m2=float(values[2]),
                        covered_area_m2=float(values[3]), covered_twice_area_m2=float(values[4]),
                        demand_features=int(values[5]), demand_total=float(values[6]),
                        demand_covered=float(values[7]), demand_covered_twice=float(values[8]))


def _demand_report(figures: np.ndarray, top: list[tuple[float, str, float, float, float]], used: gpd.GeoDataFrame,
                   weight_col: str, top_n: int) -> DemandCoverage:
    """The whole's demand as `DemandCoverage`, with the largest uncovered cells and their nearest stations."""
    n, total, covered, twice = int(figures[0]), float(figures[1]), float(figures[2]), float(figures[3])
    top = sorted(top, key=lambda t: (-t[0], t[1]))[:max(top_n, 0)]
    records: list[dict[str, Any]] = []
    if top:
        s_lon, s_lat = kernel.lonlat(used) if len(used) else (np.empty(0), np.empty(0))
        index = geo.GeodesicIndex(s_lon, s_lat)
        near_idx, near_m = (a[:, 0] for a in index.nearest_many(np.array([t[2] for t in top]),
                                                                 np.array([t[3] for t in top]), k=1))
        ids = used["id"].astype(str).to_numpy() if "id" in used.columns and len(used) else None
        for (uncovered, cell, c_lon, c_lat, weight), k, dist in zip(top, near_idx, near_m, strict=True):
            finite = math.isfinite(float(dist))
            records.append({"id": cell, "lon": round(c_lon, 6), "lat": round(c_lat, 6), "weight": weight,
                            "uncovered": uncovered,
                            "nearest_station_id": str(ids[k]) if ids is not None and finite else None,
                            "nearest_station_m": float(dist) if finite else None})
    return DemandCoverage(model="points", weight_col=weight_col, n_features=n, total=total, covered=covered,
                          covered_twice=twice, pct_covered=100.0 * covered / total if total > 0 else 0.0,
                          pct_covered_twice=100.0 * twice / total if total > 0 else 0.0,
                          largest_uncovered=tuple(records))


def _describe(client: Any) -> str:
    info = client.scheduler_info()
    address = str(getattr(client.scheduler, "address", "") or "")
    n = len(info.get("workers", {}))
    if address.startswith("inproc://") or getattr(client.cluster, "__class__", type(None)).__name__ == "LocalCluster":
        return f"local ({n} workers)"
    return f"{address} ({n} workers)"
