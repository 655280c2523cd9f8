"""Soak the living register: concurrent writers against the real server, which is killed with SIGKILL mid-run.

Not a timed unit test: a script to run before a release, against SQLite or PostGIS. It fills a register with the
bundled demo (``seeding.open_register``), makes an admin account and an API token directly in the database
(``stationmap.accounts``), then starts the real server as a subprocess in its own process group:
``stationmap serve --database URL`` (waitress) or gunicorn with 2 workers and the project's
``deploy/gunicorn.conf.py``. Then:

- W writer threads each make E edits with ``PATCH /api/stations/<id>`` (``phone``, ``capacity``, ``last_verified``),
  each with ``If-Match`` from the last answer; about half the edits go to three stations every writer shares
  (contention), the rest to the writer's own station. A 412 is counted and the station re-read, then the edit is
  retried. A 2xx is an acknowledged edit (its ``edit.edit_id`` and version are kept). A request whose answer never
  came (connection refused or reset, timeout) is counted and its edit is "unknown", never acknowledged; it is
  retried once the server is back.
- When half the edits are acknowledged, the server's process group is killed with SIGKILL, started again, and the
  writers go on.
- A reader thread asks ``/api/nearest`` and the worker page ``/`` all along and records latency and failures.

At the end every station's history is read through the API (``GET /api/stations/<id>/history`` with the token) and
from the database directly, and the script prints: acknowledged edits, acknowledged edits missing from the history
(API or database, or recorded there with other values), stations acknowledged twice at the same version (lost
updates), corrupt records (a record that does not validate with ``validate_features``, versions not 1..n without
gaps, or the last edit's ``after`` differing from the record), 412s, connection errors, 5xx answers and tracebacks
in the server log, worker-page latency during the writes, the load average, and the total time. Exit 1 if an
acknowledged edit is missing, a record is corrupt or an edit was lost::

    .venv/bin/python benchmarks/soak_register.py                      # 8 writers x 500 edits, waitress, SQLite
    .venv/bin/python benchmarks/soak_register.py --quick --server gunicorn
    .venv/bin/python benchmarks/soak_register.py --database postgresql://user@localhost/soak   # an EMPTY database
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stationmap import accounts, seeding
from stationmap.config import Settings
from stationmap.store import open_store
from stationmap.validation import validate_features

__all__ = ["main"]

HOST = "127.0.0.1"
HOT = 3  # stations every writer edits
READER_PAUSE_S = 0.05
TIMEOUT_S = 30.0
NEAR = "/api/nearest?lon=109.0609&lat=34.2633&k=5"  # beside 610111-001


@dataclass
class Tally:
    """What the writers saw; one lock guards it."""

    acked: list[dict[str, Any]] = field(default_factory=list)
    unknown: int = 0
    conflicts: int = 0
    connection_errors: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _request(port: int, method: str, path: str, *, headers: dict[str, str] | None = None,
             body: Any = None, timeout: float = TIMEOUT_S) -> tuple[int, dict[str, str], bytes]:
    """One request on a fresh connection; raises OSError (or http.client errors) when no answer arrives."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        data = None if body is None else json.dumps(body).encode("utf-8")
        sent = dict(headers or {})
        if data is not None:
            sent["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=sent)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


class Server:
    """The server subprocess (its own process group, so SIGKILL takes gunicorn's workers too)."""

    def __init__(self, kind: str, url: str, port: int, env: dict[str, str], log: Path) -> None:
        self.kind, self.url, self.port, self.env, self.log = kind, url, port, env, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> float:
        """Start it and wait until ``/api/nearest`` answers; return the seconds that took."""
        venv = Path(sys.executable).parent
        if self.kind == "gunicorn":
            command = [str(venv / "gunicorn"), "-c", str(ROOT / "deploy" / "gunicorn.conf.py"),
                       "stationmap.web.wsgi:app"]
        else:
            command = [str(venv / "stationmap"), "serve", "--database", self.url, "--host", HOST,
                       "--port", str(self.port)]
        started = time.perf_counter()
        with self.log.open("ab") as log:
            log.write(f"\n===== start {self.kind} {time.strftime('%H:%M:%S')} =====\n".encode())
            log.flush()
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                                            cwd=ROOT, start_new_session=True)
        while time.perf_counter() - started < 120:
            if self.process.poll() is not None:
                msg = f"the {self.kind} server exited with {self.process.returncode}; see {self.log}"
                raise SystemExit(msg)
            try:
                if _request(self.port, "GET", NEAR, timeout=5)[0] == 200:
                    return time.perf_counter() - started
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.1)
        raise SystemExit(f"the {self.kind} server did not answer within 120 s; see {self.log}")

    def kill(self) -> None:
        """SIGKILL the server's whole process group (only the group this script started)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        """Stop it politely (SIGTERM to its group), SIGKILL if it lingers."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def _writer(n: int, port: int, token: str, stations: list[str], edits: int, tally: Tally, seed: int,
            deadline: float) -> None:
    """Make `edits` acknowledged edits (or stop at `deadline`), retrying after 412s and lost answers."""
    rng = random.Random(seed)
    auth = {"Authorization": f"Bearer {token}"}
    versions: dict[str, int] = {}
    own = stations[HOT + n % (len(stations) - HOT)]
    for i in range(edits):
        sid = rng.choice(stations[:HOT]) if rng.random() < 0.5 else own
        props = {"phone": f"029-{n:02d}{i:05d}", "capacity": 1 + (n * edits + i) % 97,
                 "last_verified": f"2024-{1 + i % 12:02d}-{1 + n % 28:02d}"}
        while time.monotonic() < deadline:
            patching = False
            try:
                if sid not in versions:
                    status, headers, _ = _request(port, "GET", f"/api/stations/{sid}")
                    if status != 200:
                        raise OSError(f"GET station answered {status}")
                    versions[sid] = int(headers["etag"].strip('"'))
                patching = True
                status, headers, raw = _request(
                    port, "PATCH", f"/api/stations/{sid}", body={"properties": props, "comment": f"soak w{n} e{i}"},
                    headers={**auth, "If-Match": f'"{versions[sid]}"'})
            except (OSError, http.client.HTTPException) as err:
                with tally.lock:
                    tally.connection_errors += 1
                    if patching and not isinstance(err, ConnectionRefusedError):
                        tally.unknown += 1  # the PATCH may or may not have been committed
                versions.pop(sid, None)
                time.sleep(0.2)
                continue
            with tally.lock:
                tally.statuses[status] += 1
            if 200 <= status < 300:
                body = json.loads(raw)
                versions[sid] = int(headers["etag"].strip('"'))
                with tally.lock:
                    tally.acked.append({"station": sid, "edit_id": int(body["edit"]["edit_id"]),
                                        "version": int(body["edit"]["version"]), "props": props,
                                        "etag": versions[sid], "writer": n})
                break
            versions.pop(sid, None)
            if status == 412:
                with tally.lock:
                    tally.conflicts += 1
                continue
            with tally.lock:
                tally.server_errors.append(f"{status} {raw[:300]!r}")
            time.sleep(0.2)


