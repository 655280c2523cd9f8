"""A signed on-disk copy of the served register's columns, so a server starts without parsing every record.

Parsing 200,000 JSON records and building their columns takes longer than the start-up budget; unpickling the
columns takes a fraction of it. The copy names the register (its ``register_id``) and the revision it reflects;
a server loads it, applies the edits committed since (`Store.changed_since`) and is ready. The file is signed with
HMAC-SHA256 under a key kept in the register's database, so a file that does not come from this register (or was
changed) is ignored, never unpickled.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
import pickle
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np

from stationmap.files import atomic_write
from stationmap.store import Store

__all__ = ["RegisterColumns", "cache_path", "load_columns", "save_columns"]

logger = logging.getLogger(__name__)

_MAGIC = b"stationmap-columns-1\n"
_DIGEST = 32  # bytes of an HMAC-SHA256


@dataclass(frozen=True)
class RegisterColumns:
    """
    The served part of a register at one revision.

    Attributes
    ----------
    stations
        The open and temporarily closed stations, EPSG:4326, in register order.
    codes
        The district of each row ("" outside China's districts).
    versions
        Station id -> version, for every station of the register (closed ones too).
    revision
        The register revision the columns reflect.
    metadata
        The register's seed metadata (demo notices).
    """

    stations: gpd.GeoDataFrame
    codes: np.ndarray
    versions: dict[str, int]
    revision: int
    metadata: list[dict[str, Any]]


def _identity(store: Store) -> tuple[str, bytes]:
    """The register's id and signing key, made once per register (race-free across processes)."""
    found = store.set_meta_if_absent("columns_cache", {"register_id": secrets.token_hex(8),
                                                       "key": secrets.token_hex(32)})
    return str(found["register_id"]), bytes.fromhex(found["key"])


def cache_path(store: Store, cache_dir: Path) -> Path:
    """Where this register's column copy lives: ``<cache_dir>/registers/<register_id>.columns``."""
    register_id, _ = _identity(store)
    return Path(cache_dir) / "registers" / f"{register_id}.columns"


def save_columns(store: Store, cache_dir: Path, columns: RegisterColumns) -> Path:
    """
    Write the column copy atomically, signed; return its path.

    Raises
    ------
    OSError
        If the folder cannot be written (callers log it: the copy only saves time).
    """
    _, key = _identity(store)
    path = cache_path(store, cache_dir)
    payload = pickle.dumps(columns, protocol=pickle.HIGHEST_PROTOCOL)
    signature = hmac.new(key, payload, hashlib.sha256).digest()
    with atomic_write(path) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(_MAGIC)
            handle.write(signature)
            handle.write(payload)
        tmp.chmod(0o600)
    return path


def load_columns(store: Store, cache_dir: Path) -> RegisterColumns | None:
    """
    Return the register's column copy if there is one signed by this register and not newer than it, else None.

    A missing, unreadable, foreign or tampered file is logged and ignored.
    """
    path = cache_path(store, cache_dir)
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as err:
        logger.warning("Cannot read the register's column copy %s: %s; reading the database instead.", path, err)
        return None
    _, key = _identity(store)
    head = len(_MAGIC)
    signature, payload = blob[head:head + _DIGEST], memoryview(blob)[head + _DIGEST:]
    expected = hmac.new(key, payload, hashlib.sha256).digest()
    if not blob.startswith(_MAGIC) or not hmac.compare_digest(signature, expected):
        logger.warning("The column copy %s is not signed by this register; ignoring it.", path)
        return None
    columns = pickle.load(io.BytesIO(payload))
    if not isinstance(columns, RegisterColumns) or columns.revision > store.revision():
        logger.warning("The column copy %s does not fit the register (revision %s); ignoring it.", path,
                       getattr(columns, "revision", "?"))
        return None
    return columns
