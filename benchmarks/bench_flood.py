"""A flood of workers' reports must not fill the disk or slow the worker's page.

Starts the real waitress server on 127.0.0.1 over a fresh SQLite register of the bundled demo, behind one trusted
proxy hop (``proxy_hops=1``) so that each post can come from its own address (``X-Forwarded-For``), as a flood from a
botnet would. It measures ``/api/nearest`` alone, then while a separate process sends 10,000 reports of the longest
kind (500 CJK characters and a 20-digit phone) from as many addresses, 150 of them at one station. It prints the
statuses, what the register kept and how much the database grew, and the worker page's p50/p99 under the flood next
to the same figures alone, as ratios. The flood runs in its own process so its threads do not share the server's GIL.

    python benchmarks/bench_flood.py              # 10,000 posts from 8 client threads
    python benchmarks/bench_flood.py 10000 16     # posts, threads
"""

from __future__ import annotations

import http.client
import json
import logging
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from bench_load import HOST, get_status, percentile, probe_nearest

from stationmap.config import BUNDLED_DATA_DIR, Settings
from stationmap.parameters import FEEDBACK_TEXT_MAX_CHARS
from stationmap.store import open_store
from stationmap.web.server import running_server

BASELINE_S = 5.0
LON, LAT = 109.06, 34.27  # beside stations of 610111


def _post(port: int, path: str, body: bytes, address: str) -> int:
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json",
                                                        "X-Forwarded-For": address})
        response = conn.getresponse()
        response.read()
        return response.status
    except OSError:
        return 0
    finally:
        conn.close()


def _flood(port: int, ids: list[str], posts: int, threads: int, out: multiprocessing.Queue) -> None:
    """Send `posts` reports from `threads` clients, each from its own address; put (statuses, seconds) on `out`."""
    body = json.dumps({"kind": "other", "text": "字" * FEEDBACK_TEXT_MAX_CHARS, "phone": "1" * 20}).encode()
    counts: Counter[int] = Counter()
    guard = threading.Lock()
    started = time.perf_counter()

    def client(first: int) -> None:
        for i in range(first, posts, threads):
            sid = ids[0] if i < 150 else ids[i % len(ids)]
            status = _post(port, f"/api/stations/{sid}/feedback", body, f"10.{i // 65536}.{i // 256 % 256}.{i % 256}")
            with guard:
                counts[status] += 1

    workers = [threading.Thread(target=client, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    out.put((dict(counts), time.perf_counter() - started))


def _bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def main() -> None:
    posts = min(max(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000, 1), 100_000)
    threads = min(max(int(sys.argv[2]) if len(sys.argv) > 2 else 8, 1), 64)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    before_load = os.getloadavg()
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "register.db"
        settings = Settings(data_dir=BUNDLED_DATA_DIR, host=HOST, port=0, cache_dir=Path(folder) / "cache",
                            data_home=Path(folder) / "home", database_url=f"sqlite:///{db}", proxy_hops=1)
        with running_server(settings) as server:
            port = server.effective_port
            with open_store(settings.database_url) as store:
                ids = [r.id for r in store.snapshot().records if r.status == "open"]
            get_status(port, f"/api/nearest?lon={LON}&lat={LAT}", timeout=30)  # warm up
            size = _bytes(db)
            base, base_fail = probe_nearest(port, time.monotonic() + BASELINE_S, LON, LAT)
            out: multiprocessing.Queue = multiprocessing.get_context("spawn").Queue()
            flood = multiprocessing.get_context("spawn").Process(target=_flood, args=(port, ids, posts, threads, out))
            flood.start()
            time.sleep(1.0)  # the flood process imports and starts its clients
            loaded: list[float] = []
            loaded_fail = 0
            while flood.is_alive() and out.empty():
                batch, failed = probe_nearest(port, time.monotonic() + 1.0, LON, LAT)
                loaded += batch
                loaded_fail += failed
            counts, flood_s = out.get(timeout=600)
            flood.join(timeout=30)
            grown = _bytes(db) - size
            with open_store(settings.database_url) as store:
                kept = store.feedback_for(None, limit=posts)
    after_load = os.getloadavg()
    b50, b99 = percentile(base, 50), percentile(base, 99)
    p50, p99 = percentile(loaded, 50), percentile(loaded, 99)
    print(f"flood: {posts} posts from {posts} addresses, {threads} client threads, {flood_s:.1f} s "
          f"({posts / flood_s:.0f} posts/s); statuses {dict(sorted(counts.items()))} (0 = timeout/error)")
    print(f"kept: {len(kept)} reports, the busiest station {max(Counter(r.station_id for r in kept).values())}; "
          f"the register grew {grown / 1e6:.1f} MB ({grown / max(len(kept), 1):.0f} bytes a report)")
    print(f"/api/nearest alone:       n={len(base):4d}  p50 {b50:7.1f} ms  p99 {b99:7.1f} ms  failures {base_fail}")
    print(f"/api/nearest under flood: n={len(loaded):4d}  p50 {p50:7.1f} ms  p99 {p99:7.1f} ms  failures {loaded_fail}")
    print(f"ratio under flood / alone: p50 {p50 / b50:.1f}x  p99 {p99 / b99:.1f}x")
    print(f"machine load average (1 min) before {before_load[0]:.2f}, after {after_load[0]:.2f} "
          f"({os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
