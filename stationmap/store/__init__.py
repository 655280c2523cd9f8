"""The living register's storage: one interface (`Store`), SQLite (WAL) embedded and PostgreSQL + PostGIS shared.

`open_store` picks the backend from a URL: ``sqlite:///register.db`` or ``postgresql://user@host/db``.
"""

from __future__ import annotations

from stationmap.errors import BadRequestError
from stationmap.store.base import (
    ACTIONS,
    FEEDBACK_STATES,
    FEEDBACK_TRANSITIONS,
    OPEN_FEEDBACK_STATES,
    ROLES,
    Change,
    Edit,
    Feedback,
    FeedbackChange,
    NthLatest,
    Snapshot,
    StationRecord,
    Store,
    User,
    utc_now,
)

__all__ = [
    "ACTIONS",
    "FEEDBACK_STATES",
    "FEEDBACK_TRANSITIONS",
    "OPEN_FEEDBACK_STATES",
    "ROLES",
    "Change",
    "Edit",
    "Feedback",
    "FeedbackChange",
    "NthLatest",
    "Snapshot",
    "StationRecord",
    "Store",
    "User",
    "open_store",
    "utc_now",
]


def open_store(url: str) -> Store:
    """
    Open (creating its tables if needed) the register a database URL names.

    Parameters
    ----------
    url
        ``sqlite:///relative.db``, ``sqlite:////absolute/path.db``, or ``postgresql://user:password@host:port/db``
        (also ``postgres://``; the database must exist and have the PostGIS extension available).

    Raises
    ------
    BadRequestError
        If the URL names no supported database.
    StorageError
        If the database cannot be opened or has another schema version.
    """
    text = str(url or "").strip()
    if text.startswith("sqlite:"):
        from stationmap.store.sqlite import SQLiteStore

        return SQLiteStore(text)
    if text.startswith(("postgresql:", "postgres:")):
        from stationmap.store.postgis import PostGISStore

        return PostGISStore(text)
    msg = (f"Database URL {text!r} names no supported database: expected sqlite:///path.db or "
           "postgresql://user@host:port/dbname.")
    raise BadRequestError(msg)
