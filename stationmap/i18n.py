"""The zh and en string catalogues: every word the report, the web pages and the hours descriptions show people.

One TOML file per language ships in the package, ``stationmap/locale/zh.toml`` and ``stationmap/locale/en.toml``,
with one table per user of the strings (``[report]``, ``[web]``, ``[hours]``); both files have the same keys (a test
checks it). A file is read and flattened to dotted keys (``"report.title"``, ``"hours.day.Mo"``) on first use and
kept for the life of the process. Values are :meth:`str.format` templates where they take fields (``"{n} 米"``).

Labels of the data vocabularies (amenities, kinds, host types, honour levels, the demo notice) stay beside their
keys in :mod:`stationmap.schema`: they are part of the vocabulary, accepted on import as well as shown.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

from stationmap.errors import BadRequestError
from stationmap.parameters import LANGS

__all__ = ["LANGS", "catalogue", "check_lang", "section", "text"]


def check_lang(lang: object) -> str:
    """
    Return `lang` if a catalogue exists for it.

    Raises
    ------
    BadRequestError
        If `lang` is not ``"zh"`` or ``"en"``.
    """
    if lang not in LANGS:
        msg = f"lang must be one of {', '.join(LANGS)}, got {lang!r}"
        raise BadRequestError(msg)
    return lang


@cache
def catalogue(lang: str) -> Mapping[str, str]:
    """
    Return every string of one language, keyed by dotted name (``"report.title"``).

    Parameters
    ----------
    lang
        ``"zh"`` or ``"en"``.

    Returns
    -------
    strings
        Read-only mapping, read from the packaged TOML file once per process.

    Raises
    ------
    BadRequestError
        If `lang` is not ``"zh"`` or ``"en"``.
    """
    check_lang(lang)
    raw = resources.files("stationmap").joinpath("locale", f"{lang}.toml").read_text(encoding="utf-8")
    return MappingProxyType(dict(_flatten(tomllib.loads(raw))))


def _flatten(table: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    items: list[tuple[str, str]] = []
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            items.extend(_flatten(value, f"{name}."))
        else:
            items.append((name, str(value)))
    return items


def text(key: str, lang: str, /, **fields: Any) -> str:
    """
    Return the string `key` in `lang`, with `fields` filled in when given.

    Parameters
    ----------
    key
        Dotted name, e.g. ``"report.slivers"``.
    lang
        ``"zh"`` or ``"en"``.
    **fields
        Values for the ``{name}`` fields of the string.

    Raises
    ------
    KeyError
        If no string has that key (a programming error: both catalogues have the same keys).
    BadRequestError
        If `lang` is not ``"zh"`` or ``"en"``.
    """
    value = catalogue(lang)[key]
    return value.format(**fields) if fields else value


@cache
def section(prefix: str, lang: str) -> Mapping[str, str]:
    """
    Return the strings under `prefix` (e.g. ``"web"``), keyed by the rest of their name (``"title"``).

    Raises
    ------
    BadRequestError
        If `lang` is not ``"zh"`` or ``"en"``.
    """
    start = f"{prefix}."
    return MappingProxyType({key[len(start):]: value for key, value in catalogue(lang).items()
                             if key.startswith(start)})
