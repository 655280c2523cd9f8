"""Files as stationmap reads and writes them: UTF-8 text with precise errors, and atomic replacement under a lock."""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from stationmap.errors import StationDataError

__all__ = ["atomic_write", "read_utf8"]


def read_utf8(path: str | Path, *, what: str) -> str:
    """
    Read a UTF-8 text file (a BOM is allowed), with a precise error for a missing, unreadable or mis-encoded file.

    Parameters
    ----------
    path
        The file.
    what
        What the file is, for messages (``"Station file"``, ``"Rubric file"``).

    Raises
    ------
    StationDataError
        If the file is missing or unreadable, or not UTF-8 (with the offending byte and its offset).
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError as err:
        msg = f"{what} {str(path)!r} does not exist."
        raise StationDataError(msg) from err
    except OSError as err:
        msg = f"Cannot read {what.lower()} {str(path)!r}: {err.strerror}."
        raise StationDataError(msg) from err
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        msg = (f"{path.name}: not UTF-8 (invalid byte 0x{raw[err.start]:02x} at offset {err.start}); "
               "save the file as UTF-8.")
        raise StationDataError(msg) from err



@contextlib.contextmanager
def atomic_write(path: str | Path, *, suffix: str | None = None) -> Iterator[Path]:
    """
    Yield a temporary path beside `path`; on success rename it over `path`, under an exclusive lock.

    Readers see either the old file or the new one, never a half-written file, and two writers never interleave.
    The lock is an ``flock`` on the folder itself, so no lock file is left behind. On error the temporary file is
    removed and `path` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        fcntl.flock(dir_fd, fcntl.LOCK_EX)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=suffix or path.suffix)
        os.close(fd)
        tmp_path = Path(tmp)
        try:
            tmp_path.unlink()  # writers such as GDAL want to create the file themselves
            yield tmp_path
            with open(tmp_path, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp_path, path)
            os.fsync(dir_fd)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp_path.unlink()
    finally:
        fcntl.flock(dir_fd, fcntl.LOCK_UN)
        os.close(dir_fd)


#: Chinese column headers for CSV/XLSX export; import accepts them back.
