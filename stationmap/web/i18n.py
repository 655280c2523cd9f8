"""The web pages' strings in the page's language, and what the worker page offers (needs, travel modes).

The strings themselves live in the catalogues of :mod:`stationmap.i18n` (``[web]`` in ``stationmap/locale/*.toml``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cache
from types import MappingProxyType

from stationmap import i18n, needs
from stationmap.i18n import LANGS
from stationmap.schema import (
    AMENITIES,
    COMPLAINT_LINE,
    DEMO_NOTICE,
    HONOUR_LEVELS,
    HOST_TYPES,
    KINDS,
    SERVED_GROUPS,
    TOILET,
)

__all__ = ["LANGS", "PAGE_SECTIONS", "UI", "best_lang", "client_strings", "text", "ui_strings"]


#: The needs the worker page offers, in its order (no choice means ``any``).
_PAGE_NEEDS = ("sanitation", "delivery_rider", "courier", "truck_driver")


#: Sub-tables of ``[web]`` whose strings only their own page needs (``[web.edit]`` for /edit ...).
PAGE_SECTIONS = ("edit", "login", "queue")


@cache
def ui_strings(pages: tuple[str, ...] = ()) -> Mapping[str, tuple[str, str]]:
    """
    Return the page strings (the catalogues' ``[web]`` table) as key -> (zh, en).

    The strings of `PAGE_SECTIONS` are left out unless their page is named in `pages`, so the worker's page does
    not carry the editor's words.
    """
    zh, en = i18n.section("web", "zh"), i18n.section("web", "en")
    left_out = tuple(f"{section}." for section in PAGE_SECTIONS if section not in pages)
    return MappingProxyType({key: (zh[key], en[key]) for key in zh if not key.startswith(left_out)})


class _UIStrings(Mapping[str, tuple[str, str]]):
    """The page strings as key -> (zh, en), read from the catalogues on first use rather than at import."""

    def __getitem__(self, key: str) -> tuple[str, str]:
        return ui_strings()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(ui_strings())

    def __len__(self) -> int:
        return len(ui_strings())


#: Page strings: key -> (zh, en).
UI: Mapping[str, tuple[str, str]] = _UIStrings()


def text(key: str, lang: str) -> str:
    """Return the page string `key` in `lang` (``zh`` or ``en``; anything else reads as ``zh``)."""
    return i18n.text(f"web.{key}", "en" if lang == "en" else "zh")


def best_lang(requested: str | None, accept_language: Mapping[str, float] | list[tuple[str, float]]) -> str:
    """
    Choose the page language: an explicit ``?lang=`` wins, then the browser's preference, then Chinese.

    Parameters
    ----------
    requested
        The ``lang`` query parameter, if any.
    accept_language
        ``(language tag, quality)`` pairs from the ``Accept-Language`` header, best first.
    """
    if requested in LANGS:
        return requested
    pairs = accept_language.items() if isinstance(accept_language, Mapping) else accept_language
    for tag, _quality in pairs:
        base = str(tag).lower().split("-")[0]
        if base in LANGS:
            return base
    return "zh"


def client_strings(pages: tuple[str, ...] = ()) -> dict[str, object]:
    """Return everything the browser script needs to render and switch languages, with zh and en (`ui_strings`)."""
    def both(vocab) -> dict[str, dict[str, str]]:
        return {key: {"zh": vocab.label(key, "zh"), "en": vocab.label(key, "en")} for key in vocab.keys}

    return {
        "ui": {key: {"zh": zh, "en": en} for key, (zh, en) in ui_strings(pages).items()},
        "amenities": both(AMENITIES),
        "toilet": both(TOILET),
        "kinds": both(KINDS),
        "host_types": both(HOST_TYPES),
        "honour_levels": both(HONOUR_LEVELS),
        "served_groups": both(SERVED_GROUPS),
        # the worker page's needs (one tap each), travel modes and the labels of what a partial match is missing
        "needs": {key: {"label": {"zh": n.zh, "en": n.en}, "mode": n.default_mode, "open_at": n.open_at}
                  for key in _PAGE_NEEDS for n in (needs.NEEDS[key],)},
        "modes": {key: {"label": {"zh": m.zh, "en": m.en}, "speed_m_per_min": m.speed_m_per_min, "cap_m": m.cap_m}
                  for key, m in needs.MODES.items()},
        "need_groups": {g.key: {"zh": g.zh, "en": g.en}
                        for n in needs.NEEDS.values() for g in (*n.required, needs.OPEN_GROUP)},
        "demo_notice": dict(DEMO_NOTICE),
        "complaint_line": COMPLAINT_LINE,
    }
