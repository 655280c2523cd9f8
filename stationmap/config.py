"""One frozen Settings object, built once at the edge (CLI or WSGI entry point) and passed down."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from stationmap.errors import BadRequestError
from stationmap.parameters import RADIUS_M

__all__ = ["BUNDLED_DATA_DIR", "BUNDLED_STATIC_DIR", "Settings"]


def _package_dir(package: str) -> Path:
    """Find a folder installed as a package: the checkout's ``data/`` or ``static/``, or their copy in a wheel."""
    # the package is installed unzipped (setuptools' default), so the resource is a real folder on disk
    return Path(str(resources.files(package)))


BUNDLED_DATA_DIR = _package_dir("stationmap.data")
"""Demo boundaries, stations and the star rubric (``data/`` of the checkout, installed as ``stationmap.data``)."""
BUNDLED_STATIC_DIR = _package_dir("stationmap.static")
"""Vendored Leaflet and the page scripts (``static/`` of the checkout, installed as ``stationmap.static``)."""


def _split_paths(raw: str) -> tuple[Path, ...]:
    """Read an `os.pathsep`-separated list of paths (``STATIONMAP_STATIONS``)."""
    return tuple(Path(part) for part in raw.split(os.pathsep) if part.strip())


def _split_names(raw: str) -> tuple[str, ...]:
    """Read a comma-separated list of district names or adcodes (``STATIONMAP_DISTRICTS``)."""
    return tuple(part.strip() for part in raw.replace("，", ",").split(",") if part.strip())


def _optional_path(raw: str) -> Path | None:
    return Path(raw) if raw.strip() else None


