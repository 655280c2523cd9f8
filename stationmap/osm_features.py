"""Read demand (street length, worker hot spots) and candidate sites (host institutions) from an OSM extract.

An extract (``.osm``, ``.osm.bz2``, ``.osm.gz``, ``.osm.pbf``) is read offline with pyosmium, the
``stationmap[osm]`` extra, as `stationmap.network` reads it. Nodes are points; ways, open or closed, stand at the
centroid of their nodes' line or ring; multipolygon relations (a construction site drawn as a relation) at the
centroid of the area libosmium assembles. Everything is WGS-84 (EPSG:4326), lon/lat order, lengths in metres.

Demand weights are in **street-metre equivalents**: one metre of walkable street weighs `STREET_WEIGHT` (1), and
each worker hot spot weighs what it adds in metres of street (`HOTSPOT_WEIGHTS`). The figures are the planner's
stated judgement of where outdoor workers (sanitation crews, couriers, riders, drivers, porters, construction
workers) gather, not a measurement; the whole table is printed in docs/planner.md, and a planner who disagrees
passes a table of their own (``hotspot_weights=``) or a demand file instead.

Candidate sites are the host institutions stations are really set up in (`CANDIDATE_TAGS`). Party-service
centres (党群服务中心) have no OpenStreetMap tag; some are mapped as ``amenity=community_centre`` or
``office=government``, and the rest must come from a table (``--candidates FILE``).

Rasters are not read here or anywhere: a population raster (GeoTIFF) must be polygonised first (QGIS "Raster
pixels to polygons", or ``gdal_polygonize.py``) and given as a vector demand file; rasterio is not a dependency.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from scipy.spatial import cKDTree
from shapely.geometry.base import BaseGeometry

from stationmap import geo
from stationmap.errors import BadRequestError, EmptyInputError
from stationmap.extras import import_extra
from stationmap.network import OSM_SUFFIXES, is_walkable
from stationmap.parameters import OSM_DEDUP_M, STREET_SAMPLE_M

__all__ = [
    "CANDIDATE_TAGS",
    "HOTSPOT_WEIGHTS",
    "STREET_WEIGHT",
    "HotSpotRule",
    "osm_demand_source",
    "read_osm_candidates",
    "read_osm_demand",
]

logger = logging.getLogger(__name__)

#: Demand weight of one metre of walkable street: the unit every hot-spot weight is stated in.
STREET_WEIGHT = 1.0


@dataclass(frozen=True)
class HotSpotRule:
    """
    One kind of worker hot spot: an OSM ``key=value`` and its demand weight.

    Attributes
    ----------
    key, value
        The OSM tag.
    weight
        Demand of one such feature, in metres of street it is worth (`STREET_WEIGHT` per metre).
    why
        Who gathers there.
    """

    key: str
    value: str
    weight: float
    why: str

    @property
    def tag(self) -> str:
        """The tag as ``key=value``."""
        return f"{self.key}={self.value}"


#: Worker hot spots and their weights, heaviest first. A feature with several of these tags takes the heaviest.
#: Central Helsinki has about 60 km of walkable street per km² (a 300 m circle, 0.28 km², holds about 17 km), so a
#: market (3,000) adds what 3 km of street does: it moves a site within its neighbourhood, not across the
#: district, unless hot spots cluster.
HOTSPOT_WEIGHTS: tuple[HotSpotRule, ...] = (
    HotSpotRule("amenity", "marketplace", 3000.0, "market: porters, vendors and sanitation crews from before dawn"),
    HotSpotRule("amenity", "waste_transfer_station", 3000.0, "sanitation depot: the stations' first users"),
    HotSpotRule("office", "logistics", 2000.0, "courier and logistics office: couriers start and end shifts there"),
    HotSpotRule("industrial", "logistics", 2000.0, "logistics hub: couriers, loaders and truck drivers"),
    HotSpotRule("building", "warehouse", 2000.0, "warehouse or sorting centre: loaders and drivers"),
    HotSpotRule("shop", "mall", 2000.0, "shopping centre: riders wait at its pick-up points, cleaners, guards"),
    HotSpotRule("shop", "department_store", 2000.0, "department store: as a shopping centre"),
    HotSpotRule("amenity", "bus_station", 2000.0, "bus terminus: drivers' layovers, cleaners"),
    HotSpotRule("landuse", "construction", 1500.0, "construction site: construction workers all day"),
    HotSpotRule("public_transport", "station", 1000.0, "transit station: drivers, cleaners, security staff"),
    HotSpotRule("shop", "supermarket", 1000.0, "supermarket: deliveries, couriers picking up orders"),
    HotSpotRule("amenity", "taxi", 500.0, "taxi rank: drivers wait there"),
    HotSpotRule("amenity", "parcel_locker", 200.0, "parcel locker: couriers fill it on rounds"),
    HotSpotRule("amenity", "fast_food", 150.0, "fast food: delivery riders wait for orders (food streets add up)"),
    HotSpotRule("amenity", "restaurant", 100.0, "restaurant: delivery riders wait for orders"),
    HotSpotRule("amenity", "recycling", 100.0, "recycling point: sanitation crews empty it"),
    HotSpotRule("highway", "bus_stop", 50.0, "bus stop: small, but many; drivers and stop cleaners"),
)

#: Host institutions of stations: OSM ``key=value`` and the kind given to the candidate. No tag exists for
#: party-service centres (党群服务中心).
CANDIDATE_TAGS: tuple[tuple[str, str], ...] = (
    ("amenity", "bank"),
    ("amenity", "post_office"),
    ("amenity", "fuel"),
    ("amenity", "community_centre"),
    ("amenity", "townhall"),
    ("amenity", "toilets"),
    ("amenity", "pharmacy"),
    ("amenity", "social_facility"),
    ("office", "government"),
)


def osm_demand_source(path: str | Path) -> str:
    """
    Return the words naming OSM-derived demand in an answer: ``"OSM street length + hot spots from <file>"``.

    Parameters
    ----------
    path
        The extract.
    """
    return f"OSM street length + hot spots from {Path(path).name}"


def read_osm_demand(path: str | Path, region: BaseGeometry | None = None, *,
                    street_weight: float = STREET_WEIGHT, sample_m: float = STREET_SAMPLE_M,
                    hotspot_weights: tuple[HotSpotRule, ...] = HOTSPOT_WEIGHTS) -> gpd.GeoDataFrame:
    """
    Read demand points from an OSM extract: walkable street length plus worker hot spots.

    Streets are the ways `stationmap.network.is_walkable` keeps (osmnx's ``"walk"`` filter), each straight
    segment between consecutive way nodes once (a segment shared by two ways counts once). A segment of geodesic
    length ``L`` metres is cut into ``ceil(L / sample_m)`` equal pieces; each piece is a point at its middle
    weighing its metres x `street_weight`. Hot spots are the features carrying a tag of `hotspot_weights`.
    Points are kept when they lie inside `region`.

    Parameters
    ----------
    path
        An OSM XML (``.osm``, ``.osm.bz2``, ``.osm.gz``) or PBF (``.osm.pbf``) extract, WGS-84.
    region
        The district, a WGS-84 geometry; None keeps the whole extract.
    street_weight
        Demand weight of one metre of street.
    sample_m
        Longest street piece in metres (`STREET_SAMPLE_M`).
    hotspot_weights
        The hot-spot table (`HOTSPOT_WEIGHTS`).

    Returns
    -------
    demand
        EPSG:4326 points with ``id`` (``street-<n>`` or ``osm-<n|w|a><osm id>``), ``source`` (``street`` or
        ``hot spot``), ``tag`` (``highway=...`` or the hot spot's tag), ``name``, ``length_m`` (street metres of
        the point, 0 for hot spots) and ``weight``. ``attrs["demand_source"]`` says
        ``"OSM street length + hot spots from <file>"``.

    Raises
    ------
    BadRequestError
        If the file is missing, not an OSM extract, or unreadable, or `sample_m` is not positive.
    EmptyInputError
        If no street and no hot spot lies inside `region`.
    MissingExtraError
        If pyosmium is not installed: ``pip install 'stationmap[osm]'``.
    """
    if not sample_m > 0:
        msg = f"sample_m must be a positive number of metres, got {sample_m!r}."
        raise BadRequestError(msg)
    rules = {(r.key, r.value): r for r in hotspot_weights}
    scan = _scan(path, streets=True, features=lambda tags: _hotspot(tags, rules))
    s_lon, s_lat, s_len, s_tag = _street_points(scan, sample_m)
    h_lon, h_lat, h_rule, h_name, h_id = _feature_columns(scan.features)
    n_s = len(s_lon)
    lon = np.concatenate([s_lon, h_lon])
    lat = np.concatenate([s_lat, h_lat])
    h_weight = np.array([r.weight for r in h_rule], dtype=float)
    frame = gpd.GeoDataFrame({
        "id": [f"street-{i}" for i in range(1, n_s + 1)] + h_id,
        "source": ["street"] * n_s + ["hot spot"] * len(h_lon),
        "tag": list(s_tag) + [r.tag for r in h_rule],
        "name": [""] * n_s + h_name,
        "length_m": np.concatenate([s_len, np.zeros(len(h_lon))]),
        "weight": np.concatenate([s_len * float(street_weight), h_weight]),
    }, geometry=gpd.points_from_xy(lon, lat), crs=geo.WGS84)
    frame = _clip(frame, region).reset_index(drop=True)
    if len(frame) == 0:
        msg = f"OSM extract {Path(path).name!r} has no walkable street or worker hot spot inside the district."
        raise EmptyInputError(msg)
    frame.attrs["demand_source"] = osm_demand_source(path)
    streets = frame["source"] == "street"
    logger.info("%s: %.0f m of street in %d points, %d hot spots", Path(path).name,
                frame.loc[streets, "length_m"].sum(), int(streets.sum()), int((~streets).sum()))
    return frame


def read_osm_candidates(path: str | Path, region: BaseGeometry | None = None, *,
                        dedup_m: float = OSM_DEDUP_M,
                        tags: tuple[tuple[str, str], ...] = CANDIDATE_TAGS) -> gpd.GeoDataFrame:
    """
    Read candidate sites from an OSM extract: the host institutions stations are set up in.

    A feature with one of `tags` is a candidate of that kind (the first of `tags` it carries). Candidates of
    one kind closer than `dedup_m` are one institution mapped twice (a node and its building); the one kept is
    the named one, else the node, else the lowest OSM id.

    Parameters
    ----------
    path
        An OSM XML or PBF extract, WGS-84.
    region
        The district, a WGS-84 geometry; None keeps the whole extract.
    dedup_m
        Distance in metres under which candidates of one kind merge (`OSM_DEDUP_M`); 0 keeps them all.
    tags
        The OSM ``(key, value)`` pairs of host institutions (`CANDIDATE_TAGS`).

    Returns
    -------
    candidates
        EPSG:4326 points with ``id`` (``osm-n<id>``, ``osm-w<id>`` for ways, ``osm-a<id>`` for relations), ``name``
        (the OSM name, else ``(kind)``), ``osm_name`` (the OSM name or None), ``kind`` (``bank``,
        ``post_office``, ..., ``government``) and ``tag``. ``attrs["candidates_source"]`` says how many of each
        kind and from which file.

    Raises
    ------
    BadRequestError
        If the file is missing, not an OSM extract, or unreadable, or `dedup_m` is negative.
    EmptyInputError
        If no candidate lies inside `region`.
    MissingExtraError
        If pyosmium is not installed.
    """
    if not dedup_m >= 0:
        msg = f"dedup_m must be a non-negative number of metres, got {dedup_m!r}."
        raise BadRequestError(msg)
    wanted = {pair: i for i, pair in enumerate(tags)}

    def match(item: dict[str, str]) -> tuple[str, str] | None:
        found = [pair for pair in item.items() if pair in wanted]
        return min(found, key=wanted.__getitem__) if found else None

    scan = _scan(path, streets=False, features=match)
    lon, lat, pairs, names, ids = _feature_columns(scan.features)
    frame = gpd.GeoDataFrame({
        "id": ids, "name": [n or f"({value})" for n, (_, value) in zip(names, pairs, strict=True)],
        "osm_name": [n or None for n in names], "kind": [value for _, value in pairs],
        "tag": [f"{key}={value}" for key, value in pairs],
    }, geometry=gpd.points_from_xy(lon, lat), crs=geo.WGS84)
    frame = _clip(frame, region)
    if len(frame) == 0:
        msg = f"OSM extract {Path(path).name!r} has no candidate host institution inside the district."
        raise EmptyInputError(msg)
    frame = _dedup(frame, dedup_m).reset_index(drop=True)
    counts = Counter(frame["kind"])
    listing = ", ".join(f"{kind} {n}" for kind, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    frame.attrs["candidates_source"] = (f"{len(frame)} OSM host institutions from {Path(path).name} ({listing})")
    return frame


# --------------------------------------------------------------------------------------------------------------
# reading


@dataclass
class _Scan:
    """What one pass over an extract found: street segments (node ids, coordinates) and tagged features."""

    seg_u: list[int]
    seg_v: list[int]
    seg_tag: list[str]
    coords: dict[int, tuple[float, float]]
    # (lon, lat, what the matcher returned, name, id)
    features: list[tuple[float, float, Any, str, str]]


def _scan(path: str | Path, *, streets: bool, features: Any) -> _Scan:
    """Read `path` once: walkable segments (if `streets`) and every feature `features(tags)` returns a match for."""
    osmium = import_extra("osmium")  # imported here: only reading extracts needs it, the extra stationmap[osm]

    path = Path(path)
    if not path.is_file():
        msg = f"OSM extract {str(path)!r} not found."
        raise BadRequestError(msg)
    if not path.name.lower().endswith(OSM_SUFFIXES):
        msg = f"OSM extract {path.name!r}: expected a file ending in {', '.join(OSM_SUFFIXES)}."
        raise BadRequestError(msg)
    scan = _Scan([], [], [], {}, [])
    try:
        processor = osmium.FileProcessor(str(path)).with_locations().with_areas()
        for obj in processor:
            tags = dict(obj.tags)
            if not tags:
                continue
            if obj.is_node():
                hit = features(tags)
                if hit is not None and obj.location.valid():
                    scan.features.append((obj.location.lon, obj.location.lat, hit, _name(tags), f"osm-n{obj.id}"))
            elif obj.is_way():
                _way(obj, tags, scan, streets=streets, features=features)
            elif obj.is_area() and not obj.from_way():  # closed ways were taken as ways
                hit = features(tags)
                centre = _area_centroid(obj) if hit is not None else None
                if centre is not None:
                    scan.features.append((*centre, hit, _name(tags), f"osm-a{obj.orig_id()}"))
    except RuntimeError as err:  # libosmium reports unreadable and malformed input as RuntimeError
        msg = f"Cannot read OSM extract {str(path)!r}: {err}"
        raise BadRequestError(msg) from err
    return scan


def _way(obj: Any, tags: dict[str, str], scan: _Scan, *, streets: bool, features: Any) -> None:
    walk = streets and is_walkable(tags)
    hit = features(tags)
    if not walk and hit is None:
        return
    refs: list[int] = []
    lonlat: list[tuple[float, float]] = []
    for node in obj.nodes:
        if not node.location.valid():
            continue
        if not refs or refs[-1] != node.ref:
            refs.append(node.ref)
            lonlat.append((node.location.lon, node.location.lat))
    if not refs:
        return
    if walk:
        for ref, (lon, lat) in zip(refs, lonlat, strict=True):
            scan.coords[ref] = (lon, lat)
        scan.seg_u.extend(refs[:-1])
        scan.seg_v.extend(refs[1:])
        scan.seg_tag.extend([f"highway={tags['highway']}"] * (len(refs) - 1))
    if hit is not None:
        if len(lonlat) >= 4 and refs[0] == refs[-1]:
            centre = shapely.Polygon(lonlat).centroid
        elif len(lonlat) >= 2:
            centre = shapely.LineString(lonlat).centroid
        else:
            centre = shapely.Point(lonlat[0])
        scan.features.append((centre.x, centre.y, hit, _name(tags), f"osm-w{obj.id}"))


def _area_centroid(area: Any) -> tuple[float, float] | None:
    polygons = []
    for outer in area.outer_rings():
        shell = [(n.lon, n.lat) for n in outer]
        holes = [[(n.lon, n.lat) for n in inner] for inner in area.inner_rings(outer)]
        if len(shell) >= 4:
            polygons.append(shapely.Polygon(shell, [h for h in holes if len(h) >= 4]))
    if not polygons:
        return None
    centre = shapely.make_valid(shapely.MultiPolygon(polygons)).centroid
    return None if centre.is_empty else (centre.x, centre.y)


def _name(tags: dict[str, str]) -> str:
    return tags.get("name") or tags.get("name:zh") or tags.get("name:en") or ""


def _hotspot(tags: dict[str, str], rules: dict[tuple[str, str], HotSpotRule]) -> HotSpotRule | None:
    found = [rules[pair] for pair in tags.items() if pair in rules]
    return max(found, key=lambda r: r.weight) if found else None


# --------------------------------------------------------------------------------------------------------------
# geometry


def _street_points(scan: _Scan, sample_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each distinct walkable segment cut into pieces of at most `sample_m`: middle lon, lat, metres, tag."""
    if not scan.seg_u:
        empty = np.empty(0)
        return empty, empty, empty, np.empty(0, dtype=object)
    u = np.asarray(scan.seg_u, dtype=np.int64)
    v = np.asarray(scan.seg_v, dtype=np.int64)
    # One segment per pair of nodes, whichever way and in however many ways it was drawn.
    _, first = np.unique(np.column_stack([np.minimum(u, v), np.maximum(u, v)]), axis=0, return_index=True)
    first = np.sort(first)
    u, v, tag = u[first], v[first], np.asarray(scan.seg_tag, dtype=object)[first]
    lon_u, lat_u = np.array([scan.coords[int(n)] for n in u]).T
    lon_v, lat_v = np.array([scan.coords[int(n)] for n in v]).T
    length = np.asarray(geo.geodesic_distance_m(lon_u, lat_u, lon_v, lat_v), dtype=float)
    pieces = np.maximum(1, np.ceil(length / sample_m)).astype(np.int64)
    seg = np.repeat(np.arange(len(u)), pieces)
    # Position of each piece's middle along its segment: (j + 0.5) / n for j = 0..n-1.
    starts = np.repeat(np.cumsum(pieces) - pieces, pieces)
    frac = (np.arange(len(seg)) - starts + 0.5) / pieces[seg]
    lon = lon_u[seg] + frac * (lon_v[seg] - lon_u[seg])
    lat = lat_u[seg] + frac * (lat_v[seg] - lat_u[seg])
    return lon, lat, length[seg] / pieces[seg], tag[seg]


def _feature_columns(found: list[tuple[float, float, Any, str, str]]
                     ) -> tuple[np.ndarray, np.ndarray, list[Any], list[str], list[str]]:
    lon = np.array([f[0] for f in found], dtype=float)
    lat = np.array([f[1] for f in found], dtype=float)
    return lon, lat, [f[2] for f in found], [f[3] for f in found], [f[4] for f in found]


def _clip(frame: gpd.GeoDataFrame, region: BaseGeometry | None) -> gpd.GeoDataFrame:
    if region is None or len(frame) == 0:
        return frame
    prepared = shapely.make_valid(region)
    shapely.prepare(prepared)
    return frame[shapely.contains_xy(prepared, frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy())]


def _dedup(frame: gpd.GeoDataFrame, dedup_m: float) -> gpd.GeoDataFrame:
    """Keep one candidate of each kind within `dedup_m`: named first, then nodes, then the lowest OSM id."""
    if dedup_m == 0 or len(frame) < 2:
        return frame
    order = frame.assign(_unnamed=frame["osm_name"].isna(), _type=frame["id"].str[4].map({"n": 0, "w": 1, "a": 2}),
                         _num=frame["id"].str[5:].astype("int64"))
    order = order.sort_values(["_unnamed", "_type", "_num"], kind="stable")
    metric = geo.to_metric(order)
    x, y = metric.geometry.x.to_numpy(), metric.geometry.y.to_numpy()
    kinds = order["kind"].to_numpy()
    near = cKDTree(np.column_stack([x, y])).query_ball_point(np.column_stack([x, y]), r=dedup_m)
    kept = np.zeros(len(order), dtype=bool)
    for i in range(len(order)):  # in order of preference, so the first of a cluster stays
        kept[i] = not any(kept[j] and kinds[j] == kinds[i] for j in near[i] if j != i)
    return frame.loc[order.index[kept]].sort_index()