def _reader(port: int, stop: threading.Event, out: dict[str, list[float]], failures: Counter[str],
            down: list[float]) -> None:
    """Ask the worker page and /api/nearest until `stop`; latencies (ms) of the 200s, failures by path.

    A failure while the server is down on purpose (``down`` holds the kill and ready times) is counted apart.
    """
    paths = ["/", NEAR]
    k = 0
    while not stop.is_set():
        path = paths[k % 2]
        k += 1
        started = time.perf_counter()
        try:
            status = _request(port, "GET", path, timeout=TIMEOUT_S)[0]
        except (OSError, http.client.HTTPException):
            status = 0
        restarting = len(down) == 1 or (len(down) == 2 and down[0] <= started <= down[1])
        if status == 200:
            out[path + (" (restart)" if restarting else "")].append((time.perf_counter() - started) * 1000)
        else:
            failures[f"{path} {status or 'no answer'}{' (restart)' if restarting else ''}"] += 1
        time.sleep(READER_PAUSE_S)


def _pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def _check(url: str, port: int, token: str, tally: Tally) -> dict[str, Any]:
    """Compare the acknowledged edits with the history (API and database) and check every record."""
    store = open_store(url)
    try:
        snapshot = store.snapshot()
        records = {r.id: r for r in snapshot.records}
        db_history = {sid: store.history(sid) for sid in records}
    finally:
        store.close()
    api_history: dict[str, dict[int, dict[str, Any]]] = {}
    api_errors = 0
    for sid in sorted({a["station"] for a in tally.acked}):
        status, _, raw = _request(port, "GET", f"/api/stations/{sid}/history",
                                  headers={"Authorization": f"Bearer {token}"})
        if status != 200:
            api_errors += 1
            continue
        api_history[sid] = {int(e["edit_id"]): e for e in json.loads(raw)["edits"]}
    missing_api = missing_db = mismatched = 0
    for ack in tally.acked:
        api_edit = api_history.get(ack["station"], {}).get(ack["edit_id"])
        db_edit = next((e for e in db_history.get(ack["station"], []) if e.edit_id == ack["edit_id"]), None)
        missing_api += api_edit is None
        missing_db += db_edit is None
        for edit in filter(None, [api_edit, db_edit]):
            version = edit["version"] if isinstance(edit, dict) else edit.version
            after = edit["after"] if isinstance(edit, dict) else edit.after
            if version != ack["version"] or any(after["properties"].get(k) != v for k, v in ack["props"].items()):
                mismatched += 1
    twice = Counter((a["station"], a["version"]) for a in tally.acked)
    lost_updates = sum(n - 1 for n in twice.values() if n > 1)
    corrupt: list[str] = []
    edit_ids: list[int] = []
    for sid, record in records.items():
        report = validate_features({"type": "FeatureCollection", "features": [record.feature]}, source=sid)
        if not report.ok():
            corrupt.append(f"{sid}: {report.message(limit=3)}")
        edits = db_history[sid]
        edit_ids += [e.edit_id for e in edits]
        if [e.version for e in edits] != list(range(1, len(edits) + 1)) or record.version != len(edits):
            corrupt.append(f"{sid}: versions {[e.version for e in edits][-5:]} (last 5), record {record.version}")
        elif edits[-1].after != record.feature:
            corrupt.append(f"{sid}: the last edit's 'after' differs from the record")
    if len(edit_ids) != len(set(edit_ids)):
        corrupt.append(f"{len(edit_ids) - len(set(edit_ids))} edit ids appear twice")
    return {"missing_api": missing_api, "missing_db": missing_db, "mismatched": mismatched,
            "lost_updates": lost_updates, "corrupt": corrupt, "records": len(records), "api_errors": api_errors,
            "revision": snapshot.revision}


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f} (1 min), {five:.2f} (5 min)"


