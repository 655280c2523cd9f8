"""Benchmark nearest-station queries: the function, the Flask app in process, waitress, and the map page.

Runs on the bundled data and on the synthetic national set (``synthetic.make_national``, seeded), and prints
every figure next to geopandas ``sjoin_nearest`` doing the same queries::

    .venv/bin/python benchmarks/bench_nearest.py              # 200,000 stations, everything
    .venv/bin/python benchmarks/bench_nearest.py --n 50000 --skip-page

Query points are station positions moved by a few kilometres (workers are where stations are). ``sjoin_nearest``
gets the same points in EPSG:4326, as a caller without a national metric CRS would have to use it; its answers
are planar in degrees, so the script also reports how often they pick a different station than the geodesic.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

from synthetic import make_national

from stationmap import geo
from stationmap.analysis.nearest import NearestIndex
from stationmap.config import Settings
from stationmap.stations import load_stations

__all__ = ["main"]


def _bundled() -> gpd.GeoDataFrame:
    frames = [load_stations(p) for p in sorted((ROOT / "data" / "stations").glob("*.geojson"))]
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=geo.WGS84)


def _query_points(stations: gpd.GeoDataFrame, n: int, *, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(stations), n)
    lon, lat, _ = geo.GEOD.fwd(stations.geometry.x.to_numpy()[pick], stations.geometry.y.to_numpy()[pick],
                               rng.uniform(0, 360, n), np.abs(rng.normal(0, 2000, n)))
    return np.asarray(lon), np.asarray(lat)


def _ms(samples: list[float]) -> str:
    arr = np.array(samples) * 1000
    return f"p50 {np.percentile(arr, 50):.3f} ms, p95 {np.percentile(arr, 95):.3f} ms, mean {arr.mean():.3f} ms"


def _sjoin_one(stations: gpd.GeoDataFrame, lon: float, lat: float) -> int:
    """One-row ``sjoin_nearest``; `stations` keeps its spatial index between calls, as a server's frame would."""
    point = gpd.GeoDataFrame(geometry=gpd.points_from_xy([lon], [lat]), crs=geo.WGS84)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Geometry is in a geographic CRS": exactly the point being made
        joined = gpd.sjoin_nearest(point, stations, how="left")
    return int(joined["index_right"].iloc[0])


def bench_function(name: str, stations: gpd.GeoDataFrame, *, singles: int, bulk: int) -> dict[str, float]:
    """Time single and bulk queries of the index against sjoin_nearest; print and return the figures."""
    print(f"\n== {name}: {len(stations):,} stations ==")
    t0 = time.perf_counter()
    index = NearestIndex(stations)
    print(f"index build: {time.perf_counter() - t0:.3f} s")
    lon, lat = _query_points(stations, singles, seed=1)
    for i in range(20):  # warm up
        index.query(lon[i], lat[i], k=1)
    geometry_only = stations[["geometry"]]
    _ = geometry_only.sindex  # built once, outside the timing, as for our index
    ours, theirs, differ = [], [], 0
    for x, y in zip(lon, lat, strict=True):
        t = time.perf_counter()
        found = index.query(x, y, k=1).stations[0].row
        ours.append(time.perf_counter() - t)
    n_sjoin = min(singles, 200)
    for x, y in zip(lon[:n_sjoin], lat[:n_sjoin], strict=True):
        t = time.perf_counter()
        row = _sjoin_one(geometry_only, x, y)
        theirs.append(time.perf_counter() - t)
        found = index.query(x, y, k=1).stations[0]
        if row != found.row:
            _, _, d_them = geo.GEOD.inv(x, y, stations.geometry.x.iloc[row], stations.geometry.y.iloc[row])
            differ += d_them > found.distance_m + 1e-6
    single_ratio = np.median(theirs) / np.median(ours)
    print(f"single query, k=1 (geodesic)      : {_ms(ours)}")
    print(f"single query, sjoin_nearest       : {_ms(theirs)}  ({n_sjoin} queries)")
    print(f"  -> nearest is {single_ratio:.0f}x faster (median); sjoin_nearest in degrees picked a farther "
          f"station in {differ} of {n_sjoin} queries")
    filtered = []
    for x, y in zip(lon[:500], lat[:500], strict=True):
        t = time.perf_counter()
        index.query(x, y, k=10, amenities=("drinking_water", "meal_heating"), open_at="05:10")
        filtered.append(time.perf_counter() - t)
    print(f"single query, k=10 + amenities + open at 05:10: {_ms(filtered)}")

    b_lon, b_lat = _query_points(stations, bulk, seed=2)
    t = time.perf_counter()
    index.query_many(b_lon, b_lat, k=1)
    ours_bulk = time.perf_counter() - t
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(b_lon, b_lat), crs=geo.WGS84)
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gpd.sjoin_nearest(points, geometry_only, how="left")
    theirs_bulk = time.perf_counter() - t
    bulk_ratio = theirs_bulk / ours_bulk
    print(f"bulk {bulk:,} queries, k=1 (geodesic): {ours_bulk:.3f} s ({ours_bulk / bulk * 1e6:.1f} us/query)")
    print(f"bulk {bulk:,} queries, sjoin_nearest : {theirs_bulk:.3f} s ({theirs_bulk / bulk * 1e6:.1f} us/query)")
    print(f"  -> nearest is {bulk_ratio:.1f}x faster in bulk")
    # exactness against brute force, a sample
    worst = 0.0
    for x, y in zip(lon[:50], lat[:50], strict=True):
        got = index.query(x, y, k=5)
        _, _, dist = geo.GEOD.inv(np.full(len(stations), x), np.full(len(stations), y), index.lon, index.lat)
        worst = max(worst, float(np.abs(np.sort(dist)[:5] - [s.distance_m for s in got.stations]).max()))
    print(f"exactness vs brute-force pyproj Geod, 50 queries x k=5: max difference {worst:.2e} m")
    return {"single_p50_ms": float(np.median(ours) * 1000), "sjoin_p50_ms": float(np.median(theirs) * 1000),
            "single_ratio": float(single_ratio), "bulk_s": ours_bulk, "sjoin_bulk_s": theirs_bulk,
            "bulk_ratio": float(bulk_ratio)}


