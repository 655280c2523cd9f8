"""Benchmark requests per second of the worker-map API through the real waitress server, against a trivial endpoint.

Starts `stationmap.web.server.running_server` over the synthetic national set (``synthetic.make_national``,
seeded) and, in the same run and with the same server wrapping, a one-route Flask app that answers ``{"ok": true}``.
Each is driven by N keep-alive client threads (in a separate process) on 127.0.0.1 for a few seconds; the script prints requests/s of
``/api/view`` at city and national zoom, ``/api/nearest`` and the trivial endpoint (best of interleaved rounds), each
as a ratio to the trivial one, with the load average before and after (the ratios are what compare across
machines). Every URL is requested once before timing, as on a server that has been running a while::

    .venv/bin/python benchmarks/bench_throughput.py                 # 200,000 stations, 4 clients, 3 s each
    .venv/bin/python benchmarks/bench_throughput.py --n 50000 --seconds 2 --clients 8
"""

from __future__ import annotations

import argparse
import http.client
import logging
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from flask import Flask, jsonify

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

from synthetic import make_national

from stationmap import geo
from stationmap.config import Settings

__all__ = ["main"]

#: City zoom: central Beijing at zoom 13 (about a screen of a phone held in landscape).
CITY_VIEW = "/api/view?bbox=116.30,39.85,116.50,39.97&zoom=13"
#: National zoom: all of China at zoom 4.
NATIONAL_VIEW = "/api/view?bbox=73,18,135,54&zoom=4"


def _trivial_app() -> Flask:
    app = Flask("trivial")

    @app.get("/ping")
    def ping():
        return jsonify(ok=True)

    return app


@contextmanager
def _served(settings: Settings, app: Flask) -> Iterator[int]:
    from stationmap.web.server import running_server

    with running_server(settings, app=app) as server:
        yield int(server.effective_port)


def _drive(port: int, urls: list[str], *, clients: int, seconds: float) -> tuple[float, int, int]:
    """Send `urls` round-robin from `clients` keep-alive threads for `seconds`; return (req/s, ok, total)."""
    statuses: list[int] = []
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def worker(offset: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        i = offset
        while time.perf_counter() < stop:
            conn.request("GET", urls[i % len(urls)])
            response = conn.getresponse()
            response.read()
            mine.append(response.status)
            i += 7
        conn.close()
        with lock:
            statuses.extend(mine)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    ok = sum(1 for s in statuses if s == 200)
    return ok / elapsed, ok, len(statuses)


def _warm(port: int, urls: list[str]) -> None:
    """Request every URL once, so the figures are a running server's (each station's Feature is built once)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for url in urls:
        conn.request("GET", url)
        conn.getresponse().read()
    conn.close()


def _nearest_urls(lon: np.ndarray, lat: np.ndarray, n: int, *, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(lon), n)
    q_lon, q_lat, _ = geo.GEOD.fwd(lon[pick], lat[pick], rng.uniform(0, 360, n), np.abs(rng.normal(0, 2000, n)))
    return [f"/api/nearest?lon={x:.6f}&lat={y:.6f}" for x, y in zip(q_lon, q_lat, strict=True)]


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f} (1 min), {five:.2f} (5 min)"


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Run the benchmark; print and return requests/s per endpoint (key ``<name>_rps``) and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000, help="synthetic stations (default 200,000)")
    parser.add_argument("--clients", type=int, default=4, help="client threads per endpoint (default 4)")
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds per endpoint (default 3, at most 30)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds, best kept (default 2, at most 10)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    seconds = min(max(args.seconds, 0.5), 30.0)
    clients = min(max(args.clients, 1), 64)
    rounds = min(max(args.rounds, 1), 10)

    logging.getLogger("stationmap.access").setLevel(logging.WARNING)  # one line per request otherwise
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "Task queue depth" under full load

    from stationmap.web import create_app
    from stationmap.web.state import state_from_stations

    t0 = time.perf_counter()
    stations = make_national(args.n, seed=args.seed)
    print(f"{len(stations):,} synthetic stations in {time.perf_counter() - t0:.1f} s")
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), host="127.0.0.1", port=0)
        app = create_app(settings)  # tmp has no station files: replace the empty state with the synthetic set
        t0 = time.perf_counter()
        state = state_from_stations(settings, stations, [dict(stations.attrs.get("metadata", {}))])
        app.extensions["stationmap"] = state
        print(f"app state built in {time.perf_counter() - t0:.1f} s")
        nearest = _nearest_urls(state.index.lon, state.index.lat, 500, seed=args.seed + 1)
        runs: list[tuple[str, Flask, list[str]]] = [
            ("trivial", _trivial_app(), ["/ping"]),
            ("view_city", app, [CITY_VIEW]),
            ("view_national", app, [NATIONAL_VIEW]),
            ("nearest", app, nearest),
        ]
        print(f"load average before: {_load()}; {os.cpu_count()} CPUs; {clients} client threads, "
              f"{seconds:g} s each, best of {rounds} rounds")
        # the clients run in another process, so they do not share the server's interpreter lock
        pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        for _ in range(rounds):  # interleaved rounds, best of each: other load on the machine hits all alike
            for name, wsgi_app, urls in runs:
                with _served(settings, wsgi_app) as port:
                    _warm(port, urls)
                    rps, ok, total = pool.submit(_drive, port, urls, clients=clients, seconds=seconds).result()
                results[f"{name}_rps"] = max(rps, results.get(f"{name}_rps", 0.0))
                if ok != total:
                    print(f"  {name}: {total - ok} of {total} requests did not answer 200")
        pool.shutdown()
        base = results["trivial_rps"]
        print(f"\n{'endpoint':<16}{'requests/s':>12}{'ratio':>9}")
        for name, _, _ in runs:
            rps = results[f"{name}_rps"]
            results[f"{name}_ratio"] = rps / base
            print(f"{name:<16}{rps:>12,.0f}{rps / base:>9.2f}")
        print(f"load average after: {_load()}")
    return results


if __name__ == "__main__":
    main()
