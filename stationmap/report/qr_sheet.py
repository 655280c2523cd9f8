"""The printable QR sheet of a district: one code per open station, opening its page with the feedback form.

A4 pages of `CARDS_PER_PAGE` cards (3 columns by 4 rows, dashed cut lines), each card a QR code (segno, inline
SVG) with the station's name and id under it, under a title naming the district and what scanning does. A code
holds the worker page's deep link, ``<base>/?station=<url-quoted id>`` (``&lang=en`` on an English sheet). The
page is ``templates/qr_sheet.html`` with autoescaping on; the PDF is laid out by WeasyPrint as the reports are.
"""

from __future__ import annotations

import math
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import segno
from markupsafe import Markup

from stationmap import i18n
from stationmap.districts import District
from stationmap.errors import BadRequestError, EmptyInputError
from stationmap.report.render import render_pdf, template_environment

__all__ = ["CARDS_PER_PAGE", "QR_ERROR", "QrCard", "QrSheet", "build_qr_sheet", "check_base_url", "qr_svg",
           "render_qr_html", "render_qr_pdf", "station_page_url"]

#: Cards on one A4 page: 3 columns by 4 rows of 63 x 63 mm (the template's grid).
CARDS_PER_PAGE = 12
#: QR error correction level (segno's ``error``): M restores 15 % of a soiled or torn code, and a station URL
#: still fits a version 3-4 symbol, about 1.1 mm a module at 40 mm.
QR_ERROR = "m"
#: Longest name printed on a card, in characters (a longer one ends with …; three lines at most).
_NAME_CHARS = 40


@dataclass(frozen=True)
class QrCard:
    """One card of the sheet: the station, and the URL its code holds."""

    station_id: str
    name: str
    url: str


@dataclass(frozen=True)
class QrSheet:
    """
    A district's QR sheet, before layout.

    Attributes
    ----------
    adcode, title
        The district's adcode and name with its city (西安市灞桥区).
    lang
        ``zh`` or ``en``: the sheet's words and the language the codes open the page in.
    base_url
        The worker page's address the codes point under (checked by `check_base_url`).
    cards
        One per open station, in id order.
    n_left_out
        Stations of the district left out because they are closed (for good or for now).
    """

    adcode: str
    title: str
    lang: str
    base_url: str
    cards: tuple[QrCard, ...]
    n_left_out: int

    @property
    def n_pages(self) -> int:
        """A4 pages the sheet prints on."""
        return math.ceil(len(self.cards) / CARDS_PER_PAGE)


def check_base_url(base_url: str) -> str:
    """
    Return the worker page's address without a trailing slash, if it is http(s) with a host and nothing after.

    Raises
    ------
    BadRequestError
        If it is not ``http://`` or ``https://``, has no host, or carries a query, a fragment, spaces or control
        characters.
    """
    text = str(base_url).strip()
    problem = None
    try:
        parts = urllib.parse.urlsplit(text)
        host = parts.hostname
        _ = parts.port  # read only to be checked: a port out of range or not a number raises
    except ValueError as err:  # a malformed port or IPv6 literal
        parts, host, problem = None, None, str(err)
    if parts is None:
        pass
    elif parts.scheme not in ("http", "https"):
        problem = "it must start with http:// or https://"
    elif not host:
        problem = "it has no host"
    elif parts.query or parts.fragment or text.endswith(("?", "#")):
        problem = "it must not carry a query (?...) or a fragment (#...)"
    elif any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in text):
        problem = "it contains spaces or control characters"
    if problem:
        msg = f"Base URL {text[:80]!r} refused: {problem} (e.g. https://stations.example.org)."
        raise BadRequestError(msg)
    return text.rstrip("/")


def station_page_url(base_url: str, station_id: str, *, lang: str = "zh") -> str:
    """
    Return the worker page's deep link to one station and its feedback form: ``<base>/?station=<quoted id>``.

    The id is URL-quoted with nothing kept (``/`` becomes ``%2F``); ``&lang=en`` is added for English.
    """
    url = f"{check_base_url(base_url)}/?station={urllib.parse.quote(str(station_id), safe='')}"
    return url + "&lang=en" if i18n.check_lang(lang) == "en" else url


