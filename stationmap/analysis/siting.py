"""Where to put new stations: maximal covering (best k sites) and set covering (fewest sites), exact or greedy.

Existing stations stay: demand they already reach is taken out before any choice. Only the (demand, candidate)
pairs within the radius are built (a sparse matrix of exact geodesic reach on the WGS-84 ellipsoid, from
`stationmap.geo.GeodesicIndex`), never the full distance matrix; demand points that share the same set of
reachable candidates are merged into one weighted row. The ILP goes straight to HiGHS (``highspy``) with a
row-wise sparse matrix:

- maximal covering (MCLP): maximise ``sum w_i y_i`` subject to ``y_i <= sum_{j in N(i)} x_j``,
  ``sum x_j <= k``, ``x`` binary, ``0 <= y <= 1`` (``y`` is integral at an optimum, so it stays continuous);
- set covering: minimise ``sum x_j`` subject to ``sum_{j in N(i)} x_j >= 1`` for every reachable demand row.

Beyond ``max_ilp_pairs`` pairs (or when the ILP finds nothing within its time limit) a lazy greedy is used. The
greedy is within ``1 - 1/e`` of the optimum for MCLP (Nemhauser, Wolsey and Fisher 1978); the report gives the
tighter of that bound and the data-dependent bound ``f(S) + sum of the k largest remaining gains``, and the gap
to it. Every chosen site carries its marginal gain in choice order, so planners can take the first 3 of 5.

Without demand data (`plan_sites` with ``demand=None``) the only "demand" is the district's area, and in a large
gap every full circle gains the same square metres: the MCLP has thousands of tied optima and any one of them,
labelled "optimal", is an arbitrary choice. So the best `k` sites are then chosen **deepest first**
(`spread_sites`): each next site is the candidate whose clearance (geodesic on WGS-84: the distance to the
nearest existing station or site already chosen, or to the district's edge if that is nearer) is largest, ties
to the first candidate. That is the centre of the largest empty circle among the candidates: the spot farthest
from any station that is not just a corner of the district. Each site's ``clearance_m`` is therefore never
larger than the one before it, and any two chosen sites are at least the last site's ``clearance_m`` apart. The
area each site newly reaches is still reported, with the MCLP's upper bound on the area any `k` candidates
reach, but the result never claims to be optimal, and says which demand was used (``demand_source``) and how
the sites were ordered (``ties_broken_by``).
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import scipy.sparse as sp
import shapely
from shapely.geometry.base import BaseGeometry

from stationmap import geo
from stationmap.analysis import kernel
from stationmap.analysis.kernel import DEFAULT_RADIUS_M
from stationmap.errors import BadRequestError, EmptyInputError
from stationmap.extras import import_extra
from stationmap.parameters import SITES_K

__all__ = [
    "AREA_DEMAND_SOURCE",
    "FARTHEST_FIRST",
    "MAX_CANDIDATES",
    "MAX_K",
    "SiteChoice",
    "SitingResult",
    "area_demand",
    "candidates_in_gaps",
    "cover_all",
    "cover_matrix",
    "greedy_max_cover",
    "plan_sites",
    "propose_sites",
    "solve_max_cover",
    "solve_set_cover",
    "spread_sites",
]

if SITES_K.maximum is None:  # cannot happen: SITES_K declares its maximum
    msg = "stationmap.parameters.SITES_K has no maximum"
    raise TypeError(msg)
#: Upper bound on `k` a caller may ask for.
MAX_K = int(SITES_K.maximum)
#: Upper bound on the number of candidate sites.
MAX_CANDIDATES = 50_000
#: Above this many (demand, candidate) pairs the ILP is not attempted in ``method="auto"``.
DEFAULT_MAX_ILP_PAIRS = 3_000_000
_ONE_MINUS_INV_E = 1.0 - 1.0 / math.e
#: `SitingResult.demand_source` when no demand data was given and demand is the district's area.
AREA_DEMAND_SOURCE = "area (no demand data)"
#: `SitingResult.ties_broken_by` of `spread_sites`: the rule that orders the sites instead of the tied area gains.
FARTHEST_FIRST = "distance from existing coverage and the district edge (deepest first)"

Method = Literal["auto", "ilp", "greedy"]
Progress = Callable[[str], None]


@dataclass(frozen=True)
class SiteChoice:
    """
    One proposed site.

    Attributes
    ----------
    rank
        Order of choice: site 1 gains most, site 2 most given site 1, and so on.
    candidate_id, name
        The candidate's id and name (generated candidates are ``gap-<n>``).
    lon, lat
        WGS-84 degrees.
    gain
        Demand newly covered by this site given the sites ranked before it (and the existing stations).
    cumulative
        Demand newly covered by sites 1..rank.
    cumulative_pct
        `cumulative` as a percentage of the demand uncovered before any new site.
    clearance_m
        With deepest-first siting (`spread_sites`): geodesic distance in metres from this site to the nearest
        existing station, earlier-ranked site or district edge (None for demand-driven siting).
    """

    rank: int
    candidate_id: str
    name: str
    lon: float
    lat: float
    gain: float
    cumulative: float
    cumulative_pct: float
    clearance_m: float | None = None


@dataclass(frozen=True)
class SitingResult:
    """
    New sites chosen to cover demand.

    Attributes
    ----------
    problem
        ``"max-cover"`` (best `k` sites) or ``"set-cover"`` (fewest sites reaching all reachable demand).
    method
        ``"ilp"`` (HiGHS) or ``"greedy"`` (lazy greedy).
    optimal
        True when the ILP proved optimality.
    radius_m, distance_model, crs
        Service radius in metres; ``"straight-line"``; distances are geodesic on WGS-84 (``EPSG:4326``).
    k
        Sites asked for (max-cover) or needed (set-cover).
    n_demand, n_candidates, n_pairs
        Demand points, candidate sites, (demand, candidate) pairs within the radius.
    total_demand, already_covered, uncovered_before
        Demand in total, within reach of existing stations, and not.
    covered_by_new, uncovered_after
        Demand the new sites reach that no station did, and what stays uncovered.
    unreachable
        Uncovered demand no candidate can reach (no choice of sites covers it).
    upper_bound
        Proven upper bound on `covered_by_new` for any choice of `k` candidates (max-cover), or a lower bound
        on the number of sites (set-cover).
    gap_pct
        Distance to that bound in percent of the bound (0 when optimal).
    solve_time_s
        Wall time of building and solving, seconds.
    sites
        Chosen sites in order of marginal gain.
    notes
        Caveats in plain language.
    greedy_covered, greedy_gap_pct
        When the ILP answered a max-cover problem: what the lazy greedy alone covers, and how far below the ILP's
        answer that is, in percent (the greedy's measured gap to the exact solution).
    demand_source
        Which demand the gains count: `AREA_DEMAND_SOURCE` when none was given, else what the caller named
        (e.g. ``"demand file hubs.csv"``); ``"demand layer"`` when unnamed.
    ties_broken_by
        None when the sites maximise demand; `FARTHEST_FIRST` when, without demand data, the sites were chosen
        deepest first instead of among tied area gains (then ``optimal`` is False).
    """

    problem: str
    method: str
    optimal: bool
    radius_m: float
    distance_model: str
    crs: str
    k: int
    n_demand: int
    n_candidates: int
    n_pairs: int
    total_demand: float
    already_covered: float
    uncovered_before: float
    covered_by_new: float
    uncovered_after: float
    unreachable: float
    upper_bound: float
    gap_pct: float
    solve_time_s: float
    sites: tuple[SiteChoice, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)
    greedy_covered: float | None = None
    greedy_gap_pct: float | None = None
    demand_source: str = "demand layer"
    ties_broken_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict (no NaN)."""
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, float):
                out[key] = kernel.finite_or_none(value, 6)
        out["sites"] = [{k: (kernel.finite_or_none(v, 6) if isinstance(v, float) else v) for k, v in asdict(s).items()}
                        for s in self.sites]
        out["notes"] = list(self.notes)
        return out

    def sites_frame(self) -> gpd.GeoDataFrame:
        """Return the chosen sites as EPSG:4326 points with their rank, gains, clearance and demand source."""
        rows = [asdict(s) for s in self.sites]
        columns = ["rank", "candidate_id", "name", "lon", "lat", "gain", "cumulative", "cumulative_pct",
                   "clearance_m"]
        frame = gpd.GeoDataFrame(rows, columns=columns,
                                 geometry=gpd.points_from_xy([r["lon"] for r in rows], [r["lat"] for r in rows]),
                                 crs=geo.WGS84)
        frame["radius_m"] = self.radius_m
        frame["method"] = self.method
        frame["demand_source"] = self.demand_source
        frame["ties_broken_by"] = self.ties_broken_by
        return frame


