"""Coverage reports for download from the web app, built on first request and kept for the process."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from stationmap import report
from stationmap.errors import BadRequestError, StationNotFoundError
from stationmap.i18n import LANGS
from stationmap.web.state import AppState

__all__ = ["REPORT_FORMATS", "ReportCache"]

REPORT_FORMATS = {"html": "text/html; charset=utf-8", "pdf": "application/pdf"}


@dataclass
class ReportCache:
    """
    Rendered district reports keyed by (adcode, lang, format).

    A report takes seconds to build, so each is built once per process, under a per-key lock so that concurrent
    requests for the same report wait for one build instead of starting several.
    """

    _done: dict[tuple[str, str, str], bytes] = field(default_factory=dict)
    _locks: dict[tuple[str, str, str], threading.Lock] = field(default_factory=dict)
    _guard: threading.Lock = field(default_factory=threading.Lock)

    def get(self, key: tuple[str, str, str], build: Callable[[], bytes]) -> bytes:
        """Return the cached bytes for `key`, building them with `build` the first time."""
        if key in self._done:
            return self._done[key]
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._done:
                self._done[key] = build()
        return self._done[key]


def district_report(state: AppState, cache: ReportCache, adcode: str, *, fmt: str, lang: str) -> bytes:
    """
    Return the coverage report of a district served, named by adcode or name, as HTML or PDF bytes.

    A district served without stations (named on the command line) gets its report too: nothing of it is covered.

    Raises
    ------
    BadRequestError
        If `fmt` or `lang` is not supported, or the name fits several districts served.
    StationNotFoundError
        If the district is not served.
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

    def build() -> bytes:
        built = report.build_district_report(state.stations.iloc[rows], district, rubric=rubric)
        page = report.render_html([built], lang=lang)
        return page.encode("utf-8") if fmt == "html" else report.render_pdf(page)

    return cache.get((adcode, lang, fmt), build)
