"""Which database holds the register a server or command works on, and its first filling from station files.

Without ``--database`` each set of station files gets its own SQLite register under ``Settings.data_home``
(``registers/<name>-<hash>.db``; the bundled demo ``registers/demo.db``), filled from the files on first use as one
changeset. Later runs serve the database, edits included. If the files change afterwards, a register that nobody
has edited is simply filled again; one that holds edits is never overwritten: the user is told to apply the file
as an update (``stationmap import FILE --into DATABASE``).
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from stationmap import geo
from stationmap.config import BUNDLED_DATA_DIR, Settings
from stationmap.districts import assign_districts
from stationmap.errors import BadRequestError, EditConflictError, StationDataError
from stationmap.stations import read_feature_collection, stations_from_features
from stationmap.store import Change, Store, open_store
from stationmap.store.sqlite import sqlite_path
from stationmap.validation import validate_features

__all__ = ["SEED_USER", "default_database_url", "open_register", "seed_store", "station_paths"]

logger = logging.getLogger(__name__)

#: The account named on the edits that first fill a register from its files.
SEED_USER = "stationmap"
_LISTED = 10


def station_paths(settings: Settings) -> list[Path]:
    """
    Return the station files of the register: ``settings.stations`` (a folder means its ``*.geojson``), else the demo.

    Parameters
    ----------
    settings
        ``stations`` (files and folders) and ``data_dir`` (whose ``stations/*.geojson`` is the register when
        ``stations`` is empty).

    Returns
    -------
    paths
        Files in the order given, each folder's files sorted by name, no file twice.

    Raises
    ------
    StationDataError
        If a named file or folder does not exist, or a named folder holds no ``*.geojson``.
    """
    if not settings.stations:
        folder = Path(settings.data_dir) / "stations"
        return sorted(folder.glob("*.geojson")) if folder.is_dir() else []
    out: list[Path] = []
    problems: list[str] = []
    for given in settings.stations:
        path = Path(given)
        if path.is_dir():
            found = sorted(path.glob("*.geojson"))
            if not found:
                problems.append(f"folder {str(path)!r} holds no *.geojson station file")
            out.extend(found)
        elif path.is_file():
            out.append(path)
        else:
            problems.append(f"{str(path)!r} is neither a station file nor a folder")
    if problems:
        msg = "Cannot serve the register: " + "; ".join(problems) + "."
        raise StationDataError(msg)
    return list(dict.fromkeys(p.resolve() for p in out))


def _fingerprint(paths: list[Path]) -> list[dict[str, Any]]:
    """What the register was filled from: each file's path, size and SHA-256."""
    out = []
    for path in paths:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        out.append({"path": str(path), "bytes": path.stat().st_size, "sha256": digest.hexdigest()})
    return out


def default_database_url(settings: Settings, paths: list[Path]) -> str:
    """
    Return the SQLite register a set of station files gets when no database is named.

    ``<data_home>/registers/demo.db`` for the bundled demo, ``data-<8 hex>.db`` for another data folder's
    stations, else ``<data_home>/registers/<first file's stem>-<8 hex of the files' paths>.db``.
    """
    folder = Path(settings.data_home) / "registers"
    key = hashlib.sha256("\n".join(str(p) for p in paths).encode("utf-8")).hexdigest()[:8]
    if not settings.stations:  # the stations of a data folder: the bundled demo, or another --data-dir
        bundled = Path(settings.data_dir).resolve() == BUNDLED_DATA_DIR.resolve()
        return f"sqlite:///{folder / ('demo.db' if bundled else f'data-{key}.db')}"
    stem = "".join(ch for ch in (paths[0].stem if paths else "register") if ch.isalnum() or ch in "-_")[:40]
    name = f"{stem or 'register'}-{key}.db"
    return f"sqlite:///{folder / name}"


def seed_store(store: Store, paths: list[Path], settings: Settings) -> int:
    """
    Fill an empty register from station files, as one changeset by `SEED_USER`.

    Every file is validated as `stationmap validate` does; each station's district is found with
    `districts.assign_districts`. The files' metadata (demo notices) and fingerprint are kept with the register.

    Parameters
    ----------
    store
        An empty register.
    paths
        GeoJSON station files.
    settings
        ``data_dir`` and ``cache_dir`` for the boundaries.

    Returns
    -------
    n
        Stations added.

    Raises
    ------
    StationDataError
        If a file is invalid or ids collide across files.
    """
    features: list[dict[str, Any]] = []
    metadata: list[dict[str, Any]] = []
    for path in paths:
        doc = read_feature_collection(path)
        report = validate_features(doc, source=path.name)
        if not report.ok():
            raise StationDataError(report.message(limit=50), problems=report.problems)
        metadata.append(dict(doc.get("metadata") or {}))
        for feature in doc["features"]:
            props = dict(feature["properties"])
            sid = str(props.get("id", feature.get("id")))
            props["id"] = sid
            features.append({"type": "Feature", "id": sid, "geometry": feature["geometry"], "properties": props})
    ids = pd.Series([f["id"] for f in features], dtype=object)
    duplicated = ids[ids.duplicated()].unique().tolist()
    if duplicated:
        msg = f"Station ids appear in more than one record: {', '.join(map(repr, duplicated[:_LISTED]))}."
        raise StationDataError(msg)
    frame = (stations_from_features(features) if features else
             gpd.GeoDataFrame({"district_code": []}, geometry=gpd.points_from_xy([], []), crs=geo.WGS84))
    codes = assign_districts(frame, data_dir=Path(settings.data_dir), cache_dir=Path(settings.cache_dir)).codes
    changes = [Change(f["id"], "add", f, str(code or "")) for f, code in zip(features, codes, strict=True)]
    names = ", ".join(p.name for p in paths) or "no files"
    try:
        if changes:
            store.apply(changes, user=SEED_USER, comment=f"filled from {names}")
    except EditConflictError:
        if store.get_meta("seed_files") is None:  # not another process filling it from the same files
            raise
        return 0
    store.set_meta("seed_metadata", metadata)
    store.set_meta("seed_files", _fingerprint(paths))
    store.set_meta("seed_revision", store.revision())
    logger.info("Filled register %s with %d stations from %s.", _safe_url(store.url), len(changes), names)
    return len(changes)


def open_register(settings: Settings, *, fill: bool = True) -> Store:
    """
    Open the register the settings name, filling it from the station files on first use.

    Parameters
    ----------
    settings
        ``database_url`` (or, when empty, a SQLite file under ``data_home`` per set of station files),
        ``stations`` (or the bundled demo), ``data_dir``, ``cache_dir``.
    fill
        Fill an empty register from the station files (the server does); False opens it as it is, e.g. to add
        accounts to a new database before its first start.

    Returns
    -------
    store
        The open register.

    Raises
    ------
    BadRequestError
        If station files are given for a register that holds edits and was filled from other files (exit 2: the
        message says how to apply the files as an update).
    StationDataError, StorageError
        If a file is invalid or the database cannot be opened.
    """
    paths = station_paths(settings)
    url = settings.database_url or default_database_url(settings, paths)
    store = open_store(url)
    if store.revision() == 0:
        if fill:
            seed_store(store, paths, settings)
        return store
    seeded = store.get_meta("seed_files")
    if not settings.stations and settings.database_url:
        return store  # a named database served alone
    now = _fingerprint(paths)
    if seeded == now:
        return store
    edited = store.revision() > int(store.get_meta("seed_revision") or 0)
    if not settings.database_url and not edited:
        logger.info("The station files changed since register %s was filled and it holds no edits: filling it "
                    "again.", _safe_url(url))
        store.close()
        path = sqlite_path(url)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        store = open_store(url)
        seed_store(store, paths, settings)
        return store
    if not settings.stations:
        logger.warning("The bundled demo changed since register %s was filled; it holds edits, so it is served as "
                       "it is.", _safe_url(url))
        return store
    names = " ".join(str(p) for p in paths)
    msg = (f"The register {_safe_url(url)} was filled from other station files, and holds edits made since. To "
           f"apply the files as an update, run: stationmap import {names} --into {_safe_url(url)} --dry-run (it "
           "lists what would change; then without --dry-run). To serve the register as it is, leave out the files.")
    raise BadRequestError(msg)


def _safe_url(url: str) -> str:
    """A database URL without its password, for messages and logs."""
    if "://" not in url or "@" not in url.split("://", 1)[1]:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    return f"{scheme}://{credentials.split(':', 1)[0]}@{host}"