# --------------------------------------------------------------------------------------------------------------
# numeric core: arrays in, arrays out


def cover_matrix(demand_lon: np.ndarray, demand_lat: np.ndarray, cand_lon: np.ndarray, cand_lat: np.ndarray, *,
                 radius_m: float) -> sp.csr_matrix:
    """
    Return the sparse boolean matrix of which candidate reaches which demand point.

    Parameters
    ----------
    demand_lon, demand_lat, cand_lon, cand_lat
        WGS-84 degrees.
    radius_m
        Reach in metres, geodesic on the WGS-84 ellipsoid (`stationmap.geo.GeodesicIndex`).

    Returns
    -------
    matrix
        CSR matrix of shape (n_demand, n_candidates) with 1 where the distance is at most `radius_m`.
    """
    n_d, n_c = len(demand_lon), len(cand_lon)
    if n_d == 0 or n_c == 0:
        return sp.csr_matrix((n_d, n_c), dtype=np.int8)
    pairs = geo.GeodesicIndex(cand_lon, cand_lat).within(demand_lon, demand_lat, radius_m, distances=False)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(pairs.left, minlength=n_d))])
    matrix = sp.csr_matrix((np.ones(len(pairs), dtype=np.int8), pairs.right, indptr), shape=(n_d, n_c))
    matrix.sort_indices()
    return matrix


def _merge_rows(matrix: sp.csr_matrix, weights: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray]:
    """Drop rows with no candidate or no weight, and merge rows with the same candidate set (weights add)."""
    lengths = np.diff(matrix.indptr)
    keep = (lengths > 0) & (weights > 0)
    matrix, weights = matrix[keep], weights[keep]
    keys: dict[bytes, int] = {}
    group = np.empty(matrix.shape[0], dtype=np.int64)
    for i in range(matrix.shape[0]):
        row = matrix.indices[matrix.indptr[i]:matrix.indptr[i + 1]].tobytes()
        group[i] = keys.setdefault(row, len(keys))
    first = np.zeros(len(keys), dtype=np.int64)
    first[group[::-1]] = np.arange(matrix.shape[0])[::-1]
    merged_w = np.bincount(group, weights=weights, minlength=len(keys))
    return matrix[first], merged_w


def _highs(*, silent: bool = True, time_limit_s: float | None = None) -> Any:
    highspy = import_extra("highspy")  # imported here: only exact siting needs it, the extra stationmap[ilp]

    h = highspy.Highs()
    h.setOptionValue("output_flag", not silent)
    if time_limit_s is not None:
        h.setOptionValue("time_limit", float(time_limit_s))
    return h, highspy


