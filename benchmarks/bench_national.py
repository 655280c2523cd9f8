"""Benchmark national coverage on Dask (`stationmap.analysis.national`) against the single-machine functions.

A synthetic national population grid (a tiled, compressed GeoTIFF in EPSG:4326 over China's bounding box, 73-135 E,
18-54 N: a rural background plus a peak at every city of `synthetic.CITIES`) is written once per size; the
200,000-station synthetic national set (`synthetic.make_national`) is the stations. Each case runs in a fresh
subprocess so its peak memory is its own; a local cluster's workers are fresh processes too, and each reports its
own resident memory, sampled every 0.1 s by a thread in it (a worker's ``ru_maxrss`` would include its
parent's). The machine's load average is printed before and after each case.

    python benchmarks/bench_national.py grid --cells 1e7 -o /tmp/national-1e7.tif
    python benchmarks/bench_national.py dask --grid /tmp/national-1e7.tif --workers 2
    python benchmarks/bench_national.py single --grid /tmp/national-1e7.tif    # demand_coverage, all in memory
    python benchmarks/bench_national.py check --grid /tmp/national-1e7.tif     # the figures against the single machine
    python benchmarks/bench_national.py all --cells 1e7 1e8 --repeat 2         # the plan behind docs/national.md
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

__all__ = ["write_grid"]

RADIUS_M = 1000.0
N_STATIONS = 200_000
BOUNDS = (73.0, 18.0, 135.0, 54.0)  # west, south, east, north: China's bounding box, WGS-84


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def _rss_now_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return float(line.split()[1]) / 1024.0
    return float("nan")


def _start_sampler(dask_worker: Any) -> float:
    """Sample this worker's resident memory every 0.1 s in a thread (``ru_maxrss`` would include the parent's)."""
    import threading

    state = {"peak": _rss_now_mb(), "start": _rss_now_mb()}

    def sample() -> None:
        while True:
            state["peak"] = max(state["peak"], _rss_now_mb())
            time.sleep(0.1)

    threading.Thread(target=sample, daemon=True).start()
    dask_worker.bench_memory = state
    return state["start"]


def _read_sampler(dask_worker: Any) -> float:
    return float(dask_worker.bench_memory["peak"])


def _load() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def write_grid(path: Path, n_cells: float, *, seed: int = 0) -> dict[str, Any]:
    """
    Write a synthetic population grid of about `n_cells` cells over China's bounding box.

    Parameters
    ----------
    path
        The GeoTIFF to write (EPSG:4326, float32, 256 x 256 blocks, DEFLATE).
    n_cells
        Cells wanted; square cells of side sqrt(area / n_cells) degrees.
    seed
        Seed of the background noise.

    Returns
    -------
    figures
        Width, height, cell size in degrees, total people and seconds taken.
    """
    import rasterio
    from rasterio.transform import Affine
    from rasterio.windows import Window
    from synthetic import CITIES

    t0 = time.perf_counter()
    west, south, east, north = BOUNDS
    cell = math.sqrt((east - west) * (north - south) / float(n_cells))
    width, height = round((east - west) / cell), round((north - south) / cell)
    cell_x, cell_y = (east - west) / width, (north - south) / height
    rng = np.random.default_rng(seed)
    city_lon = np.array([c[1] for c in CITIES])
    city_lat = np.array([c[2] for c in CITIES])
    city_w = np.array([c[3] for c in CITIES], dtype=float)
    sigma_deg = 0.08 + 0.02 * np.sqrt(city_w)  # about 10-20 km
    # People per square kilometre: a city peak of ~20,000 per km² at its centre, a rural 50 per km² around.
    km2 = (cell_x * 111.0) * (cell_y * 111.0) * 0.8
    profile = {"driver": "GTiff", "width": width, "height": height, "count": 1, "dtype": "float32",
               "crs": "EPSG:4326", "transform": Affine(cell_x, 0.0, west, 0.0, -cell_y, north), "tiled": True,
               "blockxsize": 256, "blockysize": 256, "compress": "deflate", "nodata": -1.0, "BIGTIFF": "IF_SAFER"}
    total = 0.0
    lon = west + (np.arange(width) + 0.5) * cell_x
    with rasterio.open(path, "w", **profile) as dst:
        for row0 in range(0, height, 512):
            rows = min(512, height - row0)
            lat = north - (row0 + np.arange(rows) + 0.5) * cell_y
            density = rng.lognormal(np.log(50.0), 1.0, size=(rows, width)).astype("float32")
            near = np.flatnonzero(np.abs(city_lat - lat.mean()) < 5 * sigma_deg + rows * cell_y)
            for k in near:
                cols = np.flatnonzero(np.abs(lon - city_lon[k]) < 5 * sigma_deg[k])
                if not len(cols):
                    continue
                d2 = (lon[cols][None, :] - city_lon[k]) ** 2 + (lat[:, None] - city_lat[k]) ** 2
                density[:, cols] += (20_000.0 * np.exp(-d2 / (2 * sigma_deg[k] ** 2))).astype("float32")
            people = density * km2
            total += float(people.sum(dtype=float))
            dst.write(people, 1, window=Window(0, row0, width, rows))
    return {"path": str(path), "width": width, "height": height, "cells": width * height,
            "cell_deg": round(cell_x, 6), "people": round(total), "bytes": path.stat().st_size,
            "seconds": round(time.perf_counter() - t0, 1)}


def _stations() -> Any:
    from synthetic import make_national

    return make_national(N_STATIONS, seed=0)


def _units() -> list[Any]:
    from stationmap.analysis.national import AreaUnit
    from stationmap.config import Settings
    from stationmap.districts import load_district
    from stationmap.gazetteer import cnmaps_gazetteer

    settings = Settings.from_env()
    gazetteer = cnmaps_gazetteer()
    units = []
    for province in gazetteer.divisions("province"):
        geom = load_district(province.adcode, data_dir=settings.data_dir, cache_dir=settings.cache_dir).geometry
        units.append(AreaUnit(province.adcode, province.name, "province", geom, whole=True))
        units += [AreaUnit(c.adcode, c.name, "county", load_district(c.adcode, data_dir=settings.data_dir,
                                                                     cache_dir=settings.cache_dir).geometry,
                           c.province) for c in gazetteer.counties(province)]
    return units


def run_dask(grid: Path, workers: int, *, nation: bool = True) -> dict[str, Any]:
    """National coverage of the 200,000 stations and the grid on a local cluster of `workers` processes."""
    from stationmap.analysis.national import national_coverage, open_client
    from stationmap.demand_chunks import open_raster_demand

    stations = _stations()
    units = _units() if nation else []
    source = open_raster_demand(grid)
    t0 = time.perf_counter()
    with open_client("local", workers=workers) as client:
        t_start = time.perf_counter() - t0
        worker_start = client.run(_start_sampler)
        result = national_coverage(stations, units, client=client, radius_m=RADIUS_M, demand=source)
        worker_peak = client.run(_read_sampler)
    seconds = time.perf_counter() - t0
    report = result.whole if nation else result.extent
    demand = report.demand
    return {"case": "dask", "workers": workers, "cells": source.n_cells, "districts": len(units),
            "tiles": result.n_tiles, "seconds": round(seconds, 1), "cluster_start_s": round(t_start, 1),
            "worker_start_mb": sorted(round(v) for v in worker_start.values()),
            "worker_peak_mb": sorted(round(v) for v in worker_peak.values()), "client_peak_mb": round(_peak_mb()),
            "covered_km2": round(report.covered_area_m2 / 1e6, 3),
            "twice_km2": round(report.covered_twice_area_m2 / 1e6, 3),
            "demand_cells": demand.n_features if demand else None,
            "demand_pct": round(demand.pct_covered, 4) if demand else None,
            "demand_pct_twice": round(demand.pct_covered_twice, 4) if demand else None}


def run_single(grid: Path) -> dict[str, Any]:
    """`demand_coverage` and `coverage_report` in this process, the grid loaded whole (`load_demand`)."""
    from stationmap.analysis.coverage import coverage_report, demand_coverage, select_in_service
    from stationmap.demand import load_demand

    stations = _stations()
    t0 = time.perf_counter()
    cells = load_demand(grid)
    t_read = time.perf_counter() - t0
    used = select_in_service(stations)
    demand = demand_coverage(used, cells, radius_m=RADIUS_M)
    t_demand = time.perf_counter() - t0
    area = coverage_report(stations, radius_m=RADIUS_M)
    seconds = time.perf_counter() - t0
    return {"case": "single", "cells": len(cells), "seconds": round(seconds, 1), "read_s": round(t_read, 1),
            "demand_s": round(t_demand - t_read, 1), "area_s": round(seconds - t_demand, 1),
            "peak_mb": round(_peak_mb()), "covered_km2": round(area.covered_area_m2 / 1e6, 3),
            "twice_km2": round(area.covered_twice_area_m2 / 1e6, 3), "n_used": area.n_used,
            "demand_cells": demand.n_features, "demand_pct": round(demand.pct_covered, 4),
            "demand_pct_twice": round(demand.pct_covered_twice, 4)}


def run_check(grid: Path) -> dict[str, Any]:
    """The Dask figures without districts against the single machine's, on the same stations and grid."""
    dask = run_dask(grid, 2, nation=False)
    single = run_single(grid)
    return {"case": "check", "dask": dask, "single": single,
            "covered_rel_diff": abs(dask["covered_km2"] / single["covered_km2"] - 1),
            "twice_rel_diff": abs(dask["twice_km2"] / single["twice_km2"] - 1),
            "demand_cells_equal": dask["demand_cells"] == single["demand_cells"],
            "demand_pct_diff": abs(dask["demand_pct"] - single["demand_pct"])}