def main(argv: list[str] | None = None) -> int:
    """Run the soak; print the findings and return the exit code (1 if an acknowledged edit is missing)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", choices=("waitress", "gunicorn"), default="waitress")
    parser.add_argument("--database", metavar="URL", help="an empty register database (default: SQLite in a "
                                                          "temporary folder)")
    parser.add_argument("--writers", type=int, default=8, help="writer threads (default 8)")
    parser.add_argument("--edits", type=int, default=500, help="acknowledged edits per writer (default 500)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2 writers x 50 edits")
    parser.add_argument("--no-kill", action="store_true", help="do not kill the server mid-run")
    parser.add_argument("--max-minutes", type=float, default=30.0, help="writers stop after this (default 30)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    writers, edits = (2, 50) if args.quick else (min(max(args.writers, 1), 64), min(max(args.edits, 1), 10_000))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="soak-register-") as name:
        tmp = Path(name)
        url = args.database or f"sqlite:///{tmp / 'register.db'}"
        settings = Settings(database_url=url, cache_dir=tmp / "cache", data_home=tmp / "home")
        with open_store(url) as store:
            if store.revision() != 0:
                msg = "the register database is not empty: give --database an empty one"
                raise SystemExit(msg)
        store = seeding.open_register(settings)
        try:
            accounts.add_user(store, "soak", "admin")
            token = accounts.create_token(store, "soak", "soak_register")
            stations = [r.id for r in store.snapshot().records if r.status != "closed"]
        finally:
            store.close()
        rng = random.Random(args.seed)
        stations = rng.sample(stations, min(len(stations), HOT + writers))
        port = _free_port()
        env = {**os.environ, "STATIONMAP_DATABASE_URL": url, "STATIONMAP_CACHE_DIR": str(tmp / "cache"),
               "STATIONMAP_DATA_HOME": str(tmp / "home"), "GUNICORN_BIND": f"{HOST}:{port}",
               "GUNICORN_WORKERS": "2", "GUNICORN_ACCESS_LOG": str(tmp / "access.log")}
        log = tmp / "server.log"
        server = Server(args.server, url, port, env, log)
        print(f"{args.server} on {HOST}:{port}, register {seeding._safe_url(url)} ({len(stations)} stations edited, "
              f"{HOT} by every writer); {writers} writers x {edits} edits; {os.cpu_count()} CPUs; "
              f"load average before: {_load()}", flush=True)
        first_start = server.start()
        tally = Tally()
        stop = threading.Event()
        latencies: dict[str, list[float]] = {"/": [], NEAR: [], "/ (restart)": [], f"{NEAR} (restart)": []}
        failures: Counter[str] = Counter()
        down: list[float] = []
        reader = threading.Thread(target=_reader, args=(port, stop, latencies, failures, down), daemon=True)
        deadline = time.monotonic() + 60 * args.max_minutes
        threads = [threading.Thread(target=_writer, args=(n, port, token, stations, edits, tally,
                                                          args.seed * 1000 + n, deadline)) for n in range(writers)]
        writes_started = time.perf_counter()
        reader.start()
        for thread in threads:
            thread.start()
        killed_at = restart_s = None
        try:
            while any(t.is_alive() for t in threads):
                if killed_at is None and not args.no_kill and len(tally.acked) >= writers * edits // 2:
                    down.append(time.perf_counter())
                    server.kill()
                    killed_at = len(tally.acked)
                    print(f"SIGKILL after {killed_at} acknowledged edits "
                          f"({time.perf_counter() - writes_started:.1f} s into the writes)", flush=True)
                    restart_s = server.start()
                    down.append(time.perf_counter())
                    print(f"restarted; answering again after {restart_s:.1f} s", flush=True)
                time.sleep(0.05)
            writes_s = time.perf_counter() - writes_started
            stop.set()
            reader.join()
            load_during = _load()
            found = _check(url, port, token, tally)
        finally:
            stop.set()
            server.stop()
        server_log = log.read_text(errors="replace")
    tracebacks = server_log.count("Traceback (most recent call last)")
    expected = writers * edits
    print(f"\nacknowledged edits:                         {len(tally.acked)} of {expected} "
          f"({len(tally.acked) / writes_s:.1f} per second over {writes_s:.1f} s)")
    print(f"acknowledged edits missing from the history: {found['missing_api']} (API), "
          f"{found['missing_db']} (database)")
    print(f"acknowledged edits recorded with other values: {found['mismatched']}")
    print(f"lost updates (same station and version acknowledged twice): {found['lost_updates']}")
    print(f"corrupt records:                            {len(found['corrupt'])} of {found['records']}")
    for line in found["corrupt"][:10]:
        print(f"  {line}")
    print(f"412 (stale If-Match, re-read and retried):  {tally.conflicts}")
    print(f"connection errors (no answer):              {tally.connection_errors}, of which "
          f"{tally.unknown} edits whose answer never came (unknown, not counted as acknowledged)")
    print(f"answers by status:                          {dict(sorted(tally.statuses.items()))}")
    print(f"other failed writes (5xx, 4xx other than 412): {len(tally.server_errors)}")
    for line in tally.server_errors[:5]:
        print(f"  {line}")
    print(f"tracebacks in the server log:               {tracebacks}")
    print(f"history reads refused through the API:      {found['api_errors']}")
    print(f"register revision at the end:               {found['revision']}")
    if killed_at is not None:
        print(f"server killed with SIGKILL after {killed_at} acknowledged edits; ready again after {restart_s:.1f} s "
              f"(first start {first_start:.1f} s)")
    print("worker-page latency during the writes (200s only; '(restart)': asked while the server was down):")
    for path, values in latencies.items():
        if values:
            print(f"  GET {path:<56} n={len(values):5d}  p50 {_pct(values, 50):7.1f} ms  p95 {_pct(values, 95):7.1f} "
                  f"ms  p99 {_pct(values, 99):7.1f} ms  max {max(values):7.1f} ms")
    print(f"  failed reads: {dict(failures) or 0} ('(restart)': while the server was down on purpose)")
    print(f"load average at the end of the writes: {load_during}; after: {_load()}")
    print(f"total time: {time.perf_counter() - started:.1f} s")
    if tracebacks:
        start = server_log.find("Traceback (most recent call last)")
        print("\nfirst traceback in the server log:\n" + server_log[max(0, start - 300):start + 3000])
    bad = (found["missing_api"] or found["missing_db"] or found["mismatched"] or found["lost_updates"]
           or found["corrupt"])
    print("verdict: " + ("FAILED" if bad else "no acknowledged edit lost, no corrupt record"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