def solve_max_cover(matrix: sp.csr_matrix, weights: np.ndarray, k: int, *, time_limit_s: float = 60.0,
                    start: np.ndarray | None = None) -> tuple[np.ndarray, bool, float]:
    """
    Solve the maximal covering ILP with HiGHS.

    Parameters
    ----------
    matrix
        (n_demand, n_candidates) sparse 0/1 reach matrix.
    weights
        Demand weight per row (non-negative).
    k
        Most sites to open.
    time_limit_s
        HiGHS time limit in seconds; the best solution found so far is returned when it is hit.
    start
        Candidate indices of a known solution (e.g. the greedy's) to start the search from.

    Returns
    -------
    chosen, optimal, bound
        Indices of the chosen candidates, whether optimality was proven, and HiGHS's upper bound on the
        covered weight (equal to the objective when optimal).
    """
    rows, w = _merge_rows(sp.csr_matrix(matrix), np.asarray(weights, dtype=float))
    n_d, n_c = rows.shape
    if n_d == 0 or k <= 0:
        return np.empty(0, dtype=np.int64), True, 0.0
    h, highspy = _highs(time_limit_s=time_limit_s)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n_c + n_d, n_d + 1
    lp.sense_ = highspy.ObjSense.kMaximize
    lp.col_cost_ = np.concatenate([np.zeros(n_c), w])
    lp.col_lower_ = np.zeros(n_c + n_d)
    lp.col_upper_ = np.ones(n_c + n_d)
    lp.row_lower_ = np.full(n_d + 1, -highspy.kHighsInf)
    lp.row_upper_ = np.concatenate([np.zeros(n_d), [float(k)]])
    # Row i: y_i - sum_{j in N(i)} x_j <= 0, the y_i entry last; final row: sum_j x_j <= k.
    lengths = np.diff(rows.indptr)
    starts = np.concatenate([[0], np.cumsum(lengths + 1)])
    index = np.empty(starts[-1] + n_c, dtype=np.int32)
    value = np.empty(starts[-1] + n_c)
    pos = np.arange(rows.indptr[-1]) + np.repeat(np.arange(n_d), lengths)
    index[pos], value[pos] = rows.indices, -1.0
    index[starts[1:] - 1], value[starts[1:] - 1] = n_c + np.arange(n_d), 1.0
    index[starts[-1]:], value[starts[-1]:] = np.arange(n_c), 1.0
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = np.concatenate([starts, [starts[-1] + n_c]]).astype(np.int32)
    lp.a_matrix_.index_ = index
    lp.a_matrix_.value_ = value
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = n_c + n_d, n_d + 1
    lp.integrality_ = [highspy.HighsVarType.kInteger] * n_c + [highspy.HighsVarType.kContinuous] * n_d
    h.passModel(lp)
    if start is not None and len(start):
        # A MIP start: HiGHS keeps the better of it and what it finds, so a time-limited run is never worse.
        x0 = np.zeros(n_c + n_d)
        x0[np.asarray(start, dtype=np.int64)] = 1.0
        x0[n_c:] = np.minimum(1.0, rows @ x0[:n_c])
        h.setSolution(n_c + n_d, np.arange(n_c + n_d, dtype=np.int32), x0)
    h.run()
    status = h.getModelStatus()
    info = h.getInfo()
    if info.primal_solution_status == 0:  # no feasible point found in the time limit
        return np.empty(0, dtype=np.int64), False, math.inf
    x = np.asarray(h.getSolution().col_value[:n_c])
    chosen = np.flatnonzero(x > 0.5)
    optimal = status == highspy.HighsModelStatus.kOptimal
    bound = float(info.objective_function_value) if optimal else float(info.mip_dual_bound)
    return chosen, optimal, bound


def solve_set_cover(matrix: sp.csr_matrix, *, time_limit_s: float = 60.0) -> tuple[np.ndarray, bool, float]:
    """
    Solve the set covering ILP with HiGHS: the fewest candidates reaching every row that any candidate reaches.

    Parameters
    ----------
    matrix
        (n_demand, n_candidates) sparse 0/1 reach matrix; rows with no candidate are ignored.
    time_limit_s
        HiGHS time limit in seconds.

    Returns
    -------
    chosen, optimal, bound
        Chosen candidate indices, whether optimality was proven, and a lower bound on the number of sites.
    """
    rows, _ = _merge_rows(sp.csr_matrix(matrix), np.ones(matrix.shape[0]))
    n_d, n_c = rows.shape
    if n_d == 0:
        return np.empty(0, dtype=np.int64), True, 0.0
    h, highspy = _highs(time_limit_s=time_limit_s)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n_c, n_d
    lp.sense_ = highspy.ObjSense.kMinimize
    lp.col_cost_ = np.ones(n_c)
    lp.col_lower_, lp.col_upper_ = np.zeros(n_c), np.ones(n_c)
    lp.row_lower_, lp.row_upper_ = np.ones(n_d), np.full(n_d, highspy.kHighsInf)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = rows.indptr.astype(np.int32)
    lp.a_matrix_.index_ = rows.indices.astype(np.int32)
    lp.a_matrix_.value_ = np.ones(len(rows.indices))
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = n_c, n_d
    lp.integrality_ = [highspy.HighsVarType.kInteger] * n_c
    h.passModel(lp)
    h.run()
    info = h.getInfo()
    if info.primal_solution_status == 0:
        return np.empty(0, dtype=np.int64), False, 0.0
    chosen = np.flatnonzero(np.asarray(h.getSolution().col_value) > 0.5)
    optimal = h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    return chosen, optimal, float(len(chosen)) if optimal else math.ceil(float(info.mip_dual_bound) - 1e-6)