def _subprocess(args: list[str]) -> dict[str, Any]:
    """Run one case in a fresh interpreter, printing the load average around it."""
    before = _load()
    out = subprocess.run([sys.executable, __file__, *args, "--json"], check=True, capture_output=True, text=True)
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    figures.update({"load_before": before, "load_after": _load()})
    print(json.dumps(figures, ensure_ascii=False), flush=True)
    return figures


def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["grid", "dask", "single", "check", "all"])
    parser.add_argument("--cells", type=float, nargs="+", default=[1e7])
    parser.add_argument("--grid", type=Path)
    parser.add_argument("-o", "--output", type=Path)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--single-max-cells", type=float, default=1e7,
                        help="Largest grid the single-machine run loads whole.")
    parser.add_argument("--extent", action="store_true",
                        help="dask: no districts, the same work as the single-machine run (all cells, no clipping).")
    parser.add_argument("--json", action="store_true", help="Print only the figures (one JSON line).")
    args = parser.parse_args()
    if args.what == "grid":
        print(json.dumps(write_grid(args.output, args.cells[0])))
    elif args.what == "dask":
        print(json.dumps(run_dask(args.grid, args.workers[0], nation=not args.extent), ensure_ascii=False))
    elif args.what == "single":
        print(json.dumps(run_single(args.grid), ensure_ascii=False))
    elif args.what == "check":
        print(json.dumps(run_check(args.grid), ensure_ascii=False))
    else:
        folder = args.output or Path("/tmp")
        for cells in args.cells:
            grid = folder / f"national-{cells:.0e}.tif"
            if not grid.is_file():
                print(json.dumps(write_grid(grid, cells)), flush=True)
            for _ in range(args.repeat):
                for workers in args.workers:
                    _subprocess(["dask", "--grid", str(grid), "--workers", str(workers)])
                if cells <= args.single_max_cells:
                    _subprocess(["single", "--grid", str(grid)])


if __name__ == "__main__":
    _main()