def _app_for(stations: gpd.GeoDataFrame, tmp: Path):
    from stationmap.web import create_app
    from stationmap.web.state import state_from_stations

    settings = Settings(data_dir=tmp, host="127.0.0.1", port=0)
    app = create_app(settings)  # tmp has no station files: replace the empty state with the benchmark set
    app.extensions["stationmap"] = state_from_stations(settings, stations, [dict(stations.attrs.get("metadata", {}))])
    return app


def bench_app(name: str, stations: gpd.GeoDataFrame, *, requests: int, seconds: float) -> None:
    """Time /api/nearest in process (Flask test client) and through waitress."""
    from stationmap.web.server import create_server

    with tempfile.TemporaryDirectory() as tmp:
        app = _app_for(stations, Path(tmp))
        client = app.test_client()
        lon, lat = _query_points(stations, requests, seed=3)
        urls = [f"/api/nearest?lon={x:.6f}&lat={y:.6f}&k=5" for x, y in zip(lon, lat, strict=True)]
        for url in urls[:50]:
            client.get(url)
        samples = []
        for url in urls:
            t = time.perf_counter()
            response = client.get(url)
            samples.append(time.perf_counter() - t)
            assert response.status_code == 200
        print(f"\n{name}: GET /api/nearest?k=5 through the Flask app in process: {_ms(samples)}")

        server = create_server(app.extensions["stationmap"].settings, app=app)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        port = server.effective_port
        done = []
        stop = time.perf_counter() + seconds

        def worker(offset: int) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            i = offset
            while time.perf_counter() < stop:
                conn.request("GET", urls[i % len(urls)])
                response = conn.getresponse()
                response.read()
                done.append(response.status)
                i += 7
            conn.close()

        import logging

        logging.getLogger("stationmap.access").setLevel(logging.WARNING)  # keep the console readable
        logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "Task queue depth" under full load
        clients = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
        t0 = time.perf_counter()
        for c in clients:
            c.start()
        for c in clients:
            c.join()
        elapsed = time.perf_counter() - t0
        server.close()
        ok = sum(1 for s in done if s == 200)
        print(f"{name}: through waitress (8 threads, 8 keep-alive clients, {seconds:.0f} s): "
              f"{ok / elapsed:,.0f} requests/s, {ok} OK of {len(done)}")


def bench_page(stations: gpd.GeoDataFrame) -> None:
    """Load the map page in headless Chromium against the set; print first-payload bytes and render time."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("\npage: skipped (playwright not installed)")
        return
    if not Path("/usr/bin/chromium").exists():
        print("\npage: skipped (/usr/bin/chromium missing)")
        return
    from stationmap.web.server import create_server

    with tempfile.TemporaryDirectory() as tmp:
        app = _app_for(stations, Path(tmp))
        import logging

        logging.getLogger("stationmap.access").setLevel(logging.WARNING)
        server = create_server(app.extensions["stationmap"].settings, app=app)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{server.effective_port}/"
        args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=args)
            for width, height in ((360, 640), (1280, 800)):
                page = browser.new_page(viewport={"width": width, "height": height})
                sizes: dict[str, int] = {}
                page.route("**/*", lambda route: route.continue_() if "127.0.0.1" in route.request.url
                           else route.fulfill(status=204))
                page.on("response", lambda r, sizes=sizes: sizes.__setitem__(r.url, len(r.body()) if r.ok else 0)
                        if "127.0.0.1" in r.url else None)
                t = time.perf_counter()
                page.goto(base, wait_until="load")
                page.wait_for_selector(".sm-cell, .sm-pin", timeout=30000)
                rendered = time.perf_counter() - t
                page.wait_for_timeout(300)
                total = sum(sizes.values())
                api = sum(v for k, v in sizes.items() if "/api/" in k)
                print(f"\npage at {width}x{height}, {len(stations):,} stations: first markers after {rendered:.2f} s; "
                      f"first payload {total / 1024:.0f} KiB ({len(sizes)} responses; API {api / 1024:.1f} KiB)")
                page.close()
            browser.close()
        server.close()


def main() -> None:
    """Run every benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000, help="synthetic stations (default 200,000)")
    parser.add_argument("--singles", type=int, default=2000, help="single queries to time")
    parser.add_argument("--bulk", type=int, default=100_000, help="bulk queries to time")
    parser.add_argument("--seconds", type=float, default=5.0, help="waitress throughput run length")
    parser.add_argument("--skip-page", action="store_true", help="skip the headless Chromium page load")
    args = parser.parse_args()

    bundled = _bundled()
    t = time.perf_counter()
    national = make_national(args.n, seed=0)
    print(f"synthetic national set: {len(national):,} stations in {time.perf_counter() - t:.1f} s (seed 0)")
    results = {
        "bundled": bench_function("bundled data", bundled, singles=min(args.singles, 1000), bulk=args.bulk),
        "national": bench_function("synthetic national", national, singles=args.singles, bulk=args.bulk),
    }
    bench_app("bundled data", bundled, requests=1000, seconds=args.seconds)
    bench_app("synthetic national", national, requests=2000, seconds=args.seconds)
    if not args.skip_page:
        bench_page(national)
    print("\n" + json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
