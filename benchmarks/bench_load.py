"""Check that expensive work never starves the worker's page: /api/nearest latency while reports and the planner are hammered.

Starts the real waitress server (`stationmap.web.server.running_server`) on 127.0.0.1 with the bundled data and a
fresh cache folder, so reports are built cold. It first measures ``/api/nearest`` alone, then again while a separate
process runs many client threads fetching ``/report/<adcode>.<html|pdf>`` and the planner endpoints with varied
radii for a bounded time. The load runs in its own process so that its Python threads do not compete with the
server for the GIL, as remote clients would not. Target: worker p99 under 300 ms.

    python benchmarks/bench_load.py                 # 24 load threads, 20 s
    python benchmarks/bench_load.py 32 30           # 32 load threads, 30 s
"""

from __future__ import annotations

import http.client
import logging
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from stationmap.config import BUNDLED_DATA_DIR, Settings
from stationmap.districts import bundled_adcodes
from stationmap.web.server import running_server

HOST = "127.0.0.1"
TARGET_P99_MS = 300.0
BASELINE_S = 5.0
PROBE_PAUSE_S = 0.05  # the worker's page asks about 20 times a second


def get_status(port: int, path: str, *, timeout: float) -> int:
    """GET `path` on a fresh connection and return the status, or 0 on a timeout or connection error."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    except OSError:
        return 0
    finally:
        conn.close()


def _load_paths(adcodes: list[str], rng: random.Random) -> str:
    code = rng.choice(adcodes)
    kind = rng.random()
    if kind < 0.5:
        return f"/report/{code}.{rng.choice(['html', 'pdf'])}?lang={rng.choice(['zh', 'en'])}"
    radius = rng.randrange(500, 3001, 50)
    endpoint = rng.choice(["coverage", "gaps", "service-areas", "sites"])
    return f"/api/{endpoint}?district={code}&radius_m={radius}"


def _load(port: int, threads: int, duration_s: float, adcodes: list[str], out: multiprocessing.Queue) -> None:
    """Run `threads` clients for `duration_s` seconds; put the count of each status on `out`."""
    counts: Counter[int] = Counter()
    guard = threading.Lock()
    stop = time.monotonic() + duration_s

    def client(seed: int) -> None:
        rng = random.Random(seed)
        while time.monotonic() < stop:
            status = get_status(port, _load_paths(adcodes, rng), timeout=max(1.0, stop - time.monotonic() + 5))
            with guard:
                counts[status] += 1
            if status == 503:
                time.sleep(0.2)  # a polite client backs off a little; it still comes back long before Retry-After

    workers = [threading.Thread(target=client, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    out.put(dict(counts))


def probe_nearest(port: int, until: float, lon: float, lat: float) -> tuple[list[float], int]:
    """Ask /api/nearest until `until`; return latencies in ms and the number of failures (non-200 or timeout)."""
    latencies, failures = [], 0
    while time.monotonic() < until:
        started = time.perf_counter()
        status = get_status(port, f"/api/nearest?lon={lon}&lat={lat}&k=5", timeout=10)
        latencies.append((time.perf_counter() - started) * 1000)
        failures += status != 200
        time.sleep(PROBE_PAUSE_S)
    return latencies, failures


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def main() -> None:
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 24
    duration_s = float(sys.argv[2]) if len(sys.argv) > 2 else 20.0
    threads, duration_s = min(max(threads, 1), 64), min(max(duration_s, 1.0), 120.0)
    adcodes = bundled_adcodes(BUNDLED_DATA_DIR)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "Task queue depth" lines are what we measure
    lon, lat = 110.3223, 25.2808  # beside a station of 450305
    with tempfile.TemporaryDirectory() as cache:
        settings = Settings(data_dir=BUNDLED_DATA_DIR, host=HOST, port=0, cache_dir=Path(cache))
        with running_server(settings) as server:
            port = server.effective_port
            get_status(port, f"/api/nearest?lon={lon}&lat={lat}", timeout=30)  # warm up
            base, base_fail = probe_nearest(port, time.monotonic() + BASELINE_S, lon, lat)
            out: multiprocessing.Queue = multiprocessing.get_context("spawn").Queue()
            load = multiprocessing.get_context("spawn").Process(
                target=_load, args=(port, threads, duration_s, adcodes, out))
            load.start()
            time.sleep(1.0)  # the load process imports and starts its clients
            loaded, loaded_fail = probe_nearest(port, time.monotonic() + duration_s - 1.0, lon, lat)
            counts = out.get(timeout=duration_s + 120)
            load.join(timeout=30)
            load_avg = os.getloadavg()
    p50, p99 = percentile(loaded, 50), percentile(loaded, 99)
    b50, b99 = percentile(base, 50), percentile(base, 99)
    print(f"load: {threads} client threads for {duration_s:g} s on reports and planner "
          f"({os.cpu_count()} CPUs); statuses {dict(sorted(counts.items()))} (0 = timeout/error)")
    print(f"load 503s: {counts.get(503, 0)} of {sum(counts.values())} requests")
    print(f"/api/nearest alone:     n={len(base):4d}  p50 {b50:7.1f} ms  p99 {b99:7.1f} ms  failures {base_fail}")
    print(f"/api/nearest under load: n={len(loaded):4d}  p50 {p50:7.1f} ms  p99 {p99:7.1f} ms  failures {loaded_fail}")
    print(f"ratio under load / alone: p50 {p50 / b50:.1f}x  p99 {p99 / b99:.1f}x")
    print(f"machine load average (1, 5, 15 min): {load_avg[0]:.2f} {load_avg[1]:.2f} {load_avg[2]:.2f}")
    verdict = "met" if p99 < TARGET_P99_MS else "MISSED"
    print(f"target worker p99 < {TARGET_P99_MS:g} ms: {verdict}")


if __name__ == "__main__":
    main()