@dataclass(frozen=True)
class Settings:
    """
    Runtime settings with documented defaults.

    Attributes
    ----------
    data_dir
        Folder holding ``stations/*.geojson`` and ``boundaries/*.geojson`` (WGS-84); defaults to the demo data
        shipped inside the package, `BUNDLED_DATA_DIR`.
    static_dir
        Folder of vendored web assets; defaults to the ones shipped inside the package, `BUNDLED_STATIC_DIR`.
    default_radius_m
        Service radius in meters used when a caller gives none: `stationmap.parameters.RADIUS_M`'s default, the
        "one-kilometre service circle", and within its range (checked when the settings are built).
    max_results
        Upper bound on ``k`` / ``limit`` in queries.
    host, port
        Address the WSGI server binds to.
    tile_provider
        ``osm`` (default), ``amap`` (GCJ-02 tiles; markers are converted) or ``tianditu`` (needs `tianditu_key`).
    tianditu_key
        API key for Tianditu tiles.
    max_request_bytes
        Largest request body the server accepts.
    cache_dir
        Where district boundaries converted to WGS-84 are kept (``$XDG_CACHE_HOME/stationmap``, else
        ``~/.cache/stationmap``).
    stations
        The station register to serve: GeoJSON station files and folders (a folder means its ``*.geojson``).
        Empty (the default) serves ``data_dir/stations/*.geojson``, the bundled demo. From the environment,
        ``STATIONMAP_STATIONS`` is an `os.pathsep`-separated list (``a.geojson:b.geojson`` on Linux).
    districts
        Districts to serve besides those the stations belong to, by adcode or Chinese name (``440106``,
        ``广州市天河区``); a city or province means each of its county-level districts. From the environment,
        ``STATIONMAP_DISTRICTS`` is a comma-separated list.
    boundary
        A boundary file of the user's own (GeoJSON, shapefile, GeoPackage) served as a district in place of the
        built-in one; it takes its adcode from the file or, failing that, from the one entry of `districts`.
    boundary_crs
        Datum of `boundary`: ``wgs84``, ``gcj02``, ``bd09`` or an EPSG code. Required with `boundary`: it is
        never guessed.
    proxy_hops
        Number of trusted proxies in front of the app (``STATIONMAP_PROXY_HOPS``; 1 behind nginx). The app then
        takes the client's address, scheme, host, port and path prefix from that many ``X-Forwarded-*`` values, so
        links and redirects say ``https://`` and the public host. 0 (the default) ignores those headers: never set
        it higher than the proxies really there, or clients can forge them.
    database_url
        The living register's database (``STATIONMAP_DATABASE_URL``): ``sqlite:///path.db`` (embedded, WAL) or
        ``postgresql://user@host:port/dbname`` (PostGIS, shared by several servers). Empty (the default) keeps the
        register in a SQLite file under `data_home`, one per set of station files, filled from them on first run.
    data_home
        Where registers without a `database_url` are kept (``$XDG_DATA_HOME/stationmap``, else
        ``~/.local/share/stationmap``). Unlike `cache_dir` this holds edits: back it up.
    threads
        Request threads of one server process (``STATIONMAP_THREADS``; waitress, and gunicorn's
        ``deploy/gunicorn.conf.py``). Planner and report requests may hold at most all but one of them while they
        wait for their pools (`stationmap.web.pool.waiting_limits`), so the worker's page always has a thread.
    planner_workers, report_workers
        Threads computing planner answers and building reports (``STATIONMAP_PLANNER_WORKERS``,
        ``STATIONMAP_REPORT_WORKERS``); a report build holds the interpreter for seconds, so one is the default.
    session_secret
        Key that signs the browser session cookies (``STATIONMAP_SESSION_SECRET``, at least 32 characters). Empty
        (the default) uses a random one made on first run and kept in the register's database, so every worker
        process serving it agrees; changing it signs everyone out.
    cookie_secure
        When session cookies carry ``Secure``: ``auto`` (the default: when the request came over HTTPS, as the
        proxy reports it with `proxy_hops`), ``always`` or ``never``.
    session_hours
        How long a sign-in lasts, in hours (12 by default).
    feedback_deadline_days
        Working days (Monday to Friday, Asia/Shanghai; public holidays are not known) editors have to close a
        worker's report before it is flagged overdue (``STATIONMAP_FEEDBACK_DEADLINE_DAYS``, 3 by default).
    demand, demand_weight_col, demand_crs
        A demand file (points or polygons with a weight; `stationmap.demand.load_demand`) the planner's coverage,
        gaps and sites use (``STATIONMAP_DEMAND``, ``STATIONMAP_DEMAND_WEIGHT_COL``, ``STATIONMAP_DEMAND_CRS``: the
        datum of a CSV). None (the default): demand is each district's area.
    demand_osm
        An OSM extract whose walkable street length and worker hot spots are the planner's demand
        (``STATIONMAP_DEMAND_OSM``); not together with `demand`.
    candidates, candidates_crs
        A file of candidate sites the planner's sites are chosen from (``STATIONMAP_CANDIDATES``,
        ``STATIONMAP_CANDIDATES_CRS``). None (the default): points generated inside the gaps.
    candidates_osm
        An OSM extract whose host institutions are the candidates (``STATIONMAP_CANDIDATES_OSM``); not together
        with `candidates`. Demand and candidates are read once, when the app starts.
    """

    data_dir: Path = BUNDLED_DATA_DIR
    static_dir: Path = BUNDLED_STATIC_DIR
    default_radius_m: float = RADIUS_M.default
    max_results: int = 200
    host: str = "127.0.0.1"
    port: int = 8000
    tile_provider: str = "osm"
    tianditu_key: str = field(default="", repr=False)
    max_request_bytes: int = 1_000_000
    cache_dir: Path = field(default_factory=lambda: _default_cache_dir())
    stations: tuple[Path, ...] = field(default=(), metadata={"from_env": _split_paths})
    districts: tuple[str, ...] = field(default=(), metadata={"from_env": _split_names})
    boundary: Path | None = field(default=None, metadata={"from_env": _optional_path})
    boundary_crs: str = ""
    proxy_hops: int = 0
    database_url: str = field(default="", repr=False)  # may hold a password
    data_home: Path = field(default_factory=lambda: _default_data_home())
    session_secret: str = field(default="", repr=False)
    cookie_secure: str = "auto"
    session_hours: float = 12.0
    feedback_deadline_days: int = 3
    threads: int = 8
    planner_workers: int = 2
    report_workers: int = 1
    demand: Path | None = field(default=None, metadata={"from_env": _optional_path})
    demand_weight_col: str = ""
    demand_crs: str = ""
    demand_osm: Path | None = field(default=None, metadata={"from_env": _optional_path})
    candidates: Path | None = field(default=None, metadata={"from_env": _optional_path})
    candidates_crs: str = ""
    candidates_osm: Path | None = field(default=None, metadata={"from_env": _optional_path})

    def __post_init__(self) -> None:
        problem = RADIUS_M.problem(str(self.default_radius_m))
        if problem is not None:
            msg = f"Setting default_radius_m (STATIONMAP_DEFAULT_RADIUS_M) {problem}."
            raise BadRequestError(msg)
        if self.threads < 3:
            msg = f"Setting threads (STATIONMAP_THREADS) must be 3 or more (the worker's page keeps one), got {self.threads}."
            raise BadRequestError(msg)
        if self.planner_workers < 1 or self.report_workers < 1:
            msg = (f"Settings planner_workers and report_workers must be 1 or more, got {self.planner_workers} and "
                   f"{self.report_workers}.")
            raise BadRequestError(msg)
        if not 1 <= self.feedback_deadline_days <= 60:
            msg = ("Setting feedback_deadline_days (STATIONMAP_FEEDBACK_DEADLINE_DAYS) must be between 1 and 60 "
                   f"working days, got {self.feedback_deadline_days}.")
            raise BadRequestError(msg)
        if self.proxy_hops < 0:
            msg = f"Setting proxy_hops (STATIONMAP_PROXY_HOPS) must be 0 or more, got {self.proxy_hops}."
            raise BadRequestError(msg)

    @classmethod
    def from_env(cls, prefix: str = "STATIONMAP_", environ: Mapping[str, str] | None = None) -> Settings:
        """
        Build settings from environment variables such as ``STATIONMAP_PORT``.

        Parameters
        ----------
        prefix
            Prefix of the variable names; the rest is the upper-cased field name.
        environ
            Mapping to read instead of ``os.environ`` (for tests).

        Raises
        ------
        BadRequestError
            If a variable cannot be converted to its field's type, or the default radius is out of range.
        """
        env: Mapping[str, str] = os.environ if environ is None else environ
        # each value has its own field's type, which only the dataclass constructor checks
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = env.get(prefix + f.name.upper())
            if raw is None:
                continue
            kind: Callable[[str], object] = (f.metadata.get("from_env")
                                             or (Path if f.type == "Path" else type(f.default)))
            try:
                values[f.name] = kind(raw)
            except ValueError as err:
                msg = f"Environment variable {prefix + f.name.upper()}={raw!r} is not a valid {kind.__name__}."
                raise BadRequestError(msg) from err
        return cls(**values)

    def replace(self, **changes: object) -> Settings:
        """Return a copy with `changes` applied, ignoring those whose value is None."""
        kept: dict[str, Any] = {k: v for k, v in changes.items() if v is not None}
        return dataclasses.replace(self, **kept)


def _default_data_home() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "stationmap"


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "stationmap"