def greedy_max_cover(matrix: sp.csr_matrix, weights: np.ndarray, k: int, *,
                     until_all: bool = False) -> tuple[np.ndarray, np.ndarray, float]:
    """
    Choose sites one at a time by largest marginal gain, re-evaluating gains lazily (Minoux's accelerated greedy).

    Parameters
    ----------
    matrix
        (n_demand, n_candidates) sparse 0/1 reach matrix.
    weights
        Demand weight per row.
    k
        Most sites to choose.
    until_all
        Keep choosing (beyond `k`) until every reachable row with positive weight is covered (greedy set cover).

    Returns
    -------
    chosen, gains, bound
        Chosen candidate indices in order, their marginal gains, and an upper bound on the best weight any `k`
        candidates cover: the smaller of ``greedy / (1 - 1/e)`` and ``greedy + sum of the k largest gains left``.
    """
    csr = sp.csr_matrix(matrix)
    csc = csr.tocsc()
    w = np.asarray(weights, dtype=float).copy()
    gains = np.asarray(csc.T @ w).ravel() if csr.shape[1] else np.empty(0)
    heap = [(-g, j) for j, g in enumerate(gains) if g > 0]
    heapq.heapify(heap)
    chosen: list[int] = []
    chosen_gains: list[float] = []
    remaining = w
    bound_topk = float(np.sort(gains)[::-1][:k].sum()) if len(gains) else 0.0
    limit = math.inf if until_all else k
    while heap and len(chosen) < limit:
        _, j = heapq.heappop(heap)
        rows = csc.indices[csc.indptr[j]:csc.indptr[j + 1]]
        fresh = float(remaining[rows].sum())
        if fresh <= 0:
            continue
        if heap and fresh < -heap[0][0] - 1e-12:  # stale: push back with its true gain
            heapq.heappush(heap, (-fresh, j))
            continue
        chosen.append(j)
        chosen_gains.append(fresh)
        remaining[rows] = 0.0
    value = float(sum(chosen_gains))
    left = np.asarray(csc.T @ remaining).ravel() if csr.shape[1] else np.empty(0)
    bound_final = value + float(np.sort(left)[::-1][:k].sum())
    bound = min(value / _ONE_MINUS_INV_E, bound_topk, bound_final) if k > 0 else 0.0
    return np.asarray(chosen, dtype=np.int64), np.asarray(chosen_gains), max(bound, value)


