"""Files as stationmap reads and writes them: UTF-8 text with precise errors, and atomic replacement under a lock.

This module also declares, in one place, the limits on what comes in (``MAX_*``): table and workbook sizes, cell
and text-field lengths, request headers. Each is checked where the input is read, before it can cost much.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import sys
import tempfile
import unicodedata
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from stationmap.errors import StationDataError

# `sys.platform` (same as os.name == "nt" here) is the test mypy understands, so each platform checks its own branch
if sys.platform == "win32":  # Windows locks byte ranges of an open file; POSIX flocks the folder itself
    import msvcrt
else:
    import fcntl

__all__ = [
    "MAX_CELL_CHARS",
    "MAX_HEADER_BYTES",
    "MAX_TABLE_BYTES",
    "MAX_TEXT_CHARS",
    "MAX_XLSX_UNCOMPRESSED_BYTES",
    "MULTILINE_FIELDS",
    "atomic_write",
    "check_xlsx_size",
    "decode_table_text",
    "is_formula_text",
    "neutralise_formula",
    "read_utf8",
]

# --- limits on what comes in ------------------------------------------------------------------------------------

#: Largest CSV table read, in bytes on disk (a district's register is a few hundred kilobytes).
MAX_TABLE_BYTES = 50_000_000
#: Largest total uncompressed size of the parts of an XLSX workbook (a zip), checked before openpyxl opens it: a
#: 311 KB workbook can hold a 300 MB string.
MAX_XLSX_UNCOMPRESSED_BYTES = 100_000_000
#: Longest cell of an imported table, in characters (Excel's own limit per cell).
MAX_CELL_CHARS = 32_767
#: Longest value of each text field of a station record, in characters; fields not named use ``"*"``.
MAX_TEXT_CHARS: Mapping[str, int] = {
    "id": 64,
    "name": 200,
    "name_en": 200,
    "district": 100,
    "phone": 64,
    "manager": 100,
    "host_org": 200,
    "address": 500,
    "opening_hours": 500,
    "opening_hours_raw": 1000,
    "*": 2000,
}
#: Text fields that may span lines: tab, line feed and carriage return are allowed in them. Every other control
#: character (NUL included) is an error in every text field, and names and ids are one line.
MULTILINE_FIELDS = frozenset({"address", "host_org", "opening_hours_raw"})
#: Largest request line plus headers the web app accepts, in bytes (answered with 431 beyond).
MAX_HEADER_BYTES = 16_384


# a cell a spreadsheet runs as a formula starts with one of these (OWASP "CSV injection")...
_FORMULA_STARTS = frozenset("=+-@\t\r")
# ...unless it is a plain number such as -3.5 or +1e3
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def is_formula_text(value: object) -> bool:
    """
    Return True for text a spreadsheet would run as a formula: it starts with ``=``, ``+``, ``-``, ``@``, tab or CR.

    Numbers, and text that is a plain number such as ``-3.5``, are not formulas.
    """
    return (isinstance(value, str) and bool(value) and value[0] in _FORMULA_STARTS
            and not _PLAIN_NUMBER.fullmatch(value))


def neutralise_formula(value: Any) -> Any:
    """
    Prefix ``'`` to text a spreadsheet would run as a formula (``=HYPERLINK(...)``, ``+cmd``, ``@SUM``; OWASP).

    Numbers, and text that is a plain number such as ``-3.5``, are left as they are (`is_formula_text`). The quote
    also makes openpyxl write an XLSX cell as a string, not as a formula. Every CSV or XLSX written for people goes
    through this, cell and header: ``frame.rename(columns=neutralise_formula).map(neutralise_formula)``.
    """
    return "'" + value if is_formula_text(value) else value


def check_xlsx_size(path: str | Path) -> None:
    """
    Refuse a workbook whose parts uncompress to more than `MAX_XLSX_UNCOMPRESSED_BYTES`, without uncompressing.

    Raises
    ------
    StationDataError
        If the file is not a zip (so not an XLSX workbook) or uncompresses to more than the limit.
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            total = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError) as err:
        msg = f"{path.name}: not an XLSX workbook ({err})."
        raise StationDataError(msg) from err
    if total > MAX_XLSX_UNCOMPRESSED_BYTES:
        msg = (f"{path.name}: the workbook uncompresses to {total:,} bytes, more than the limit of "
               f"{MAX_XLSX_UNCOMPRESSED_BYTES:,}; split the table.")
        raise StationDataError(msg)


def _gb2312_hanzi(char: str) -> bool:
    """True for the 6,763 hanzi of GB 2312 (lead bytes 0xB0-0xF7): the common ones, and those of most place names."""
    try:
        raw = char.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return len(raw) == 2 and 0xB0 <= raw[0] <= 0xF7


