"""The register as each server process sees it: built from the database at start-up, refreshed after every edit.

Every request asks the store for its revision (one indexed query). When another request or another process has
committed an edit since, the stations edited are fetched and the app state is rebuilt from the kept columns with
only those rows replaced, before the request is answered: an edit is visible to the next request in every worker
process. Closed stations stay in the register but not in the served state (workers are never sent to them).

Workers' "here and open" confirmations are not edits and do not move the revision: each process reads the new ones
at most every `CONFIRMATIONS_EVERY_S` seconds (one indexed query over the last minutes' reports, on the first request
after that time) and swaps only the confirmation dates into its state, so "last verified" shows a confirmation
within that time in every process, without a rebuild and without a query per station or per request.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pandas as pd
from flask import Flask, current_app

from stationmap import geo
from stationmap.config import Settings
from stationmap.districts import District
from stationmap.errors import StorageError
from stationmap.rubric import Rubric, default_rubric_path, load_rubric
from stationmap.snapshot_cache import RegisterColumns, load_columns, save_columns
from stationmap.stations import stations_from_features
from stationmap.store import StationRecord, Store, utc_now
from stationmap.web.register import served_districts
from stationmap.web.state import AppState, state_from_stations

__all__ = ["BACKGROUND_FROM", "COLUMN_COPY_FROM", "CONFIRMATIONS_EVERY_S", "LiveRegister", "app_state",
           "columns_districts", "merge_changes", "read_columns"]

logger = logging.getLogger(__name__)


def _frame(records: list[StationRecord]) -> gpd.GeoDataFrame:
    if records:
        return stations_from_features([r.feature for r in records])
    return gpd.GeoDataFrame({"id": [], "name": []}, geometry=gpd.points_from_xy([], []), crs=geo.WGS84)


#: Registers from this many stations are brought up to date after an edit in the background (a rebuild of the
#: served state takes about 0.6 s at 50,000 stations and 2-3 s at 200,000); smaller ones before the next answer.
BACKGROUND_FROM = 50_000
#: Registers from this many stations keep a signed column copy on disk for a fast start (`snapshot_cache`).
COLUMN_COPY_FROM = 20_000
#: Seconds between two reads of the workers' new confirmations by one process: the longest a "here and open" waits
#: to show in "last verified". Each read is one indexed query over the last minutes' reports.
CONFIRMATIONS_EVERY_S = 2.0
#: How far back each read of confirmations looks again: reports committed late, or stamped by another server's clock.
_CONFIRMATIONS_OVERLAP = timedelta(minutes=10)
_SHANGHAI = ZoneInfo("Asia/Shanghai")


def _china_day(when: datetime) -> str:
    """The Asia/Shanghai date of a UTC time, ``YYYY-MM-DD``."""
    return when.astimezone(_SHANGHAI).date().isoformat()


def read_columns(store: Store) -> RegisterColumns:
    """Read the served part of the register from its database: every record parsed once."""
    snapshot = store.snapshot()
    served = [r for r in snapshot.records if r.status != "closed"]
    return RegisterColumns(stations=_frame(served), codes=np.array([r.district_code for r in served], dtype=object),
                           versions={r.id: r.version for r in snapshot.records}, revision=snapshot.revision,
                           metadata=list(snapshot.metadata))


def merge_changes(columns: RegisterColumns, changed: list[StationRecord], revision: int) -> RegisterColumns:
    """
    Return `columns` with the changed stations replaced in place, added at the end, or (closed) left out.

    Only the changed records are parsed; the other rows are copied column by column.
    """
    if not changed:
        return RegisterColumns(columns.stations, columns.codes, columns.versions, revision, columns.metadata)
    frame = columns.stations
    geometry = frame.geometry.name
    row_of = {sid: i for i, sid in enumerate(frame["id"].astype(str))} if len(frame) else {}
    arrays: dict[str, np.ndarray] = {n: frame[n].to_numpy(dtype=object).copy() for n in frame.columns
                                     if n != geometry}
    lon = np.asarray(frame.geometry.x, dtype=float).copy() if len(frame) else np.empty(0)
    lat = np.asarray(frame.geometry.y, dtype=float).copy() if len(frame) else np.empty(0)
    codes = np.asarray(columns.codes, dtype=object).copy()
    keep = np.ones(len(frame), dtype=bool)
    opened = [r for r in changed if r.status != "closed"]
    update = _frame(opened)
    fields = [n for n in update.columns if n != update.geometry.name]
    added: list[int] = []
    for i, record in enumerate(opened):
        row = row_of.get(record.id)
        if row is None:
            added.append(i)
            continue
        for name in fields:
            if name not in arrays:
                arrays[name] = np.full(len(frame), None, dtype=object)
            arrays[name][row] = update[name].iat[i]
        for name in set(arrays) - set(fields):
            arrays[name][row] = None  # a field the edit removed
        point = update.geometry.iat[i]
        lon[row], lat[row] = point.x, point.y
        codes[row] = record.district_code
    for record in changed:
        row = row_of.get(record.id)
        if record.status == "closed" and row is not None:
            keep[row] = False
    table = pd.DataFrame({n: pd.Series(v[keep], dtype=object) for n, v in arrays.items()})
    lon, lat, codes = lon[keep], lat[keep], codes[keep]
    if added:
        new = update.iloc[added].drop(columns=[update.geometry.name]).astype(object)
        table = pd.concat([table, new.reset_index(drop=True)], ignore_index=True)
        lon = np.r_[lon, [update.geometry.iat[i].x for i in added]]
        lat = np.r_[lat, [update.geometry.iat[i].y for i in added]]
        codes = np.r_[codes, np.array([opened[i].district_code for i in added], dtype=object)]
    if added:  # rows of other shapes were joined: a field one side lacks is None, never NaN
        table = table.astype(object).where(table.notna(), None)
    for name in ("amenities", "served_groups", "honours"):
        if name in table:
            table[name] = [v if isinstance(v, list) else [] for v in table[name]]
    stations = gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(lon, lat), crs=geo.WGS84)
    versions = dict(columns.versions)
    versions.update({r.id: r.version for r in changed})
    return RegisterColumns(stations, np.asarray(codes, dtype=object), versions, revision, columns.metadata)


class LiveRegister:
    """
    The app state of one process, kept in step with the register's database.

    At start-up the served columns come from the register's signed column copy when there is one (then only the
    edits since it are read), else from the database, which then writes the copy in the background for the
    next start (registers of `COLUMN_COPY_FROM` stations or more).

    Parameters
    ----------
    settings
        The app's settings (``cache_dir`` holds the column copy).
    store
        The register.
    column_copy_from
        Register size from which the column copy is kept.
    background_from
        Registers of this many stations or more are refreshed in the background (see `current`). A size, not a
        measured time, so whether a request sees an edit never depends on how busy the machine was.
    confirmations_every_s
        Seconds between two reads of new confirmations (0: at every request; tests).
    """

    def __init__(self, settings: Settings, store: Store, *, column_copy_from: int = COLUMN_COPY_FROM,
                 background_from: int = BACKGROUND_FROM,
                 confirmations_every_s: float = CONFIRMATIONS_EVERY_S) -> None:
        self.settings = settings
        self.store = store
        self.background_from = background_from
        self.confirmations_every_s = confirmations_every_s
        self._lock = threading.Lock()
        self._confirmed_read_at = time.monotonic()
        self._confirmed_since = utc_now() - _CONFIRMATIONS_OVERLAP
        self._confirmed: dict[str, str] = {sid: _china_day(when)
                                           for sid, when in store.latest_confirmations().items()}
        rubric_path = default_rubric_path(settings.data_dir)
        self._rubric: Rubric | None = load_rubric(rubric_path) if rubric_path.is_file() else None
        copied = load_columns(store, Path(settings.cache_dir)) if store.count() >= column_copy_from else None
        columns = copied if copied is not None else read_columns(store)
        changed, revision = store.changed_since(columns.revision)
        columns = merge_changes(columns, changed, max(revision, columns.revision))
        self._columns = columns
        self._state = self._build(columns, dict(columns_districts(settings, columns)))
        logger.info("Serving %d stations of revision %d in %d districts%s.", len(columns.stations),
                    columns.revision, len(self._state.districts),
                    " (from the column copy)" if copied is not None else "")
        if len(columns.versions) >= column_copy_from and (copied is None or changed):
            threading.Thread(target=self._save, args=(columns,), name="stationmap-column-copy", daemon=True).start()

    def _save(self, columns: RegisterColumns) -> None:
        try:
            path = save_columns(self.store, Path(self.settings.cache_dir), columns)
            logger.info("Kept the register's columns at revision %d in %s for a fast start.", columns.revision, path)
        except (OSError, StorageError) as err:  # only start-up time is lost
            logger.warning("Could not keep the register's column copy: %s", err)

    def _build(self, columns: RegisterColumns, districts: dict[str, District]) -> AppState:
        return state_from_stations(self.settings, columns.stations, columns.metadata, rubric=self._rubric,
                                   districts=districts, district_codes=columns.codes, revision=columns.revision,
                                   versions=columns.versions, confirmed=self._confirmed)

    @property
    def revision(self) -> int:
        """The store revision the served state reflects."""
        return self._columns.revision

    def current(self) -> AppState:
        """
        Return the state for this request, with every edit committed before it unless the register is national.

        A register of fewer than `background_from` stations (every city register) is brought up to date before
        the request is answered, so the next request after an edit sees it in every process. A larger one (a
        national register takes seconds) is rebuilt by one background thread while requests go on with the
        state before the edit; `is_stale` tells the few answers that must be exact (a station's record and
        version) to read the database instead.

        Workers' confirmations are read first when `confirmations_every_s` has passed (`_read_confirmations`).
        """
        if time.monotonic() - self._confirmed_read_at >= self.confirmations_every_s:
            self._read_confirmations()
        if self.store.revision() == self._columns.revision:
            return self._state
        if len(self._columns.versions) < self.background_from:
            with self._lock:  # one thread rebuilds; the others wait for it, then see the edits too
                self._catch_up()
        elif not self._lock.locked():
            threading.Thread(target=self._catch_up_in_background, name="stationmap-refresh", daemon=True).start()
        return self._state

    def _read_confirmations(self) -> None:
        """
        Read the confirmations made since the last read (with `_CONFIRMATIONS_OVERLAP`) into the served state.

        Only the confirmation dates of the state are replaced (`AppState.confirmed`); the stations and their
        lookups are shared. Skipped while another thread rebuilds or reads (the next request tries again), so a
        rebuild never drops a confirmation read beside it.
        """
        if not self._lock.acquire(blocking=False):
            return
        try:
            started = utc_now()
            found = self.store.latest_confirmations(since=self._confirmed_since)
            self._confirmed_since = started - _CONFIRMATIONS_OVERLAP
            self._confirmed_read_at = time.monotonic()
            newer = {sid: day for sid, when in found.items()
                     if (day := _china_day(when)) > self._confirmed.get(sid, "")}
            if newer:
                self._confirmed = {**self._confirmed, **newer}  # a new dict: states already handed out keep theirs
                self._state = replace(self._state, confirmed=MappingProxyType(dict(self._confirmed)))
        except StorageError as err:  # the dates shown stay as they were; the next request tries again
            logger.warning("Could not read the workers' confirmations: %s", err)
        finally:
            self._lock.release()

    def is_stale(self) -> bool:
        """Whether edits have been committed that the served state does not show yet."""
        return self.store.revision() != self._columns.revision

    def wait_until_current(self, timeout_s: float = 60.0) -> bool:
        """Wait for a background rebuild to show every committed edit (tests and benchmarks); True if it does."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.current()
            if not self.is_stale():
                return True
            time.sleep(0.02)
        return False

    def _catch_up_in_background(self) -> None:
        if not self._lock.acquire(blocking=False):
            return  # another thread is at it; it loops until nothing is left
        try:
            while self.store.revision() != self._columns.revision:
                self._catch_up()
        except Exception:  # a failed refresh leaves the old state served; the next request tries again
            logger.exception("Could not apply the register's latest edits")
        finally:
            self._lock.release()

    def _catch_up(self) -> None:
        """Apply the edits committed since the served state (hold `_lock`)."""
        changed, revision = self.store.changed_since(self._columns.revision)
        if revision <= self._columns.revision:
            return
        started = time.perf_counter()
        columns = merge_changes(self._columns, changed, revision)
        districts = dict(self._state.districts)
        if set(columns.codes.tolist()) - set(districts) - {""}:
            districts.update(columns_districts(self.settings, columns))
        state = self._build(columns, districts)
        self._state, self._columns = state, columns  # readers see the old pair or the new one
        logger.info("Applied %d edited stations (revision %d) in %.2f s.", len(changed), revision,
                    time.perf_counter() - started)


def columns_districts(settings: Settings, columns: RegisterColumns) -> dict[str, District]:
    """The boundaries of the districts served: those of the stations and those the settings name."""
    return served_districts(settings, columns.stations, codes=columns.codes).districts


def app_state(app: Flask | Any = None) -> AppState:
    """
    Return the state the current request (or `app`) should answer from.

    ``app.extensions["stationmap"]`` holds a `LiveRegister` (the server) or a fixed `AppState` (benchmarks and
    tests that build one directly).
    """
    holder = (app or current_app).extensions["stationmap"]
    return holder.current() if isinstance(holder, LiveRegister) else holder
