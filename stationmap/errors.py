"""The one error tree of stationmap; every error knows the HTTP status it maps to.

::

    StationMapError                      base, 500
    ├── BadRequestError (ValueError)     a request or CLI parameter is malformed or out of range, 400
    ├── StationDataError (ValueError)    a station file or record is missing, malformed or invalid, 422
    │   └── ImportMappingError           an import could not map columns or values, 422
    ├── DatumError (ValueError)          a coordinate datum is missing, unknown or unsupported, 400
    ├── CRSMismatchError (ValueError)    two inputs are in different CRS, 422
    ├── BoundaryError (ValueError)       a district boundary is unknown or unreadable, 422
    │   └── DistrictLookupError          no division, or several, fit a district's adcode or name, 404
    ├── OpeningHoursError (ValueError)   an opening_hours string cannot be parsed, 422
    ├── EmptyInputError (ValueError)     an analysis got nothing to work on, 422
    ├── MissingExtraError (ImportError)  an optional part (stationmap[pdf], [osm], [ilp]) is not installed, 501
    ├── StationNotFoundError (KeyError)  no station with that id, 404
    ├── StorageError                     the database cannot be opened, is of another version, or failed, 503
    ├── EditConflictError                an edit would create a station id that exists, 409
    ├── VersionConflictError             an edit names a version that is no longer current, 412
    ├── PreconditionRequiredError        an edit names no version (If-Match), 428
    ├── AuthenticationError              no or wrong credentials, 401
    ├── PermissionDeniedError            the user's role or districts do not allow it, 403
    └── TooManyAttemptsError             too many failed logins or feedback reports; retry later, 429

Faces translate these only at the edge: the web app to ``{"ok": false, "error": msg, "status": n}``, the CLI to
exit code 1 with the message.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "BoundaryError",
    "CRSMismatchError",
    "DatumError",
    "DistrictLookupError",
    "EditConflictError",
    "EmptyInputError",
    "ImportMappingError",
    "MissingExtraError",
    "OpeningHoursError",
    "PermissionDeniedError",
    "PreconditionRequiredError",
    "StationDataError",
    "StationMapError",
    "StationNotFoundError",
    "StorageError",
    "TooManyAttemptsError",
    "VersionConflictError",
]


class StationMapError(Exception):
    """Base class of every error stationmap raises on purpose."""

    http_status = 500


class BadRequestError(StationMapError, ValueError):
    """A request or command-line parameter is malformed or out of range."""

    http_status = 400


class StationDataError(StationMapError, ValueError):
    """A station file or record is missing, malformed, or fails validation; `problems` lists them where known."""

    http_status = 422

    def __init__(self, message: str, *, problems: tuple = ()) -> None:
        super().__init__(message)
        self.problems = problems


class ImportMappingError(StationDataError):
    """An import could not map a column or value of the source table."""


class DatumError(StationMapError, ValueError):
    """A coordinate datum is missing, unknown, or cannot be applied."""

    http_status = 400


class CRSMismatchError(StationMapError, ValueError):
    """Two inputs that must share a CRS do not."""

    http_status = 422


class BoundaryError(StationMapError, ValueError):
    """A district boundary is unknown, unreadable, or not a polygon."""

    http_status = 422


class DistrictLookupError(BoundaryError):
    """No district, city or province fits an adcode or name, or several do (`candidates` lists them)."""

    http_status = 404

    def __init__(self, message: str, *, candidates: tuple = ()) -> None:
        super().__init__(message)
        self.candidates = candidates
        if candidates:
            self.http_status = 400


class OpeningHoursError(StationMapError, ValueError):
    """An ``opening_hours`` string cannot be parsed."""

    http_status = 422


class EmptyInputError(StationMapError, ValueError):
    """An analysis was given no stations, no region, or no demand."""

    http_status = 422


class MissingExtraError(StationMapError, ImportError):
    """An optional dependency is not installed; the message names the extra to install (``stationmap[pdf]``)."""

    http_status = 501


class StationNotFoundError(StationMapError, KeyError):
    """No station has the requested id."""

    http_status = 404

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class StorageError(StationMapError):
    """The station database cannot be opened, has another schema version, or a statement failed."""

    http_status = 503


class EditConflictError(StationMapError):
    """An edit would add a station whose id is already in the register (open or closed)."""

    http_status = 409


class VersionConflictError(StationMapError):
    """
    An edit was based on a version of the station that is no longer current (HTTP 412 Precondition Failed).

    `current` is the station as it is now (a `stationmap.store.StationRecord`), so the caller can show it.
    """

    http_status = 412

    def __init__(self, message: str, *, current: object = None) -> None:
        super().__init__(message)
        self.current = current


class PreconditionRequiredError(StationMapError):
    """A change to an existing station did not say which version it is based on (HTTP 428, ``If-Match``)."""

    http_status = 428


class AuthenticationError(StationMapError):
    """No credentials, or wrong ones: a login, session or API token is needed (HTTP 401)."""

    http_status = 401


class PermissionDeniedError(StationMapError):
    """The user is known but their role or districts do not allow this (HTTP 403)."""

    http_status = 403


class TooManyAttemptsError(StationMapError):
    """Too many failed logins, or feedback reports, for a name, address or station; `retry_after_s` says when (429)."""

    http_status = 429

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
