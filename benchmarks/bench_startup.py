"""Benchmark server start-up at national scale: the old file path against the register database, with and without its column copy.

Each start runs in a fresh Python process (so each figure is a cold interpreter, and its peak resident size is its
own ``ru_maxrss``), over the synthetic national set (``benchmarks/synthetic.py``). Measured, with repeats,
interleaved round by round so that other load on the machine hits every variant alike:

(a) old   the file-based server: ``load_stations`` of the GeoJSON, ``served_districts`` and ``state_from_stations``
(b) fill  the first start on an empty SQLite register (``create_app`` fills it from the file); once, reported apart
(c) db    a later start from the database without the column copy (``<cache_dir>/registers/*.columns`` deleted)
(d) copy  a later start with the column copy
(d+http)  as (d), until a real waitress server on 127.0.0.1 has answered its first ``/api/nearest``

For each: seconds until the state is built (``create_app`` returns), seconds from process spawn (interpreter start
and imports included), peak RSS, and the load average at the start and end of that run. Then the ratios (d)/(a) and
(c)/(a). Last, the cost of an edit: an admin changes one station with ``stationmap.editing.update_station``; the
next ``GET /api/nearest`` through a Flask test client is timed (a register this size is rebuilt in the background,
`LiveRegister.current`, so the request does not wait for it), and so is the time until the served state shows the
edit (`LiveRegister.wait_until_current`), 5 times, against the same request without an edit before it.

The first (a) run converts China's boundaries into the temporary cache folder and is reported as a warm-up. Cache
folder and data home are under a temporary folder, never the user's home::

    python benchmarks/synthetic.py 200000 -o /tmp/bench/national.geojson
    .venv/bin/python benchmarks/bench_startup.py /tmp/bench/national.geojson            # 3 repeats each
    .venv/bin/python benchmarks/bench_startup.py /tmp/bench/national.geojson --repeats 1 --edits 3
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

__all__ = ["main"]

TARGET_S = 10.0
KINDS = ("old", "fill", "db", "copy", "http")
LABELS = {"old": "(a) old: parse GeoJSON", "fill": "(b) first start, fill", "db": "(c) db, no column copy",
          "copy": "(d) db + column copy", "http": "(d) + first HTTP answer"}
NEAR = "/api/nearest?lon=116.397&lat=39.909&k=5"  # Tiananmen; the synthetic set is dense around cities


def _load() -> tuple[float, float]:
    one, five, _ = os.getloadavg()
    return round(one, 2), round(five, 2)


def _settings(args: argparse.Namespace, tmp: Path) -> Any:
    from stationmap.config import Settings

    return Settings(stations=(Path(args.geojson).resolve(),), database_url=f"sqlite:///{tmp / 'register.db'}",
                    cache_dir=tmp / "cache", data_home=tmp / "home", host="127.0.0.1", port=0)


def _join_column_copy() -> None:
    """Wait for the background writer of the column copy, so the next start finds it (and its memory is counted)."""
    for thread in threading.enumerate():
        if thread.name == "stationmap-column-copy":
            thread.join()


def _child(kind: str, args: argparse.Namespace, tmp: Path, spawned: float) -> dict[str, Any]:
    """One start in this fresh process; return its figures."""
    logging.basicConfig(level=logging.WARNING)
    load_before = _load()
    from stationmap.web import create_app

    settings = _settings(args, tmp)
    out: dict[str, Any] = {"kind": kind}
    if kind == "old":
        from stationmap.stations import load_stations
        from stationmap.web.register import served_districts
        from stationmap.web.state import state_from_stations

        t0 = time.perf_counter()
        stations = load_stations(args.geojson)
        metadata = [dict(stations.attrs.get("metadata") or {})]
        stations.attrs = {}
        served = served_districts(settings, stations)
        state = state_from_stations(settings, stations, metadata, districts=served.districts,
                                    district_codes=served.codes)
        out["ready_s"] = time.perf_counter() - t0
        out["since_spawn_s"] = time.time() - spawned
        out["stations"] = len(state.stations)
    elif kind == "http":
        import http.client

        from stationmap.web.server import running_server

        t0 = time.perf_counter()
        app = create_app(settings)
        out["ready_s"] = time.perf_counter() - t0
        out["since_spawn_s"] = time.time() - spawned
        with running_server(settings, app=app) as server:
            conn = http.client.HTTPConnection("127.0.0.1", server.effective_port, timeout=60)
            conn.request("GET", NEAR)
            response = conn.getresponse()
            response.read()
            conn.close()
            out["http_s"] = time.perf_counter() - t0
            out["http_since_spawn_s"] = time.time() - spawned
            out["status"] = response.status
        out["stations"] = len(app.extensions["stationmap"].current().stations)
    else:
        if kind == "db":
            for path in (tmp / "cache" / "registers").glob("*.columns"):
                path.unlink()
        t0 = time.perf_counter()
        app = create_app(settings)
        out["ready_s"] = time.perf_counter() - t0
        out["since_spawn_s"] = time.time() - spawned
        out["stations"] = len(app.extensions["stationmap"].current().stations)
    _join_column_copy()
    out["rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["load_before"], out["load_after"] = load_before, _load()
    return out


def _edits(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """Time the first request after an edit, against the same request with no edit before it."""
    logging.basicConfig(level=logging.WARNING)
    from stationmap import accounts, editing
    from stationmap.web import create_app

    settings = _settings(args, tmp)
    app = create_app(settings)
    store = app.extensions["stationmap_store"]
    if store.get_user("bench") is None:
        accounts.add_user(store, "bench", "admin")
    user = store.get_user("bench")
    places = editing.Places(data_dir=settings.data_dir, cache_dir=settings.cache_dir)
    client = app.test_client()
    load_before = _load()
    assert client.get(NEAR).status_code == 200
    state = app.extensions["stationmap"].current()
    sid = str(state.stations["id"].iloc[len(state.stations) // 2])
    plain, edited, apply_s, visible = [], [], [], []
    live = app.extensions["stationmap"]
    for n in range(args.edits):
        t0 = time.perf_counter()
        assert client.get(NEAR).status_code == 200
        plain.append(time.perf_counter() - t0)
        record = store.get(sid)
        t0 = time.perf_counter()
        editing.update_station(store, sid, {"properties": {"phone": f"029-8{n:07d}"}}, user=user,
                               expected_version=record.version, places=places, comment="bench_startup")
        apply_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        response = client.get(NEAR)
        edited.append(time.perf_counter() - t0)
        assert response.status_code == 200, response.status_code
        assert live.wait_until_current(timeout_s=120)
        visible.append(time.perf_counter() - t0)
    return {"plain": plain, "edited": edited, "apply": apply_s, "visible": visible, "station": sid, "stations": len(state.stations),
            "load_before": load_before, "load_after": _load(),
            "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _spawn(kind: str, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """Run one start in a fresh interpreter; return the JSON figures it prints last."""
    command = [sys.executable, str(Path(__file__).resolve()), str(args.geojson), "--child", kind, "--tmp", str(tmp),
               "--spawned", repr(time.time()), "--edits", str(args.edits)]
    for attempt in (1, 2):  # once more after a failure: the checkout may be mid-edit by someone else
        done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
        if done.returncode == 0:
            return json.loads(done.stdout.strip().splitlines()[-1])
        sys.stderr.write(done.stderr[-4000:])
        print(f"  the {kind!r} start failed (exit {done.returncode}, attempt {attempt}); its error is on stderr",
              flush=True)
        time.sleep(5)
    msg = f"the {kind!r} start failed twice"
    raise SystemExit(msg)


def _fmt(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):6.2f} ({min(values):.2f}-{max(values):.2f})"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; print the table and ratios and return the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("geojson", type=Path, help="the national station file (benchmarks/synthetic.py)")
    parser.add_argument("--repeats", type=int, default=3, help="starts per variant (default 3, at most 10)")
    parser.add_argument("--edits", type=int, default=5, help="edits timed (default 5, at most 50)")
    parser.add_argument("--child", choices=(*KINDS, "edits"), help=argparse.SUPPRESS)
    parser.add_argument("--tmp", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--spawned", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.edits = min(max(args.edits, 1), 50)
    if args.child:
        figures = _edits(args, args.tmp) if args.child == "edits" else _child(args.child, args, args.tmp, args.spawned)
        print(json.dumps(figures))
        return figures
    if not args.geojson.is_file():
        parser.error(f"{args.geojson} does not exist; make it with benchmarks/synthetic.py 200000 -o {args.geojson}")
    repeats = min(max(args.repeats, 1), 10)
    size = args.geojson.stat().st_size / 2**20
    print(f"{args.geojson} ({size:.0f} MiB); {os.cpu_count()} CPUs; load average before {_load()} (1, 5 min); "
          f"{repeats} repeats, each start in a fresh process")
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in KINDS}
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as name:
        tmp = Path(name)

        def run(kind: str) -> dict[str, Any]:
            figures = _spawn(kind, args, tmp)
            extra = f", first HTTP answer {figures['http_s']:.2f} s" if "http_s" in figures else ""
            print(f"  {LABELS[kind]:<26} {figures['stations']:>8,} stations  ready {figures['ready_s']:6.2f} s "
                  f"(from spawn {figures['since_spawn_s']:6.2f} s{extra})  peak RSS {figures['rss_mib']:5.0f} MiB  "
                  f"load {figures['load_before'][0]:.2f} -> {figures['load_after'][0]:.2f}", flush=True)
            return figures

        print("warm-up (converts the boundaries into the temporary cache; not counted):")
        warm = run("old")
        print("first start on an empty register (once):")
        runs["fill"].append(run("fill"))
        for n in range(repeats):
            print(f"round {n + 1} of {repeats}:")
            for kind in ("old", "db", "copy", "http"):
                runs[kind].append(run(kind))
        print(f"first request after an edit ({args.edits} edits, Flask test client, register with the column copy):")
        edits = _spawn("edits", args, tmp)
    ms = [1000 * v for v in edits["edited"]]
    plain_ms = [1000 * v for v in edits["plain"]]
    apply_ms = [1000 * v for v in edits["apply"]]
    print(f"  station {edits['station']} of {edits['stations']:,}; load {edits['load_before'][0]:.2f} -> "
          f"{edits['load_after'][0]:.2f}; peak RSS {edits['rss_mib']:.0f} MiB")
    print(f"  update_station (validate, place, commit): median {statistics.median(apply_ms):7.1f} ms  "
          f"({', '.join(f'{v:.0f}' for v in apply_ms)})")
    print(f"  GET /api/nearest after an edit:          median {statistics.median(ms):7.1f} ms  "
          f"({', '.join(f'{v:.0f}' for v in ms)})")
    print(f"  GET /api/nearest, no edit before it:     median {statistics.median(plain_ms):7.1f} ms  "
          f"({', '.join(f'{v:.1f}' for v in plain_ms)})")
    visible_ms = [1000 * v for v in edits["visible"]]
    print(f"  until the served state shows the edit:   median {statistics.median(visible_ms):7.1f} ms  "
          f"({', '.join(f'{v:.0f}' for v in visible_ms)})")

    print(f"\n{'start (median, min-max of ' + str(repeats) + ')':<34}{'ready s':>24}{'from spawn s':>26}"
          f"{'peak RSS MiB':>14}  load 1-min (min-max)")
    for kind in ("old", "fill", "db", "copy", "http"):
        rows = runs[kind]
        ready = [r.get("http_s", r["ready_s"]) for r in rows]
        spawn = [r.get("http_since_spawn_s", r["since_spawn_s"]) for r in rows]
        loads = [v for r in rows for v in (r["load_before"][0], r["load_after"][0])]
        print(f"{LABELS[kind]:<34}{_fmt(ready):>24}{_fmt(spawn):>26}{max(r['rss_mib'] for r in rows):>14.0f}"
              f"  {min(loads):.2f}-{max(loads):.2f}")
    old = statistics.median(r["ready_s"] for r in runs["old"])
    figures = {k: statistics.median(r["ready_s"] for r in runs[k]) for k in KINDS}
    figures["http"] = statistics.median(r["http_s"] for r in runs["http"])
    print(f"\nratio (d) copy / (a) old: {figures['copy'] / old:.3f}   ({old / figures['copy']:.1f}x faster)")
    print(f"ratio (c) db   / (a) old: {figures['db'] / old:.3f}   ({old / figures['db']:.1f}x faster)")
    verdict = "met" if figures["http"] < TARGET_S else "MISSED"
    print(f"target: ready (first HTTP answer, with the column copy) in under {TARGET_S:g} s: {verdict} "
          f"({figures['http']:.2f} s in process; from spawn "
          f"{statistics.median(r['http_since_spawn_s'] for r in runs['http']):.2f} s)")
    print(f"warm-up (a) with a cold boundary cache: {warm['ready_s']:.2f} s")
    print(f"load average after: {_load()} (1, 5 min)")
    return {"ready_s": figures, "edit_ms": ms, "runs": runs}


if __name__ == "__main__":
    main()