def _order_by_gain(matrix: sp.csr_matrix, weights: np.ndarray, chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Order a chosen set by successive marginal gain (the greedy order within the set)."""
    if len(chosen) == 0:
        return chosen, np.empty(0)
    sub = sp.csr_matrix(matrix)[:, chosen]
    order, gains, _ = greedy_max_cover(sub, weights, len(chosen), until_all=False)
    rest = [j for j in range(len(chosen)) if j not in set(order.tolist())]  # sites that add nothing new
    return chosen[np.concatenate([order, np.asarray(rest, dtype=np.int64)])], np.concatenate([gains,
                                                                                                np.zeros(len(rest))])


# --------------------------------------------------------------------------------------------------------------
# frames in, results out


def candidates_in_gaps(gaps: gpd.GeoDataFrame, *, spacing_m: float) -> gpd.GeoDataFrame:
    """
    Generate candidate sites on a square grid inside gap polygons (plus each gap's centre).

    Parameters
    ----------
    gaps
        Gap polygons in EPSG:4326 (``GapReport.gaps``).
    spacing_m
        Grid spacing in metres, in the gaps' local UTM CRS (half the radius is a good choice).

    Returns
    -------
    candidates
        EPSG:4326 points with ``id`` ``gap-1`` ... and ``name`` (the gap's rank).

    Raises
    ------
    BadRequestError
        If `spacing_m` is not positive or the grid would exceed `MAX_CANDIDATES` points.
    """
    if not math.isfinite(spacing_m) or spacing_m <= 0:
        msg = f"spacing_m must be a positive number of metres, got {spacing_m!r}."
        raise BadRequestError(msg)
    if len(gaps) == 0:
        return gpd.GeoDataFrame({"id": [], "name": []}, geometry=[], crs=geo.WGS84)
    metric = geo.to_metric(gaps)
    west, south, east, north = metric.total_bounds
    n_cells = ((east - west) / spacing_m + 1) * ((north - south) / spacing_m + 1)
    if n_cells > 20 * MAX_CANDIDATES:
        msg = (f"A {spacing_m:g} m grid over the gaps would have about {n_cells:,.0f} points; "
               "use a larger spacing.")
        raise BadRequestError(msg)
    gx, gy = np.meshgrid(np.arange(west + spacing_m / 2, east, spacing_m),
                         np.arange(south + spacing_m / 2, north, spacing_m))
    pts = shapely.points(gx.ravel(), gy.ravel())
    geoms = metric.geometry.values
    tree = shapely.STRtree(geoms)
    pt_idx, gap_idx = tree.query(pts, predicate="within")
    centres = shapely.point_on_surface(geoms)
    all_pts = np.concatenate([centres, pts[pt_idx]])
    owner = np.concatenate([np.arange(len(geoms)), gap_idx])
    if len(all_pts) > MAX_CANDIDATES:
        msg = f"{len(all_pts):,} candidates generated (more than {MAX_CANDIDATES:,}); use a larger spacing."
        raise BadRequestError(msg)
    rank = metric["rank"].to_numpy() if "rank" in metric.columns else np.arange(1, len(geoms) + 1)
    frame = gpd.GeoDataFrame({"id": [f"gap-{i}" for i in range(1, len(all_pts) + 1)],
                              "name": [f"gap {rank[o]}" for o in owner]}, geometry=all_pts, crs=metric.crs)
    return frame.to_crs(geo.WGS84)


@dataclass(frozen=True)
class _Problem:
    matrix: sp.csr_matrix
    weights: np.ndarray  # uncovered demand per demand point (0 if covered)
    total: float
    already: float
    unreachable: float
    cand_lon: np.ndarray
    cand_lat: np.ndarray
    cand_ids: np.ndarray
    cand_names: np.ndarray


def _build(demand: gpd.GeoDataFrame, candidates: gpd.GeoDataFrame, stations: gpd.GeoDataFrame | None, *,
           radius_m: float, weight_col: str | None) -> _Problem:
    if len(demand) == 0:
        msg = "Siting needs demand: give demand points or polygons with a weight column."
        raise EmptyInputError(msg)
    if len(candidates) == 0:
        msg = "Siting needs candidate sites (a file of host institutions, or points generated in the gaps)."
        raise EmptyInputError(msg)
    if len(candidates) > MAX_CANDIDATES:
        msg = f"{len(candidates):,} candidates is more than the {MAX_CANDIDATES:,} allowed; thin them first."
        raise BadRequestError(msg)
    geo.check_same_crs(demand, candidates)
    weights = kernel.demand_weights(demand, weight_col) if weight_col else np.ones(len(demand))
    d_lon, d_lat = kernel.lonlat(demand)
    c_lon, c_lat = kernel.lonlat(candidates)
    total = float(weights.sum())
    already = 0.0
    if stations is not None and len(stations):
        geo.check_same_crs(demand, stations)
        near = geo.GeodesicIndex(*kernel.lonlat(stations)).count_within(d_lon, d_lat, radius_m, at_most=1) > 0
        already = float(weights[near].sum())
        weights = np.where(near, 0.0, weights)
    matrix = cover_matrix(d_lon, d_lat, c_lon, c_lat, radius_m=radius_m)
    unreachable = float(weights[np.diff(matrix.indptr) == 0].sum())
    ids = (candidates["id"] if "id" in candidates.columns else candidates.index.to_series()).astype(str).to_numpy()
    names = candidates["name"].astype(str).to_numpy() if "name" in candidates.columns else ids
    return _Problem(matrix, weights, total, already, unreachable, c_lon, c_lat, ids, names)


def _choices(problem: _Problem, chosen: np.ndarray, gains: np.ndarray,
             clearance_m: np.ndarray | None = None) -> tuple[SiteChoice, ...]:
    uncovered = problem.total - problem.already
    cumulative = np.cumsum(gains)
    return tuple(SiteChoice(rank=i + 1, candidate_id=str(problem.cand_ids[j]), name=str(problem.cand_names[j]),
                            lon=round(float(problem.cand_lon[j]), 7), lat=round(float(problem.cand_lat[j]), 7),
                            gain=float(gains[i]), cumulative=float(cumulative[i]),
                            cumulative_pct=100.0 * float(cumulative[i]) / uncovered if uncovered > 0 else 0.0,
                            clearance_m=None if clearance_m is None else float(clearance_m[i]))
                 for i, j in enumerate(chosen))


def _check_method(method: str) -> None:
    if method not in ("auto", "ilp", "greedy"):
        msg = f"method must be 'auto', 'ilp' or 'greedy', got {method!r}."
        raise BadRequestError(msg)


def propose_sites(demand: gpd.GeoDataFrame, candidates: gpd.GeoDataFrame, *, k: int,
                  stations: gpd.GeoDataFrame | None = None, radius_m: float = DEFAULT_RADIUS_M,
                  weight_col: str | None = "weight", method: Method = "auto",
                  max_ilp_pairs: int = DEFAULT_MAX_ILP_PAIRS, time_limit_s: float = 60.0,
                  progress: Progress | None = None) -> SitingResult:
    """
    Choose `k` new sites among `candidates` that cover the most demand not yet within reach of a station (MCLP).

    Parameters
    ----------
    demand
        Demand points (polygons count at their representative point) with `weight_col`, any CRS shared with
        `candidates` and `stations`.
    candidates
        Candidate sites (points), with ``id`` and ``name`` when known.
    k
        Number of new sites, 1..`MAX_K`.
    stations
        Existing stations; demand within `radius_m` of one is already covered and stays so.
    radius_m
        Service radius in metres (geodesic straight-line distance).
    weight_col
        Demand weight column, or None to count every demand point as 1.
    method
        ``"ilp"`` (exact, HiGHS), ``"greedy"`` (lazy greedy with a bound), or ``"auto"``: the ILP up to
        `max_ilp_pairs` pairs, the greedy beyond.
    max_ilp_pairs
        Size limit of the ILP in ``"auto"`` mode.
    time_limit_s
        ILP time limit in seconds; on hitting it the best solution and HiGHS's bound are reported.
    progress
        Called with a stage name (``"pairs"``, ``"ilp"``, ``"greedy"``, ``"done"``), for a progress display.

    Returns
    -------
    result
        A `SitingResult` with the sites in order of marginal gain.

    Raises
    ------
    BadRequestError
        If `k`, `radius_m`, `method` or the candidate count is out of range.
    EmptyInputError
        If there is no demand or no candidate.
    CRSMismatchError
        If the inputs have different CRS.
    """
    radius_m = kernel.check_radius(radius_m)
    _check_method(method)
    if not isinstance(k, int | np.integer) or not 1 <= k <= MAX_K:
        msg = f"k must be a whole number of sites from 1 to {MAX_K}, got {k!r}."
        raise BadRequestError(msg)
    started = time.perf_counter()
    _say(progress, "pairs")
    problem = _build(demand, candidates, stations, radius_m=radius_m, weight_col=weight_col)
    n_pairs = int(problem.matrix.nnz)
    use_ilp = method == "ilp" or (method == "auto" and n_pairs <= max_ilp_pairs)
    notes = []
    chosen = np.empty(0, dtype=np.int64)
    optimal, bound, used = False, math.inf, "greedy"
    if use_ilp:
        _say(progress, "ilp")
        start, start_gains, greedy_bound = greedy_max_cover(problem.matrix, problem.weights, int(k))
        if method == "auto" and greedy_bound <= float(start_gains.sum()) * (1 + 1e-12):
            # The greedy's own bound already proves it optimal (typical of area demand in a large gap, where any k
            # disjoint discs are best); HiGHS would spend its time limit proving the same among symmetric ties.
            chosen, optimal, bound, used = start, True, greedy_bound, "greedy"
            notes.append("The greedy's upper bound equals its value, which proves it optimal; no ILP was needed.")
        else:
            chosen, optimal, bound = solve_max_cover(problem.matrix, problem.weights, int(k),
                                                     time_limit_s=time_limit_s, start=start)
            used = "ilp"
        bound = min(bound, greedy_bound)
        if not optimal:
            notes.append(f"The ILP stopped at its {time_limit_s:g} s time limit (started from the greedy's "
                         "solution); the bound is the better of HiGHS's and the greedy's.")
        ilp_value = float(problem.weights[np.asarray(problem.matrix[:, chosen].sum(axis=1)).ravel() > 0].sum())
        if not optimal and (len(chosen) == 0 or ilp_value < float(start_gains.sum())):
            notes.append("The greedy's sites cover more than the ILP found in time; they are reported.")
            use_ilp = False
    elif method == "auto":
        notes.append(f"{n_pairs:,} pairs is above the ILP limit of {max_ilp_pairs:,}; the lazy greedy answered.")
    greedy_covered = greedy_gap = None
    if use_ilp:
        chosen, gains = _order_by_gain(problem.matrix, problem.weights, chosen)
        greedy_covered = float(start_gains.sum())
        greedy_gap = 100.0 * (float(gains.sum()) - greedy_covered) / float(gains.sum()) if gains.sum() > 0 else 0.0
    else:
        _say(progress, "greedy")
        chosen, gains, greedy_bound = greedy_max_cover(problem.matrix, problem.weights, int(k))
        bound, used = min(bound, greedy_bound), "greedy"
    covered = float(gains.sum())
    if len(chosen) < k:
        notes.append(f"Only {len(chosen)} site(s) add coverage; the others would cover nothing new.")
    _say(progress, "done")
    uncovered_before = problem.total - problem.already
    bound = max(bound, covered)
    return SitingResult(
        problem="max-cover", method=used, optimal=bool(optimal or covered >= bound * (1 - 1e-12)), radius_m=radius_m,
        distance_model="straight-line", crs="EPSG:4326", k=int(k), n_demand=len(demand),
        n_candidates=len(candidates), n_pairs=n_pairs, total_demand=problem.total, already_covered=problem.already,
        uncovered_before=uncovered_before, covered_by_new=covered, uncovered_after=uncovered_before - covered,
        unreachable=problem.unreachable, upper_bound=bound,
        gap_pct=100.0 * (bound - covered) / bound if bound > 0 else 0.0,
        solve_time_s=time.perf_counter() - started, sites=_choices(problem, chosen, gains), notes=tuple(notes),
        greedy_covered=greedy_covered, greedy_gap_pct=greedy_gap)


def spread_sites(demand: gpd.GeoDataFrame, candidates: gpd.GeoDataFrame, *, k: int,
                 stations: gpd.GeoDataFrame | None = None, region: BaseGeometry | None = None,
                 radius_m: float = DEFAULT_RADIUS_M, weight_col: str | None = "weight",
                 demand_source: str = AREA_DEMAND_SOURCE, progress: Progress | None = None) -> SitingResult:
    """
    Choose `k` new sites deepest first: each the candidate farthest from every station, earlier site and edge.

    The rule for siting without demand data, where area gains tie (see the module docstring). Site ``i`` is the
    candidate with the largest clearance: the geodesic distance to the nearest existing station or site
    ``1..i-1``, or to the edge of `region` if that is nearer (the first candidate in `candidates` order on a tie;
    candidates that would reach no uncovered demand are skipped). So ``clearance_m`` never grows from one site to
    the next, and any two sites are at least the last site's ``clearance_m`` apart. The demand each site newly
    reaches is counted as in `propose_sites`.

    Parameters
    ----------
    demand
        Demand points with `weight_col` (the district's area grid of `area_demand`), any CRS shared with
        `candidates` and `stations`.
    candidates
        Candidate sites (points).
    k
        Number of new sites, 1..`MAX_K`.
    stations
        Existing stations; demand within `radius_m` of one is already covered.
    region
        The district, a WGS-84 geometry: clearance stops at its edge. None: no edge.
    radius_m
        Service radius in metres (geodesic straight-line distance), for the gains.
    weight_col
        Demand weight column, or None to count every point as 1.
    demand_source
        What the demand is, carried to `SitingResult.demand_source`.
    progress
        Called with a stage name, as in `propose_sites`.

    Returns
    -------
    result
        A `SitingResult` with ``method="deepest-first"``, ``optimal=False``, ``ties_broken_by=FARTHEST_FIRST``,
        the sites in choice order with ``clearance_m`` (metres), and ``upper_bound`` the lazy greedy's bound on
        the demand any `k` candidates reach.

    Raises
    ------
    BadRequestError, EmptyInputError, CRSMismatchError
        As `propose_sites`.
    """
    radius_m = kernel.check_radius(radius_m)
    if not isinstance(k, int | np.integer) or not 1 <= k <= MAX_K:
        msg = f"k must be a whole number of sites from 1 to {MAX_K}, got {k!r}."
        raise BadRequestError(msg)
    started = time.perf_counter()
    _say(progress, "pairs")
    problem = _build(demand, candidates, stations, radius_m=radius_m, weight_col=weight_col)
    _say(progress, "greedy")
    csc = problem.matrix.tocsc()
    useful = np.asarray(csc.T @ problem.weights).ravel() > 0
    clear = np.full(len(problem.cand_lon), math.inf)
    if stations is not None and len(stations):
        _, dist = geo.GeodesicIndex(*kernel.lonlat(stations)).nearest_many(problem.cand_lon, problem.cand_lat)
        clear = np.asarray(dist, dtype=float).reshape(len(problem.cand_lon), -1)[:, 0]
    if region is not None:
        edge = geo.distance_outside_m(shapely.make_valid(region).boundary, problem.cand_lon, problem.cand_lat)
        clear = np.minimum(clear, edge)
    remaining = problem.weights.copy()
    chosen: list[int] = []
    gains: list[float] = []
    clearances: list[float] = []
    score = np.where(useful, clear, -1.0)
    while len(chosen) < k and score.max(initial=-1.0) >= 0:
        j = int(np.argmax(score))  # the first of equal maxima
        rows = csc.indices[csc.indptr[j]:csc.indptr[j + 1]]
        chosen.append(j)
        clearances.append(float(clear[j]))
        gains.append(float(remaining[rows].sum()))
        remaining[rows] = 0.0
        to_j = np.asarray(geo.geodesic_distance_m(problem.cand_lon, problem.cand_lat,
                                                  problem.cand_lon[j], problem.cand_lat[j]), dtype=float)
        clear = np.minimum(clear, to_j)
        score = np.where(useful, clear, -1.0)
        score[chosen] = -1.0
    _, _, bound = greedy_max_cover(problem.matrix, problem.weights, int(k))
    covered = float(sum(gains))
    bound = max(bound, covered)
    uncovered_before = problem.total - problem.already
    notes = [(f"No demand data: sites are chosen deepest first (each the candidate farthest from every station, "
             f"earlier site and the district edge), not by area gain, where full circles tie; gains are the area "
             f"newly reached, and no choice is claimed optimal (any {int(k)} candidates reach at most "
             f"{bound:,.0f}).")]
    if len(chosen) < k:
        notes.append(f"Only {len(chosen)} site(s) add coverage; the others would cover nothing new.")
    _say(progress, "done")
    return SitingResult(
        problem="max-cover", method="deepest-first", optimal=False, radius_m=radius_m,
        distance_model="straight-line", crs="EPSG:4326", k=int(k), n_demand=len(demand),
        n_candidates=len(candidates), n_pairs=int(problem.matrix.nnz), total_demand=problem.total,
        already_covered=problem.already, uncovered_before=uncovered_before, covered_by_new=covered,
        uncovered_after=uncovered_before - covered, unreachable=problem.unreachable, upper_bound=bound,
        gap_pct=100.0 * (bound - covered) / bound if bound > 0 else 0.0, solve_time_s=time.perf_counter() - started,
        sites=_choices(problem, np.asarray(chosen, dtype=np.int64), np.asarray(gains), np.asarray(clearances)),
        notes=tuple(notes), demand_source=demand_source, ties_broken_by=FARTHEST_FIRST)


def cover_all(demand: gpd.GeoDataFrame, candidates: gpd.GeoDataFrame, *, stations: gpd.GeoDataFrame | None = None,
              radius_m: float = DEFAULT_RADIUS_M, weight_col: str | None = "weight", method: Method = "auto",
              max_ilp_pairs: int = DEFAULT_MAX_ILP_PAIRS, time_limit_s: float = 60.0,
              progress: Progress | None = None) -> SitingResult:
    """
    Find the fewest new sites among `candidates` that reach all uncovered demand any candidate can reach.

    Parameters
    ----------
    demand, candidates, stations, radius_m, weight_col, method, max_ilp_pairs, time_limit_s, progress
        As `propose_sites`; demand with weight 0 need not be covered.

    Returns
    -------
    result
        A `SitingResult` with ``problem="set-cover"``; ``k`` is the number of sites, ``upper_bound`` holds a
        lower bound on the number of sites and ``gap_pct`` the distance to it. Demand no candidate reaches is
        reported in ``unreachable``.
    """
    radius_m = kernel.check_radius(radius_m)
    _check_method(method)
    started = time.perf_counter()
    _say(progress, "pairs")
    problem = _build(demand, candidates, stations, radius_m=radius_m, weight_col=weight_col)
    n_pairs = int(problem.matrix.nnz)
    positive = problem.matrix[problem.weights > 0]  # demand already covered (weight 0) need not be
    use_ilp = method == "ilp" or (method == "auto" and n_pairs <= max_ilp_pairs)
    notes = []
    optimal, used = False, "greedy"
    lower = 0.0
    if use_ilp:
        _say(progress, "ilp")
        chosen, optimal, lower = solve_set_cover(sp.csr_matrix(positive), time_limit_s=time_limit_s)
        used = "ilp"
        if not optimal:
            notes.append(f"The ILP stopped at its {time_limit_s:g} s time limit.")
    if not use_ilp or (len(chosen) == 0 and not optimal):
        _say(progress, "greedy")
        chosen, _, _ = greedy_max_cover(problem.matrix, problem.weights, 1, until_all=True)
        used = "greedy"
        # Greedy set cover is within H(largest set) of the optimum (Chvatal 1979).
        sizes = np.diff(sp.csc_matrix(positive).indptr)
        harmonic = float(np.sum(1.0 / np.arange(1, max(int(sizes.max()) if len(sizes) else 1, 1) + 1)))
        lower = max(lower, math.ceil(len(chosen) / harmonic - 1e-9))
        notes.append("Greedy set cover: within a factor H(largest candidate reach) of the fewest sites.")
    chosen, gains = _order_by_gain(problem.matrix, problem.weights, chosen)
    _say(progress, "done")
    uncovered_before = problem.total - problem.already
    covered = float(gains.sum())
    n_sites = len(chosen)
    return SitingResult(
        problem="set-cover", method=used, optimal=bool(optimal and used == "ilp"), radius_m=radius_m,
        distance_model="straight-line", crs="EPSG:4326", k=n_sites, n_demand=len(demand),
        n_candidates=len(candidates), n_pairs=n_pairs, total_demand=problem.total, already_covered=problem.already,
        uncovered_before=uncovered_before, covered_by_new=covered, uncovered_after=uncovered_before - covered,
        unreachable=problem.unreachable, upper_bound=float(lower),
        gap_pct=100.0 * (n_sites - lower) / n_sites if n_sites else 0.0,
        solve_time_s=time.perf_counter() - started, sites=_choices(problem, chosen, gains), notes=tuple(notes))


def _say(progress: Progress | None, stage: str) -> None:
    if progress is not None:
        progress(stage)


def area_demand(region: BaseGeometry, *, spacing_m: float) -> gpd.GeoDataFrame:
    """
    Return a square grid of points over a region, each weighing the area of its cell: demand "per square metre".

    Parameters
    ----------
    region
        WGS-84 (Multi)Polygon.
    spacing_m
        Grid spacing in metres in the region's local UTM CRS.

    Returns
    -------
    demand
        EPSG:4326 points with ``weight`` in square metres (``spacing_m ** 2``) and ``id`` ``cell-<n>``.

    Raises
    ------
    BadRequestError
        If `spacing_m` is not positive or the grid would exceed 2,000,000 points.
    """
    if not math.isfinite(spacing_m) or spacing_m <= 0:
        msg = f"spacing_m must be a positive number of metres, got {spacing_m!r}."
        raise BadRequestError(msg)
    series = gpd.GeoSeries([region], crs=geo.WGS84)
    metric = geo.to_metric(series)
    west, south, east, north = metric.total_bounds
    n_cells = ((east - west) / spacing_m + 1) * ((north - south) / spacing_m + 1)
    if n_cells > 2_000_000:
        msg = f"A {spacing_m:g} m demand grid over this region would have {n_cells:,.0f} points; use a larger spacing."
        raise BadRequestError(msg)
    gx, gy = np.meshgrid(np.arange(west + spacing_m / 2, east, spacing_m),
                         np.arange(south + spacing_m / 2, north, spacing_m))
    x, y = gx.ravel(), gy.ravel()
    geom = metric.iloc[0]
    shapely.prepare(geom)
    inside = shapely.contains_xy(geom, x, y)
    points = gpd.GeoSeries(shapely.points(x[inside], y[inside]), crs=metric.crs).to_crs(geo.WGS84)
    return gpd.GeoDataFrame({"id": [f"cell-{i}" for i in range(1, int(inside.sum()) + 1)],
                             "weight": float(spacing_m) ** 2}, geometry=points.values, crs=geo.WGS84)


def plan_sites(stations: gpd.GeoDataFrame, region: BaseGeometry, *, k: int | None,
               radius_m: float = DEFAULT_RADIUS_M, demand: gpd.GeoDataFrame | None = None,
               weight_col: str | None = "weight", candidates: gpd.GeoDataFrame | None = None,
               when: datetime | str | None = None, candidate_spacing_m: float | None = None,
               demand_spacing_m: float | None = None, method: Method = "auto", time_limit_s: float = 60.0,
               max_ilp_pairs: int = DEFAULT_MAX_ILP_PAIRS, progress: Progress | None = None,
               demand_source: str | None = None) -> SitingResult:
    """
    Propose new stations for a district: `k` best sites, or (``k=None``) the fewest that reach all demand.

    The district planner's defaults: demand, when not given, is the district's area (a grid of points every
    `demand_spacing_m`, each weighing its cell's square metres); candidates, when not given, are points every
    `candidate_spacing_m` inside the coverage gaps. Existing stations (in service, open at `when` if given) keep
    their coverage. Without demand, area gains tie, so the `k` sites are chosen deepest first (`spread_sites`),
    not by an arbitrary one of the tied optima; the fewest sites (``k=None``) are still a set cover of the area.

    Parameters
    ----------
    stations
        Existing stations, EPSG:4326.
    region
        The district, a WGS-84 geometry; demand and generated candidates are kept inside it.
    k
        Number of new sites (max-cover), or None for the fewest sites covering all demand (set-cover).
    radius_m
        Service radius in metres.
    demand, weight_col
        Demand layer (EPSG:4326) and its weight column.
    candidates
        Candidate sites, EPSG:4326 points (host institutions). Default: generated in the gaps.
    when
        Count only the existing stations open at this time.
    candidate_spacing_m, demand_spacing_m
        Grid spacings in metres; defaults half and a quarter of `radius_m`.
    method, time_limit_s, max_ilp_pairs, progress
        As `propose_sites` (`method` and the ILP limits do not apply to deepest-first siting).
    demand_source
        What `demand` is, for the result's ``demand_source`` (e.g. ``"demand file hubs.csv"``); default
        ``"demand layer"``, and `AREA_DEMAND_SOURCE` when `demand` is None.

    Returns
    -------
    result
        The `SitingResult` (straight-line distance, metres, EPSG:4326), saying its ``demand_source`` and, for
        deepest-first siting, ``ties_broken_by``.

    Raises
    ------
    BadRequestError, EmptyInputError, CRSMismatchError
        As `propose_sites`; EmptyInputError also when the district has no gap to put a generated candidate in.
    """
    from stationmap.analysis.coverage import select_in_service
    from stationmap.analysis.gaps import find_gaps

    radius_m = kernel.check_radius(radius_m)
    used = select_in_service(stations, when=when)
    notes: list[str] = []
    if demand is None:
        spacing = demand_spacing_m or radius_m / 4
        demand = area_demand(region, spacing_m=spacing)
        weight_col = "weight"
        notes.append(f"No demand data: demand is the district's area on a {spacing:g} m grid, so gains are "
                     "square metres.")
        source = AREA_DEMAND_SOURCE
    else:
        geo.check_same_crs(stations, demand)
        d_lon, d_lat = kernel.lonlat(demand)
        prepared = shapely.make_valid(region)
        shapely.prepare(prepared)
        demand = demand[shapely.contains_xy(prepared, d_lon, d_lat)]
        source = demand_source or "demand layer"
    if candidates is None:
        _say(progress, "gaps")
        gaps = find_gaps(used, region, radius_m=radius_m)
        if gaps.n_gaps == 0:
            msg = "The district has no coverage gap to place a new station in; give candidate sites instead."
            raise EmptyInputError(msg)
        spacing = candidate_spacing_m or radius_m / 2
        candidates = candidates_in_gaps(gaps.gaps, spacing_m=spacing)
        notes.append(f"Candidates: {len(candidates):,} points every {spacing:g} m inside the {gaps.n_gaps} gap(s).")
    options = {"stations": used, "radius_m": radius_m, "weight_col": weight_col, "method": method,
               "time_limit_s": time_limit_s, "max_ilp_pairs": max_ilp_pairs, "progress": progress}
    if k is None:
        result = cover_all(demand, candidates, **options)
    elif source == AREA_DEMAND_SOURCE:
        result = spread_sites(demand, candidates, k=k, stations=used, region=region, radius_m=radius_m,
                              weight_col=weight_col, demand_source=source, progress=progress)
    else:
        result = propose_sites(demand, candidates, k=k, **options)
    return replace(result, notes=(*notes, *result.notes), demand_source=source)
