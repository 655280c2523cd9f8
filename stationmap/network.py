"""Read OpenStreetMap extracts (``.osm``, ``.osm.bz2``, ``.osm.pbf``) into a walkable street network, offline.

The extract is read with pyosmium (libosmium), which reads all three formats; osmnx's ``graph_from_xml`` reads
only XML and keeps every way of the file, buildings included. The ways kept are those osmnx's own ``"walk"``
network type keeps (osmnx 2.1 ``_overpass._get_network_filter``): ``highway`` present; not ``area=yes``; not
``access=private``; highway not abandoned, bus_guideway, construction, cycleway, motor*, no, planned, platform,
proposed, raceway, razed, rest_area or services; not ``foot=no``; not ``service=private``; and no sidewalk mapped
as a separate way. Walking ignores ``oneway``, so every edge is two-way.

Edges are the straight segments between consecutive way nodes (the graph is not simplified, so no geometry is
lost), with WGS-84 geodesic lengths in metres.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components

from stationmap import geo
from stationmap.errors import BadRequestError, EmptyInputError
from stationmap.extras import import_extra

__all__ = ["OSM_SUFFIXES", "WalkNetwork", "is_walkable", "read_walk_network"]

logger = logging.getLogger(__name__)

#: File name endings the reader accepts.
OSM_SUFFIXES = (".osm", ".osm.bz2", ".osm.gz", ".osm.pbf", ".pbf")

_EXCLUDED_HIGHWAY = re.compile(r"abandoned|bus_guideway|construction|cycleway|motor|no|planned|platform|proposed|"
                               r"raceway|razed|rest_area|services")
_SIDEWALK_KEYS = ("sidewalk", "sidewalk:both", "sidewalk:left", "sidewalk:right")


def is_walkable(tags: dict[str, str]) -> bool:
    """
    Tell whether a way with these OSM tags belongs to the walking network (osmnx's ``"walk"`` filter).

    Parameters
    ----------
    tags
        The way's tags.
    """
    highway = tags.get("highway")
    if highway is None or _EXCLUDED_HIGHWAY.search(highway):
        return False
    if re.search("yes", tags.get("area", "")) or re.search("private", tags.get("access", "")):
        return False
    if re.search("no", tags.get("foot", "")) or re.search("private", tags.get("service", "")):
        return False
    return not any(re.search("separate", tags.get(key, "")) for key in _SIDEWALK_KEYS)


@dataclass(frozen=True)
class WalkNetwork:
    """
    A walkable street network: nodes in WGS-84 and undirected edges with geodesic lengths.

    Attributes
    ----------
    node_id
        OSM node id of each node.
    lon, lat
        WGS-84 degrees of each node.
    u, v
        Node indices of each edge's ends (each street segment once).
    length_m
        Geodesic length of each edge in metres.
    source
        The file it was read from.
    """

    node_id: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    u: np.ndarray
    v: np.ndarray
    length_m: np.ndarray
    source: str = ""
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.node_id)

    @property
    def n_edges(self) -> int:
        """Number of (undirected) edges."""
        return len(self.u)

    @property
    def total_length_m(self) -> float:
        """Total street length in metres."""
        return float(self.length_m.sum())

    def adjacency(self) -> sp.csr_matrix:
        """Return the symmetric sparse adjacency matrix whose entries are edge lengths in metres."""
        if "adjacency" not in self._cache:
            n = self.n_nodes
            rows = np.concatenate([self.u, self.v])
            cols = np.concatenate([self.v, self.u])
            data = np.concatenate([self.length_m, self.length_m])
            self._cache["adjacency"] = sp.csr_matrix((data, (rows, cols)), shape=(n, n))
        return self._cache["adjacency"]

    def edges_frame(self) -> gpd.GeoDataFrame:
        """Return the edges as EPSG:4326 LineStrings with ``u``, ``v`` and ``length_m`` columns."""
        coords = np.stack([np.column_stack([self.lon[self.u], self.lat[self.u]]),
                           np.column_stack([self.lon[self.v], self.lat[self.v]])], axis=1)
        return gpd.GeoDataFrame({"u": self.u, "v": self.v, "length_m": self.length_m},
                                geometry=shapely.linestrings(coords), crs=geo.WGS84)

    def nodes_frame(self) -> gpd.GeoDataFrame:
        """Return the nodes as EPSG:4326 points with their OSM ids."""
        return gpd.GeoDataFrame({"osmid": self.node_id}, geometry=gpd.points_from_xy(self.lon, self.lat),
                                crs=geo.WGS84)


def read_walk_network(path: str | Path, *, largest_component: bool = True) -> WalkNetwork:
    """
    Read the walkable streets of an OSM extract into a `WalkNetwork`.

    Parameters
    ----------
    path
        An OSM XML (``.osm``, ``.osm.bz2``, ``.osm.gz``) or PBF (``.osm.pbf``) file.
    largest_component
        Keep only the largest connected part (as osmnx does by default); islands of pavement cut off by the
        extract's edge would otherwise look reachable from nowhere.

    Returns
    -------
    network
        Nodes in EPSG:4326 and edges with geodesic lengths in metres.

    Raises
    ------
    BadRequestError
        If the file is missing, not an OSM extract, or unreadable.
    EmptyInputError
        If it has no walkable way.
    MissingExtraError
        If pyosmium is not installed: ``pip install 'stationmap[osm]'``.
    """
    osmium = import_extra("osmium")  # imported here: only reading extracts needs it, the extra stationmap[osm]

    path = Path(path)
    name = path.name.lower()
    if not path.is_file():
        msg = f"OSM extract {str(path)!r} not found."
        raise BadRequestError(msg)
    if not name.endswith(OSM_SUFFIXES):
        msg = f"OSM extract {path.name!r}: expected a file ending in {', '.join(OSM_SUFFIXES)}."
        raise BadRequestError(msg)
    starts: list[int] = []
    ends: list[int] = []
    coords: dict[int, tuple[float, float]] = {}
    try:
        processor = osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY).with_locations()
        for obj in processor:
            if not obj.is_way():
                continue
            tags = dict(obj.tags)
            if not is_walkable(tags):
                continue
            refs: list[int] = []
            for node in obj.nodes:
                if not node.location.valid():
                    continue
                coords[node.ref] = (node.location.lon, node.location.lat)
                if not refs or refs[-1] != node.ref:
                    refs.append(node.ref)
            starts.extend(refs[:-1])
            ends.extend(refs[1:])
    except RuntimeError as err:  # libosmium reports unreadable and malformed input as RuntimeError
        msg = f"Cannot read OSM extract {str(path)!r}: {err}"
        raise BadRequestError(msg) from err
    if not starts:
        msg = f"OSM extract {path.name!r} has no walkable street."
        raise EmptyInputError(msg)
    node_id = np.fromiter(coords.keys(), dtype=np.int64, count=len(coords))
    lonlat = np.array(list(coords.values()), dtype=float)
    order = np.argsort(node_id)
    node_id, lonlat = node_id[order], lonlat[order]
    u = np.searchsorted(node_id, np.asarray(starts, dtype=np.int64))
    v = np.searchsorted(node_id, np.asarray(ends, dtype=np.int64))
    # One edge per street segment, whichever way it was drawn.
    pairs = np.unique(np.column_stack([np.minimum(u, v), np.maximum(u, v)]), axis=0)
    u, v = pairs[:, 0], pairs[:, 1]
    length = np.asarray(geo.geodesic_distance_m(lonlat[u, 0], lonlat[u, 1], lonlat[v, 0], lonlat[v, 1]))
    network = _subset(node_id, lonlat, u, v, length, str(path), largest_component=largest_component)
    logger.info("read %s: %d nodes, %d edges, %.0f m of walkable street", path.name, network.n_nodes,
                network.n_edges, network.total_length_m)
    return network


def _subset(node_id: np.ndarray, lonlat: np.ndarray, u: np.ndarray, v: np.ndarray, length: np.ndarray,
            source: str, *, largest_component: bool) -> WalkNetwork:
    """Keep the nodes edges use (and only the largest component if asked), renumbered."""
    n = len(node_id)
    keep = np.zeros(n, dtype=bool)
    keep[u] = keep[v] = True
    if largest_component:
        graph = sp.csr_matrix((np.ones(len(u)), (u, v)), shape=(n, n))
        _, labels = connected_components(graph, directed=False)
        counts = np.bincount(labels[keep])
        keep &= labels == int(np.argmax(counts))
    new_index = np.full(n, -1, dtype=np.int64)
    new_index[keep] = np.arange(int(keep.sum()))
    edge_keep = keep[u] & keep[v]
    return WalkNetwork(node_id=node_id[keep], lon=lonlat[keep, 0], lat=lonlat[keep, 1],
                       u=new_index[u[edge_keep]], v=new_index[v[edge_keep]], length_m=length[edge_keep],
                       source=source)