def build_qr_sheet(stations: pd.DataFrame, district: District, *, base_url: str, lang: str = "zh") -> QrSheet:
    """
    Choose the cards of a district's QR sheet: its open stations, in id order.

    Parameters
    ----------
    stations
        The district's stations (``id``, ``name``, ``status``; a missing status counts as open).
    district
        The district (its label titles the sheet).
    base_url
        The worker page's address, ``http(s)://host[/path]``.
    lang
        ``zh`` or ``en``.

    Raises
    ------
    BadRequestError
        If `base_url` or `lang` is refused.
    EmptyInputError
        If the district has no open station (the message says how many closed ones there are).
    """
    base = check_base_url(base_url)
    i18n.check_lang(lang)
    status = stations["status"] if "status" in stations else pd.Series(["open"] * len(stations), index=stations.index)
    is_open = [s is None or (isinstance(s, float) and math.isnan(s)) or s == "open" for s in status]
    chosen = stations[is_open]
    title = district.label or district.adcode
    if chosen.empty:
        msg = (f"{title} ({district.adcode}) has no open station to print a QR code for "
               f"({len(stations)} station(s), {len(stations) - len(chosen)} closed).")
        raise EmptyInputError(msg)
    names = chosen["name"] if "name" in chosen else pd.Series([""] * len(chosen), index=chosen.index)
    cards = sorted((QrCard(station_id=str(sid), name=_short(str(name) if isinstance(name, str) else ""),
                           url=station_page_url(base, str(sid), lang=lang))
                    for sid, name in zip(chosen["id"], names, strict=True)), key=lambda c: c.station_id)
    return QrSheet(adcode=district.adcode, title=title, lang=lang, base_url=base, cards=tuple(cards),
                   n_left_out=len(stations) - len(chosen))


def qr_svg(url: str) -> str:
    """Return the QR code of `url` as inline SVG markup (segno, error level `QR_ERROR`, 4-module quiet zone)."""
    code = segno.make(url, error=QR_ERROR, micro=False)
    return str(code.svg_inline(scale=1, border=4, omitsize=True, dark="#000", light="#fff"))


def render_qr_html(sheet: QrSheet) -> str:
    """
    Lay the sheet out as one HTML page: each A4 page titled, its cards in a 3 x 4 grid with dashed cut lines.

    Station names and ids are HTML-escaped; the QR codes are inline SVG, so the page makes no outside request.
    """
    lang = sheet.lang

    def t(key: str, **fields: Any) -> str:
        return i18n.text(f"report.qr.{key}", lang, **fields)

    pages: list[Sequence[dict[str, Any]]] = []
    for start in range(0, len(sheet.cards), CARDS_PER_PAGE):
        chunk = sheet.cards[start:start + CARDS_PER_PAGE]
        cards = [{"id": c.station_id, "name": c.name, "svg": Markup(qr_svg(c.url))}
                 for c in chunk]
        pages.append(cards)
    return template_environment().get_template("qr_sheet.html").render(
        t=t, html_lang=i18n.text("report.html_lang", lang), title=sheet.title, adcode=sheet.adcode,
        base_url=sheet.base_url, n_pages=len(pages), n_cards=len(sheet.cards), n_left_out=sheet.n_left_out,
        rows=[[page[i:i + 3] for i in range(0, len(page), 3)] for page in pages])


def render_qr_pdf(sheet: QrSheet) -> bytes:
    """
    Lay the sheet out as an A4 PDF with WeasyPrint.

    Raises
    ------
    MissingExtraError
        If WeasyPrint is not installed: ``pip install 'stationmap[pdf]'``.
    """
    return render_pdf(render_qr_html(sheet))


def _short(name: str) -> str:
    name = " ".join(name.split())
    return name if len(name) <= _NAME_CHARS else f"{name[:_NAME_CHARS - 1]}…"
