"""Coverage reports for download from the web app: built on a bounded pool, kept on disk and in memory.

A report takes seconds to build. Builds run on a `BoundedPool` smaller than the server's threads, so that downloads
never take every server thread: when it is full the request answers 503 with ``Retry-After`` (`ReportBusyError`).
Each built report is written to ``Settings.cache_dir/reports/`` under a name holding its adcode, language, format,
the digest of the district's station data, of its workers' reports (and the day, which moves deadlines past) and
the package version, so a restart or another worker process reuses it, and any change to the stations, the
feedback or the code builds a fresh one.

A district's QR sheet (`district_qr_sheet`) is built on the same pool but never kept: its codes hold the address
the request came to, and a sheet per client-chosen ``Host`` must not fill the disk.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import shapely

import stationmap
from stationmap import hours, report
from stationmap.errors import BadRequestError, StationNotFoundError
from stationmap.feedback import reports_on
from stationmap.files import atomic_write
from stationmap.i18n import LANGS
from stationmap.report import qr_sheet
from stationmap.store import Feedback, Store, utc_now
from stationmap.web.pool import BoundedPool, PoolBusyError
from stationmap.web.state import AppState

__all__ = ["REPORT_FORMATS", "ReportBusyError", "ReportCache", "build_ahead", "district_qr_sheet", "district_report",
           "feedback_digest", "report_key", "report_pool"]

REPORT_FORMATS = {"html": "text/html; charset=utf-8", "pdf": "application/pdf"}


class ReportBusyError(PoolBusyError):
    """Too many reports are being built; the client should retry after `retry_after_s` seconds."""

    http_status = 503
    retry_after_s = 10


def report_pool(*, workers: int = 1, max_waiting: int = 2) -> BoundedPool:
    """
    The pool reports are built on: `workers` builds at a time (they hold the interpreter for seconds) and at most
    `max_waiting` request threads waiting (`pool.waiting_limits`), so the worker's page keeps a thread.
    """
    return BoundedPool(name="report builder", workers=workers, max_pending=workers + 1, max_waiting=max_waiting,
                       wait_s=60.0, busy_error=ReportBusyError)


@dataclass
class ReportCache:
    """
    Rendered district reports by `report_key`, in memory in front of files in `folder`.

    Attributes
    ----------
    folder
        Where reports are kept on disk (``Settings.cache_dir / "reports"``); None keeps them in memory only.
    pool
        Where reports are built; concurrent requests for one report share one build.
    disk_hits, builds
        Counters, for tests and logs.
    feedback_ttl_s
        How long a district's workers' reports, read for the report's name, are reused before they are read
        again (seconds): a new report or state change shows in the next report within this time.
    """

    folder: Path | None = None
    pool: BoundedPool = field(default_factory=report_pool)
    disk_hits: int = 0
    builds: int = 0
    feedback_ttl_s: float = 30.0
    _feedback: dict[str, tuple[float, list[Feedback], str]] = field(default_factory=dict, repr=False)
    _done: dict[str, bytes] = field(default_factory=dict, repr=False)
    _digests: dict[str, tuple[AppState, str]] = field(default_factory=dict, repr=False)
    _guard: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def get(self, key: str, build: Callable[[], bytes]) -> bytes:
        """
        Return the report bytes for `key`: from memory, else from disk, else built on the pool and written to disk.

        Raises
        ------
        ReportBusyError
            If the pool is full or the build outlasts the pool's ``wait_s``.
        """
        found = self._done.get(key)
        if found is not None:
            return found
        return self.pool.run(key, lambda: self._load_or_build(key, build))

    def key(self, state: AppState, adcode: str, *, fmt: str, lang: str, feedback_digest: str = "") -> str:
        """Return `report_key`, hashing a district's data once per app state rather than on every request."""
        memo = self._digests.get(adcode)
        if memo is None or memo[0] is not state:  # the state is immutable: the same object means the same data
            memo = self._digests[adcode] = (state, _data_digest(state, adcode))
        return _file_name(adcode, _with_feedback(memo[1], feedback_digest), fmt=fmt, lang=lang)

    def feedback(self, store: Store, adcode: str, station_ids: Sequence[str]) -> tuple[list[Feedback], str]:
        """
        Return the workers' reports on a district's stations and their digest (with today's date, China time).

        Read from the register at most once per `feedback_ttl_s` per district.
        """
        now = time.monotonic()
        memo = self._feedback.get(adcode)
        if memo is None or now - memo[0] >= self.feedback_ttl_s:
            reports = reports_on(store, station_ids, [adcode])
            memo = self._feedback[adcode] = (now, reports, feedback_digest(reports))
        return memo[1], memo[2]

    def _load_or_build(self, key: str, build: Callable[[], bytes]) -> bytes:
        path = self.folder / key if self.folder is not None else None
        if path is not None and path.is_file():
            body = path.read_bytes()
            with self._guard:
                self.disk_hits += 1
        else:
            body = build()
            with self._guard:
                self.builds += 1
            if path is not None:
                with atomic_write(path) as tmp:
                    tmp.write_bytes(body)
        self._done[key] = body
        return body

    def clear(self) -> None:
        """Forget the reports kept in memory (files on disk stay)."""
        self._done.clear()


def report_key(state: AppState, adcode: str, *, fmt: str, lang: str) -> str:
    """
    Return the file name a district's report is kept under: adcode, language, format, data digest and version.

    The digest covers the district's stations (every column and the point, as GeoJSON), its boundary and the rubric,
    so a change to any of them names a new file.
    """
    return _file_name(adcode, _data_digest(state, adcode), fmt=fmt, lang=lang)


