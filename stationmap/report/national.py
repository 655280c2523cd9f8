"""One coverage report for the nation (全国) or a province, computed on Dask: HTML, PDF and a CSV of every district.

A district report (:mod:`~stationmap.report.compose`) is about one county; the national union prints one bulletin
for the whole instead of 2,875 of them. :func:`build_national_report` runs
`stationmap.analysis.national.national_coverage` once (a province or the nation, every county in it) and keeps what
the bulletin shows: the headline (area and demand within reach, covered twice, stations), a table of the provinces
(or, for a province, of its counties), a county choropleth, the least-covered counties and how many fall below
`THRESHOLDS_PCT`. :func:`write_national_report` lays it out with ``templates/national.html`` (autoescaped) in
Chinese or English (``[report.national]`` of :mod:`stationmap.i18n`), as HTML, PDF (WeasyPrint) and
``districts.csv`` (UTF-8 with a BOM; text a spreadsheet would run as a formula is quoted).
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
from shapely.geometry.base import BaseGeometry

from stationmap import hours, i18n
from stationmap.analysis import kernel
from stationmap.analysis.coverage import CoverageReport
from stationmap.analysis.national import (
    AreaUnit,
    ChunkedDemand,
    NationalCoverage,
    UnitCoverage,
    national_coverage,
)
from stationmap.errors import BadRequestError
from stationmap.files import atomic_write, neutralise_formula
from stationmap.report import figures
from stationmap.report.render import render_pdf, template_environment
from stationmap.schema import DEMO_NOTICE

__all__ = [
    "LEAST_COVERED",
    "NATION_ADCODE",
    "THRESHOLDS_PCT",
    "NationalReport",
    "build_national_report",
    "national_table",
    "render_national_html",
    "write_national_report",
]

#: Shares of area covered (percent) below which the report counts the counties.
THRESHOLDS_PCT = (20.0, 50.0)
#: How many of the least-covered counties the report lists.
LEAST_COVERED = 20
#: The nation's own row in the CSV.
NATION_ADCODE = "100000"
_CSV = "districts.csv"


@dataclass(frozen=True)
class NationalReport:
    """
    Everything a national or provincial report shows.

    Attributes
    ----------
    name
        全国 or the province's label (广东省).
    coverage
        The answer of `national_coverage`: the whole, one row per province (for the nation) and per county.
    radius_m
        Service radius, metres (straight line).
    outlines
        Boundary of every district measured, by adcode, WGS-84 degrees (for the map).
    stations_source
        Where the stations came from: the file names, or None for the register (``--database``).
    n_stations_given
        Stations read (all of them, inside the selection or not; closed ones too).
    demand_source
        Name of the demand file, or None without demand.
    as_of
        The register's day (``--as-of``), or None.
    generated
        The day the report was made (China time).
    workers
        Dask workers the run used.
    demo
        Whether the stations are demo data (the report then carries the notice).
    """

    name: str
    coverage: NationalCoverage
    radius_m: float
    outlines: dict[str, BaseGeometry]
    stations_source: str | None
    n_stations_given: int
    demand_source: str | None = None
    as_of: dt.date | None = None
    generated: dt.date | None = None
    workers: int = 0
    demo: bool = False

    @property
    def whole(self) -> CoverageReport:
        """The selection as a whole (`NationalCoverage.whole`)."""
        return self.coverage.whole

    @property
    def is_nation(self) -> bool:
        """True for 全国 (more than one province measured)."""
        return len(self.provinces) > 1

    @property
    def provinces(self) -> list[UnitCoverage]:
        """Province rows, by adcode."""
        return [u for u in self.coverage.units if u.level == "province"]

    @property
    def counties(self) -> list[UnitCoverage]:
        """County rows, by adcode."""
        return [u for u in self.coverage.units if u.level == "county"]

    def table_rows(self) -> list[UnitCoverage]:
        """The main table: the provinces for the nation, else the counties; highest share covered first."""
        rows = self.provinces if self.is_nation else self.counties
        return sorted(rows, key=lambda u: (-(u.pct_area_covered or 0.0), u.adcode))

    def least_covered(self, n: int = LEAST_COVERED) -> list[UnitCoverage]:
        """
        The `n` counties with the lowest share of area covered; among equal shares (often 0 %), the most demand
        left uncovered first, then the largest area left uncovered, then by adcode.
        """
        return sorted(self.counties, key=lambda u: (round(u.pct_area_covered or 0.0, 6),
                                                    -(u.demand_total - u.demand_covered),
                                                    -(u.region_area_m2 - u.covered_area_m2), u.adcode))[:n]

    def n_below(self, pct: float) -> int:
        """Counties with less than `pct` percent of their area covered."""
        return sum((u.pct_area_covered or 0.0) < pct for u in self.counties)

    @property
    def n_without_station(self) -> int:
        """Counties with no station inside."""
        return sum(u.n_stations == 0 for u in self.counties)


def build_national_report(stations: gpd.GeoDataFrame, units: Sequence[AreaUnit], *, client: Any, name: str,
                          radius_m: float, stations_source: str | None, demand: ChunkedDemand | None = None,
                          demand_source: str | None = None, as_of: dt.date | None = None,
                          progress: Callable[[int], None] | None = None,
                          on_plan: Callable[[int], None] | None = None) -> NationalReport:
    """
    Compute a national or provincial report on a Dask cluster.

    Parameters
    ----------
    stations
        Station points (EPSG:4326 as loaded); closed ones do not cover.
    units
        The districts (`stationmap.analysis.national.division_units`): provinces or the province (the whole), and
        the counties.
    client
        A `distributed.Client` (`stationmap.analysis.national.open_client`).
    name
        全国 or the province's label.
    radius_m
        Service radius in metres.
    stations_source
        Where the stations came from, as the report prints it (file names), or None for the register.
    demand, demand_source
        Demand read tile by tile (`stationmap.demand_chunks.open_chunked_demand`) and its file name; None for
        areas only.
    as_of
        The register's day, when the stations are the register as of that day.
    progress, on_plan
        As `national_coverage`: called per tile finished, and once with the number of tiles.

    Returns
    -------
    report
        The figures, the outlines for the map and the words about the inputs.

    Raises
    ------
    BadRequestError, EmptyInputError
        As `national_coverage`.
    """
    result = national_coverage(stations, units, client=client, radius_m=radius_m, demand=demand, region_name=name,
                               progress=progress, on_plan=on_plan)
    metadata = stations.attrs.get("metadata", {}) or {}
    demo = bool(metadata.get("demo")) or bool("demo" in stations.columns and stations["demo"].fillna(False).any())
    return NationalReport(name=name, coverage=result, radius_m=float(radius_m),
                          outlines={u.adcode: u.geometry for u in units}, stations_source=stations_source,
                          n_stations_given=len(stations), demand_source=demand_source, as_of=as_of,
                          generated=dt.datetime.now(hours.TZ).date(),
                          workers=len(client.scheduler_info().get("workers", {})), demo=demo)


# --------------------------------------------------------------------------------------------------------------
# words and numbers


def _pct(value: float | None) -> str:
    """A share in percent: one decimal; a positive share below 0.05 % as < 0.1 % (it is not nothing)."""
    if value is None or pd.isna(value):
        return "–"
    if 0 < value < 0.05:
        return "<0.1%"
    return f"{value:.1f}%"


def _km2(area_m2: float) -> str:
    return f"{area_m2 / 1e6:,.0f}" if area_m2 >= 1e7 else f"{area_m2 / 1e6:,.1f}"


def _display_name(report: NationalReport, t: Callable[..., str]) -> str:
    return t("nation") if report.is_nation else report.name


def render_national_html(report: NationalReport, *, lang: str = "zh") -> str:
    """
    Render the report as one self-contained HTML page (the map inline as PNG; no outside request).

    Parameters
    ----------
    report
        From `build_national_report`.
    lang
        ``zh`` or ``en``: every word of the page.

    Returns
    -------
    html
        The page; every value taken from the data (file names, district names) is HTML-escaped.

    Raises
    ------
    BadRequestError
        If `lang` is not zh or en.
    """
    lang = i18n.check_lang(lang)

    def t(key: str, **fields: Any) -> str:
        return i18n.text(f"report.national.{key}", lang, **fields)

    name = _display_name(report, t)
    whole = report.whole
    n_counties = len(report.counties)
    headline = [
        (t("source"), report.stations_source or t("source_register")),
        (t("stations_given"), f"{report.n_stations_given:,}"),
        (t("stations_inside", name=name), t("stations_inside_value", n=f"{whole.n_stations:,}",
                                            used=f"{whole.n_used:,}")),
        (t("radius"), t("radius_value", r=f"{report.radius_m:,.0f}")),
        (t("area"), t("area_value", km2=_km2(whole.region_area_m2 or 0.0))),
        (t("covered"), _pct(whole.pct_area_covered)),
        (t("twice"), _pct(whole.pct_area_covered_twice)),
    ]
    if whole.demand is not None:
        headline += [(t("demand_source"), report.demand_source or ""),
                     (t("demand"), _pct(whole.demand.pct_covered)),
                     (t("demand_twice"), _pct(whole.demand.pct_covered_twice))]
    headline.append((t("n_counties"), t("n_counties_value", n=f"{n_counties:,}")))
    headline += [(t("below", pct=f"{pct:g}"), t("count_of", k=f"{report.n_below(pct):,}", n=f"{n_counties:,}"))
                 for pct in THRESHOLDS_PCT]
    headline.append((t("no_station"), t("count_of", k=f"{report.n_without_station:,}", n=f"{n_counties:,}")))
    headline.append((t("computed"), t("computed_value", tiles=f"{report.coverage.n_tiles:,}",
                                      deg=f"{report.coverage.tile_deg:g}", workers=report.workers)))
    demand = whole.demand is not None
    table_headers = [t("rank"), t("name"), t("adcode"), *([] if report.is_nation else [t("province")]),
                     t("stations"), t("area_km2"), t("covered_col"), t("twice_col"), *([t("demand_col")] * demand)]
    table = [[str(k), u.name, u.adcode, *([] if report.is_nation else [u.province]), f"{u.n_stations:,}",
              _km2(u.region_area_m2), _pct(u.pct_area_covered), _pct(u.pct_area_covered_twice),
              *([_pct(u.demand_pct_covered)] * demand)]
             for k, u in enumerate(report.table_rows(), start=1)]
    least = report.least_covered()
    gap_headers = [t("rank"), t("name"), t("adcode"), t("province"), t("stations"), t("area_km2"),
                   t("covered_col"), t("twice_col"), *([t("demand_col")] * demand)]
    gaps = [[str(k), u.name, u.adcode, u.province, f"{u.n_stations:,}", _km2(u.region_area_m2),
             _pct(u.pct_area_covered), _pct(u.pct_area_covered_twice), *([_pct(u.demand_pct_covered)] * demand)]
            for k, u in enumerate(least, start=1)]
    counties = report.counties
    png = figures.coverage_choropleth(
        [report.outlines[u.adcode] for u in counties], [u.pct_area_covered for u in counties],
        title=f"{name} · {t('map_title', r=f'{report.radius_m:,.0f}')}", lang=lang,
        provinces=[report.outlines[u.adcode] for u in report.provinces] if report.is_nation else ())
    return template_environment().get_template("national.html").render(
        t=t, lang_attr=i18n.text("report.html_lang", lang), title=t("title", name=name),
        generated=(report.generated or dt.datetime.now(hours.TZ).date()).isoformat(),
        as_of=report.as_of.isoformat() if report.as_of is not None else None,
        demo_notice=DEMO_NOTICE[lang] if report.demo else None, headline=headline,
        table_title=t("by_province") if report.is_nation else t("by_county"),
        table_headers=table_headers, main_rows=table,
        table_class="units" if report.is_nation else "least", sorted_note=t("sorted_note", csv=_CSV),
        map_src="data:image/png;base64," + base64.b64encode(png).decode(), map_alt=t("map_title", r=f"{report.radius_m:,.0f}"),
        gaps_title=t("gaps", n=len(least)), gap_headers=gap_headers, gaps=gaps)


# --------------------------------------------------------------------------------------------------------------
# the table and the files


_COLUMNS = ("level", "adcode", "name", "province", "radius_m", "n_stations", "n_used", "region_area_m2",
            "covered_area_m2", "pct_area_covered", "covered_twice_area_m2", "pct_area_covered_twice",
            "demand_total", "demand_covered", "demand_pct_covered", "demand_pct_covered_twice")


def national_table(report: NationalReport) -> pd.DataFrame:
    """
    Every district of the report as a table: for the nation its own row first (adcode 100000), then each
    province, then each county (by adcode); for a province its row then its counties.

    Areas in square metres, shares in percent; demand columns empty without demand. Text a spreadsheet would run as
    a formula is quoted with a leading ``'``.
    """
    rows: list[dict[str, Any]] = []
    whole = report.whole
    if report.is_nation:
        demand = whole.demand
        rows.append({"level": "nation", "adcode": NATION_ADCODE, "name": report.name, "province": "",
                     "n_stations": whole.n_stations, "n_used": whole.n_used, "region_area_m2": whole.region_area_m2,
                     "covered_area_m2": whole.covered_area_m2, "pct_area_covered": whole.pct_area_covered,
                     "covered_twice_area_m2": whole.covered_twice_area_m2,
                     "pct_area_covered_twice": whole.pct_area_covered_twice,
                     "demand_total": demand.total if demand else None,
                     "demand_covered": demand.covered if demand else None,
                     "demand_pct_covered": demand.pct_covered if demand else None,
                     "demand_pct_covered_twice": demand.pct_covered_twice if demand else None})
        rows[0] = {k: kernel.finite_or_none(v) if isinstance(v, float) else v for k, v in rows[0].items()}  # as to_dict
    rows += [u.to_dict() for u in (*report.provinces, *report.counties)]
    table = pd.DataFrame(rows).reindex(columns=list(_COLUMNS))
    table["radius_m"] = report.radius_m
    if whole.demand is None:
        for column in ("demand_total", "demand_covered", "demand_pct_covered", "demand_pct_covered_twice"):
            table[column] = None
    return table.map(neutralise_formula)


def write_national_report(report: NationalReport, out_dir: str | Path, *, lang: str = "zh",
                          pdf: bool = True) -> dict[str, Path]:
    """
    Write ``report.html``, ``report.pdf`` (unless `pdf` is False) and ``districts.csv`` into `out_dir`, each
    atomically; the CSV in UTF-8 with a BOM, so Excel and WPS show the Chinese names.

    Returns
    -------
    files
        Name -> path of every file written.

    Raises
    ------
    BadRequestError
        If `lang` is not zh or en.
    MissingExtraError
        If `pdf` and WeasyPrint is not installed (``stationmap[pdf]``).
    """
    if lang not in i18n.LANGS:
        msg = f"Unknown report language {lang!r}; expected 'zh' or 'en'."
        raise BadRequestError(msg)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    page = render_national_html(report, lang=lang)
    written: dict[str, Path] = {}

    def _put(name: str, writer: Callable[[Path], object]) -> None:
        with atomic_write(out / name) as tmp:
            writer(tmp)
        written[name] = out / name

    _put("report.html", lambda p: p.write_text(page, encoding="utf-8"))
    if pdf:
        _put("report.pdf", lambda p: p.write_bytes(render_pdf(page, base_url=str(out))))
    _put(_CSV, lambda p: national_table(report).to_csv(p, index=False, encoding="utf-8-sig"))
    return written