# symbols a clerk's Chinese table holds besides hanzi: CJK punctuation, full-width forms, a few units and marks
_COMMON_SYMBOLS = frozenset("℃㎡²³°±×÷·—–‘’“”…※№★☆●○■□▲△→←√①②③④⑤⑥⑦⑧⑨⑩ⅠⅡⅢⅣⅤ")


def _looks_like_chinese(text: str) -> bool:
    """True if the non-ASCII characters of `text` are (at least 95 %) GB 2312 hanzi and punctuation, none private."""
    unusual = 0
    total = 0
    for char in text:
        if char.isascii():
            continue
        total += 1
        if unicodedata.category(char) == "Co":
            return False
        code = ord(char)
        if not (_gb2312_hanzi(char) or 0x3000 <= code <= 0x303F or 0xFF01 <= code <= 0xFF5E
                or char in _COMMON_SYMBOLS):
            unusual += 1
    return unusual <= 0.05 * total


def decode_table_text(raw: bytes, *, name: str, encoding: str | None = None) -> str:
    """
    Decode a CSV table: UTF-8 (with or without BOM) or GB18030/GBK, and refuse anything ambiguous.

    Without `encoding` the rule is: strict UTF-8 (a BOM is dropped); else strict GB18030, accepted only if the text
    then reads as Chinese (no private-use characters and at most 5 % of the non-ASCII characters outside the
    6,763 hanzi of GB 2312, CJK punctuation and full-width forms); else refused. Big5 or Shift-JIS bytes often
    decode as GB18030 without error, into rare hanzi, kana, Greek and box-drawing characters: that is refused
    rather than imported as garbage. A genuine GBK file heavy in rare characters is read with ``encoding="gb18030"``.

    Parameters
    ----------
    raw
        The file's bytes.
    name
        The file name, for messages.
    encoding
        A Python codec name (``gbk``, ``big5``, ``utf-8``); decoding is then strict in that codec only.

    Raises
    ------
    StationDataError
        If the bytes cannot be decoded, or the encoding cannot be told with confidence (asking for ``--encoding``).
    """
    if encoding:
        try:
            codec = "utf-8-sig" if encoding.lower().replace("_", "-") in {"utf-8", "utf8"} else encoding
            return raw.decode(codec)
        except LookupError as err:
            msg = f"Unknown encoding {encoding!r}; give a codec such as utf-8, gb18030, gbk or big5."
            raise StationDataError(msg) from err
        except UnicodeDecodeError as err:
            msg = (f"{name}: not {encoding} text (invalid byte 0x{raw[err.start]:02x} at offset {err.start}); "
                   "give the file's encoding with --encoding.")
            raise StationDataError(msg) from err
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        utf8_error = err
    try:
        text = raw.decode("gb18030")
    except UnicodeDecodeError:
        text = None
    if text is not None and _looks_like_chinese(text):
        return text
    msg = (f"{name}: not UTF-8 (invalid byte 0x{raw[utf8_error.start]:02x} at offset {utf8_error.start}) and not "
           "GBK/GB18030 Chinese text either; give the encoding with --encoding (e.g. --encoding big5), or save the "
           "file as UTF-8 CSV.")
    raise StationDataError(msg)


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
    On POSIX the lock is an ``flock`` on the folder itself, so no lock file is left behind; on Windows, which cannot
    open a folder, it is an ``msvcrt`` lock on an empty ``.stationmap.lock`` file in the folder, left in place. On
    error the temporary file is removed and `path` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _folder_lock(path.parent) as dir_fd:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=suffix or path.suffix)
        os.close(fd)
        tmp_path = Path(tmp)
        try:
            tmp_path.unlink()  # writers such as GDAL want to create the file themselves
            yield tmp_path
            with open(tmp_path, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp_path, path)
            if dir_fd is not None:  # the rename itself is durable only once the folder is synced (POSIX)
                os.fsync(dir_fd)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp_path.unlink()


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[int | None]:
    """Hold an exclusive lock for writers in `folder`; yield the folder's descriptor (POSIX) or None (Windows)."""
    if sys.platform == "win32":
        fd = os.open(folder / ".stationmap.lock", os.O_RDWR | os.O_CREAT)
        try:
            while True:
                try:
                    msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
                    break
                except OSError as err:  # LK_LOCK gives up after ten one-second tries: wait on
                    if err.errno != errno.EDEADLOCK:
                        raise
            try:
                yield None
            finally:
                os.lseek(fd, 0, os.SEEK_SET)
                msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        finally:
            os.close(fd)
        return
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(dir_fd, fcntl.LOCK_EX)
        try:
            yield dir_fd
        finally:
            fcntl.flock(dir_fd, fcntl.LOCK_UN)
    finally:
        os.close(dir_fd)


#: Chinese column headers for CSV/XLSX export; import accepts them back.