def feedback_digest(reports: Sequence[Feedback], *, today: dt.date | None = None) -> str:
    """
    Return a digest of workers' reports as a report shows them: each one's id, state, deadline and last change,
    and `today` (China time, default today), since deadlines pass and the 12-month window moves with the day;
    "" for none.
    """
    if not reports:  # no feedback: the report's name stays that of its stations alone
        return ""
    digest = hashlib.sha256((today or utc_now().astimezone(hours.TZ).date()).isoformat().encode())
    for r in sorted(reports, key=lambda r: r.id):
        changed = r.state_changed_at.isoformat() if r.state_changed_at else ""
        digest.update(f"|{r.id}:{r.state}:{r.deadline.isoformat()}:{changed}".encode())
    return digest.hexdigest()[:16]


def _with_feedback(data_digest: str, feedback: str) -> str:
    if not feedback:
        return data_digest
    return hashlib.sha256(f"{data_digest}:{feedback}".encode()).hexdigest()[:16]


def _data_digest(state: AppState, adcode: str) -> str:
    rows = (state.district_codes == adcode).nonzero()[0]
    digest = hashlib.sha256()
    digest.update(state.stations.iloc[rows].to_json(sort_keys=True, default=str).encode("utf-8"))
    district = state.districts.get(adcode)
    if district is not None:
        digest.update(shapely.to_wkb(district.geometry))
    digest.update(repr(state.rubric).encode("utf-8"))
    return digest.hexdigest()[:16]


def _file_name(adcode: str, digest: str, *, fmt: str, lang: str) -> str:
    return f"{adcode}-{lang}-{digest}-v{stationmap.__version__}.{fmt}"


def district_report(state: AppState, cache: ReportCache, adcode: str, *, fmt: str, lang: str,
                    store: Store | None = None) -> bytes:
    """
    Return the coverage report of a district served, named by adcode or name, as HTML or PDF bytes.

    A district served without stations (named on the command line) gets its report too: nothing of it is covered.
    With the register's `store`, the report has the workers' feedback figures and the star review counts the
    downgrades they trigger; without, it says feedback is not available.

    Raises
    ------
    BadRequestError
        If `fmt` or `lang` is not supported, or the name fits several districts served.
    StationNotFoundError
        If the district is not served.
    ReportBusyError
        If too many reports are being built (503, ``Retry-After``).
    """
    if fmt not in REPORT_FORMATS:
        msg = f"Unknown report format {fmt!r}; expected one of {', '.join(REPORT_FORMATS)}."
        raise BadRequestError(msg)
    if lang not in LANGS:
        msg = f"parameter 'lang': expected 'zh' or 'en', got {lang!r}."
        raise BadRequestError(msg)
    district = state.district(adcode)  # an adcode or a name; a served district without stations reports 0 %
    adcode = district.adcode
    rows = (state.district_codes == adcode).nonzero()[0]
    rubric = state.rubric  # a local, so the narrowing below holds inside build()
    if rubric is None:
        msg = "No star rubric is loaded (data/rubric/stars-v1.toml); reports need one."
        raise StationNotFoundError(msg)

    stations = state.stations.iloc[rows]
    feedback, digest = (cache.feedback(store, adcode, [str(i) for i in stations["id"]]) if store is not None
                        else (None, ""))

    def build() -> bytes:
        built = report.build_district_report(stations, district, rubric=rubric, feedback=feedback)
        page = report.render_html([built], lang=lang)
        return page.encode("utf-8") if fmt == "html" else report.render_pdf(page)

    return cache.get(cache.key(state, adcode, fmt=fmt, lang=lang, feedback_digest=digest), build)


def district_qr_sheet(state: AppState, cache: ReportCache, adcode: str, *, base_url: str,
                      lang: str) -> tuple[str, bytes]:
    """
    Return a served district's adcode and its QR sheet as A4 PDF bytes, built on the report pool, not kept.

    Raises
    ------
    BadRequestError
        If `lang` or `base_url` is refused, or the name fits several districts served.
    StationNotFoundError
        If the district is not served.
    EmptyInputError
        If the district has no open station (422).
    ReportBusyError
        If too many reports are being built (503, ``Retry-After``).
    """
    if lang not in LANGS:
        msg = f"parameter 'lang': expected 'zh' or 'en', got {lang!r}."
        raise BadRequestError(msg)
    district = state.district(adcode)
    rows = (state.district_codes == district.adcode).nonzero()[0]
    sheet = qr_sheet.build_qr_sheet(state.stations.iloc[rows], district, base_url=base_url, lang=lang)
    return district.adcode, cache.pool.run(("qr", sheet), lambda: qr_sheet.render_qr_pdf(sheet))


def build_ahead(state: AppState, cache: ReportCache, *, langs: tuple[str, ...] = LANGS,
                formats: tuple[str, ...] = tuple(REPORT_FORMATS),
                store: Store | None = None) -> Iterator[tuple[str, str, str, float]]:
    """
    Build the report of every served district that has stations into `cache`, one at a time, on its pool.

    A report already in the cache (same stations, boundary, rubric, workers' reports and version) is not built
    again. Yields (adcode, format, language, seconds) after each, so a command can say what it did. With the
    register's `store`, the reports have its workers' feedback.

    Raises
    ------
    MissingExtraError
        If PDF is asked for and WeasyPrint (``stationmap[pdf]``) is not installed.
    """
    served = sorted(set(state.district_codes.tolist()) & set(state.districts))
    for adcode in served:
        for fmt in formats:
            for lang in langs:
                started = time.perf_counter()
                district_report(state, cache, adcode, fmt=fmt, lang=lang, store=store)
                yield adcode, fmt, lang, time.perf_counter() - started
