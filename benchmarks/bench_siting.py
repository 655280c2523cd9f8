"""Benchmark siting: exact MCLP (sparse HiGHS model) and lazy greedy, next to spopt's dense model.

Demand points and candidate sites are scattered around a city (WGS-84), 1,000 m radius. Each case runs in a fresh
subprocess so its peak memory (``ru_maxrss``) is its own.

    python benchmarks/bench_siting.py                 # 2,000 x 500 and 10,000 x 1,000, spopt at 2,000 x 500
    python benchmarks/bench_siting.py --spopt-large   # also spopt at 10,000 x 1,000 (slow: about a minute)
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import subprocess
import sys
import time

import numpy as np

__all__ = ["make_instance", "run_case"]

RADIUS_M = 1000.0


def make_instance(n_demand: int, n_cand: int, *, seed: int = 0):
    """Demand and candidates in a 30 x 30 km city around Xi'an, demand denser towards the centre."""
    import geopandas as gpd

    rng = np.random.default_rng(seed)
    d_lon = 108.94 + rng.normal(0, 0.08, n_demand)
    d_lat = 34.34 + rng.normal(0, 0.07, n_demand)
    c_lon = 108.94 + rng.uniform(-0.17, 0.17, n_cand)
    c_lat = 34.34 + rng.uniform(-0.14, 0.14, n_cand)
    demand = gpd.GeoDataFrame({"weight": rng.integers(1, 100, n_demand).astype(float)},
                              geometry=gpd.points_from_xy(d_lon, d_lat), crs=4326)
    candidates = gpd.GeoDataFrame({"id": [f"c{i}" for i in range(n_cand)]}, geometry=gpd.points_from_xy(c_lon, c_lat),
                                  crs=4326)
    return demand, candidates


def run_case(case: str, n_demand: int, n_cand: int, k: int, radius_m: float = RADIUS_M) -> dict:
    """Run one case in this process and return its figures."""
    from stationmap.analysis.siting import propose_sites

    demand, candidates = make_instance(n_demand, n_cand)
    started = time.perf_counter()
    out: dict = {"case": case, "n_demand": n_demand, "n_candidates": n_cand, "k": k, "radius_m": radius_m}
    if case in ("ilp", "greedy"):
        result = propose_sites(demand, candidates, k=k, radius_m=radius_m, method=case)
        out |= {"covered": result.covered_by_new, "optimal": result.optimal, "bound": result.upper_bound,
                "gap_pct": result.gap_pct, "pairs": result.n_pairs}
    elif case == "spopt":
        import warnings

        import pulp
        from spopt.locate import MCLP

        from stationmap import geo

        # The dense way: the full demand x candidate distance matrix, then spopt's model (a constraint per pair).
        d_lon, d_lat = demand.geometry.x.to_numpy(), demand.geometry.y.to_numpy()
        c_lon, c_lat = candidates.geometry.x.to_numpy(), candidates.geometry.y.to_numpy()
        cost = geo.geodesic_distance_m(d_lon[:, None], d_lat[:, None], c_lon[None, :], c_lat[None, :])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = MCLP.from_cost_matrix(cost, demand["weight"].to_numpy(), radius_m, p_facilities=k)
            built = time.perf_counter() - started
            model = model.solve(pulp.HiGHS(msg=False))
        out |= {"covered": float(model.problem.objective.value()), "build_s": built}
    else:
        raise SystemExit(f"unknown case {case}")
    out["seconds"] = time.perf_counter() - started
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return out


def _spawn(case: str, n_demand: int, n_cand: int, k: int, radius_m: float) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--case", case, "--n-demand", str(n_demand), "--n-cand",
                           str(n_cand), "--k", str(k), "--radius-m", str(radius_m)],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spopt-large", action="store_true", help="also run spopt at 10,000 x 1,000")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--n-demand", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--n-cand", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--k", type=int, default=20, help="sites to choose (default 20)")
    parser.add_argument("--radius-m", type=float, default=RADIUS_M, help="service radius (default 1000)")
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, args.n_demand, args.n_cand, args.k, args.radius_m)))
        return
    plan = [("ilp", 2000, 500), ("greedy", 2000, 500), ("spopt", 2000, 500),
            ("ilp", 10_000, 1000), ("greedy", 10_000, 1000)]
    if args.spopt_large:
        plan.append(("spopt", 10_000, 1000))
    if importlib.util.find_spec("spopt") is None or importlib.util.find_spec("pulp") is None:
        print("spopt cases skipped: spopt or pulp is not installed", flush=True)
        plan = [step for step in plan if step[0] != "spopt"]
    rows = []
    for case, n_demand, n_cand in plan:
        rows.append(_spawn(case, n_demand, n_cand, args.k, args.radius_m))
        print(json.dumps(rows[-1]), flush=True)
    print()
    print(f"{'case':<7} {'demand':>7} {'cands':>6} {'seconds':>8} {'peak MB':>8} {'covered':>10}  notes")
    for r in rows:
        notes = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()
                 if k in {"optimal", "bound", "gap_pct", "pairs", "build_s"}}
        print(f"{r['case']:<7} {r['n_demand']:>7,} {r['n_candidates']:>6,} {r['seconds']:>8.2f} {r['peak_mb']:>8.0f} "
              f"{r['covered']:>10,.0f}  {notes}")
    by = {(r["case"], r["n_demand"]): r for r in rows}
    ilp, greedy, spopt = by[("ilp", 2000)], by[("greedy", 2000)], by.get(("spopt", 2000))
    print()
    versus = "" if spopt is None else (
        f" vs spopt {spopt['seconds']:.2f} s ({spopt['seconds'] / ilp['seconds']:.1f}x); "
        f"same optimum: {abs(ilp['covered'] - spopt['covered']) < 1e-6}")
    print(f"2,000 x 500: sparse ILP {ilp['seconds']:.2f} s{versus}; "
          f"greedy {greedy['seconds']:.3f} s, {100 * (ilp['covered'] - greedy['covered']) / ilp['covered']:.2f}% below "
          f"the optimum (its own bound allowed {greedy['gap_pct']:.2f}%)")


if __name__ == "__main__":
    _main()
