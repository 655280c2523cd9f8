"""Coverage reports per district, as a union bulletin prints them: self-contained HTML, PDF, CSV and GeoJSON.

A report composes the analysis results (inventory, coverage by radius and by time of day, gaps, proposed sites,
star-rubric review) and the data-quality warnings into one document. Figures are drawn with matplotlib's
object-oriented API (no pyplot state) in a CJK font, so Chinese names render as glyphs and not as boxes; the PDF
is the same HTML laid out by WeasyPrint.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from stationmap import geo, hours
from stationmap.analysis.coverage import CoverageReport, coverage_report, service_areas
from stationmap.analysis.gaps import GapReport, find_gaps
from stationmap.analysis.inventory import Inventory, station_inventory
from stationmap.analysis.rating import RatingSummary, rate_stations, summarize_ratings
from stationmap.analysis.siting import SitingResult, plan_sites
from stationmap.districts import District
from stationmap.errors import BadRequestError, EmptyInputError, StationMapError
from stationmap.rubric import Rubric
from stationmap.schema import AMENITIES, DEMO_NOTICE, HONOUR_LEVELS, KINDS
from stationmap.stations import ValidationReport, atomic_write, validate_stations

__all__ = [
    "CJK_FONT_FAMILY",
    "DEFAULT_RADII_M",
    "DEFAULT_TIMES",
    "DistrictReport",
    "build_district_report",
    "cjk_font_path",
    "render_html",
    "summary_table",
    "write_report",
]

DEFAULT_RADII_M = (500.0, 1000.0, 1500.0)
DEFAULT_TIMES = ("05:00", "12:30", "22:00")
CJK_FONT_FAMILY = "Noto Sans CJK SC"
_STAR_COLOURS = ["#9e9e9e", "#90caf9", "#4fc3f7", "#29b6f6", "#fb8c00", "#d81b60"]

Progress = Callable[[str], None]


@dataclass(frozen=True)
class DistrictReport:
    """
    Everything one district's report shows.

    Attributes
    ----------
    district
        The district (boundary in EPSG:4326).
    on
        Date whose weekday the time-of-day figures use (Asia/Shanghai).
    radius_m
        The headline service radius in metres (gaps, time of day, siting).
    inventory
        Headline counts.
    coverage
        Coverage at each radius (straight-line distance, local UTM).
    coverage_by_time
        Coverage at `radius_m` using only the stations open at each time of `on`.
    gaps
        Uncovered parts of the district at `radius_m`.
    sites
        Proposed new sites (maximal covering, k sites), or None when there was no gap to place them in.
    ratings
        Per-station rubric assessment (one row per station).
    rating_summary
        Counts of recorded vs qualified stars and review candidates.
    validation
        Data-quality problems of the station set against this district.
    data_date
        Latest ``last_verified`` of the stations, or None.
    demo
        Whether the station set is demo data (the report then carries the notice).
    notes
        Notes to print under "How figures were computed".
    """

    district: District
    on: dt.date
    radius_m: float
    inventory: Inventory
    coverage: tuple[CoverageReport, ...]
    coverage_by_time: tuple[CoverageReport, ...]
    gaps: GapReport
    sites: SitingResult | None
    ratings: pd.DataFrame = field(compare=False, repr=False)
    rating_summary: RatingSummary = field(compare=False)
    validation: ValidationReport = field(compare=False)
    data_date: str | None = None
    demo: bool = False
    stations: gpd.GeoDataFrame = field(default=None, compare=False, repr=False)  # type: ignore[assignment]
    covered: gpd.GeoDataFrame = field(default=None, compare=False, repr=False)  # type: ignore[assignment]
    notes: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        """District name with its city, e.g. 西安市灞桥区."""
        return self.district.label or self.district.adcode


def build_district_report(stations: gpd.GeoDataFrame, district: District, *, rubric: Rubric,
                          radii_m: Sequence[float] = DEFAULT_RADII_M, radius_m: float = 1000.0,
                          times: Sequence[str] = DEFAULT_TIMES, on: dt.date | None = None,
                          demand: gpd.GeoDataFrame | None = None, weight_col: str = "weight", k_sites: int = 5,
                          progress: Progress | None = None) -> DistrictReport:
    """
    Compute every figure of one district's coverage report.

    Parameters
    ----------
    stations
        The district's stations, EPSG:4326.
    district
        The district boundary (EPSG:4326).
    rubric
        Star rubric for the review list.
    radii_m
        Service radii in metres for the coverage table.
    radius_m
        Headline radius in metres, used for gaps, time of day and siting.
    times
        ``HH:MM`` times of day for the time-of-day coverage.
    on
        Date whose weekday those times fall on (default: today in Asia/Shanghai).
    demand, weight_col
        Optional demand layer (points or polygons, EPSG:4326) and its weight column.
    k_sites
        Number of new sites to propose (0 for none).
    progress
        Called with a short label before each step, for progress bars.

    Returns
    -------
    report
        All figures; areas in square metres computed in local UTM.

    Raises
    ------
    EmptyInputError
        If there are no stations.
    BadRequestError
        If a radius or time is out of range.
    """
    step = progress or (lambda _label: None)
    on = on or dt.datetime.now(hours.TZ).date()
    if not radii_m:
        msg = "Give at least one radius."
        raise BadRequestError(msg)
    region = district.geometry
    name = district.label
    step("inventory")
    inventory = station_inventory(stations)
    step("coverage")
    coverage = tuple(coverage_report(stations, region, radius_m=r, demand=demand, weight_col=weight_col,
                                     region_name=name) for r in radii_m)
    step("time of day")
    by_time = []
    for t in times:
        when = hours.resolve_when(f"{on.isoformat()}T{t}")
        try:
            by_time.append(coverage_report(stations, region, radius_m=radius_m, when=when, demand=demand,
                                           weight_col=weight_col, region_name=name))
        except EmptyInputError:  # nobody open at that hour: zero coverage, said as such
            by_time.append(_nobody_open(stations, region, radius_m=radius_m, when=when, name=name))
    step("gaps")
    gaps = find_gaps(stations, region, radius_m=radius_m, demand=demand, weight_col=weight_col, region_name=name)
    sites = None
    if k_sites > 0 and gaps.n_gaps > 0:
        step("siting")
        try:
            sites = plan_sites(stations, region, k=k_sites, radius_m=radius_m, demand=demand,
                               weight_col=weight_col if demand is not None else "weight")
        except EmptyInputError:
            sites = None
    step("stars")
    ratings = rate_stations(stations, rubric)
    validation = validate_stations(stations, districts={district.adcode: region} if district.adcode else None)
    verified = [v for v in stations.get("last_verified", []) if isinstance(v, str)]
    covered = service_areas(stations, region, radius_m=radius_m)
    demo = bool(stations.attrs.get("metadata", {}).get("demo")) or bool(stations.get("demo", pd.Series()).any())
    notes = (
        f"Coverage uses straight-line (geodesic) distance from each station; areas are computed in metres in "
        f"{coverage[0].crs}.",
        f"Time-of-day coverage counts only stations open at that time on {on.isoformat()} ({on.strftime('%A')}), "
        "from their opening_hours and status.",
    )
    return DistrictReport(district=district, on=on, radius_m=float(radius_m), inventory=inventory, coverage=coverage,
                          coverage_by_time=tuple(by_time), gaps=gaps, sites=sites, ratings=ratings,
                          rating_summary=summarize_ratings(ratings), validation=validation,
                          data_date=max(verified) if verified else None, demo=demo, stations=stations,
                          covered=covered, notes=notes)


def _nobody_open(stations: gpd.GeoDataFrame, region: Any, *, radius_m: float, when: dt.datetime,
                 name: str) -> CoverageReport:
    base = coverage_report(stations, region, radius_m=radius_m, region_name=name)
    return CoverageReport(radius_m=base.radius_m, distance_model=base.distance_model, crs=base.crs,
                          when=when.isoformat(), n_stations=base.n_stations, n_used=0, region_name=name,
                          region_area_m2=base.region_area_m2, covered_area_m2=0.0, covered_twice_area_m2=0.0,
                          pct_area_covered=0.0, pct_area_covered_twice=0.0,
                          notes=("No station is open at this time.",))


# --- figures ----------------------------------------------------------------------------------------------------

@cache
def cjk_font_path() -> str:
    """
    Return the file of the CJK font used for figures.

    matplotlib's own font list is cached on first use, so a font installed later is found through fontconfig.

    Raises
    ------
    StationMapError
        If no Noto CJK font is installed (Debian package ``fonts-noto-cjk``).
    """
    try:
        return font_manager.findfont(font_manager.FontProperties(family=CJK_FONT_FAMILY), fallback_to_default=False)
    except ValueError:
        pass
    try:
        found = subprocess.run(["fc-match", "-f", "%{file}", f"{CJK_FONT_FAMILY}:lang=zh-cn"], capture_output=True,
                               text=True, timeout=10, check=False).stdout.strip()
    except OSError:
        found = ""
    if found and "CJK" in Path(found).name:
        font_manager.fontManager.addfont(found)
        return found
    msg = f"Font {CJK_FONT_FAMILY!r} not found: install the Debian package fonts-noto-cjk for Chinese figures."
    raise StationMapError(msg)


def _figure(width_in: float, height_in: float) -> Figure:
    fig = Figure(figsize=(width_in, height_in), dpi=110)
    FigureCanvasAgg(fig)
    return fig


def _font() -> font_manager.FontProperties:
    return font_manager.FontProperties(fname=cjk_font_path())


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


def map_figure(report: DistrictReport, *, lang: str = "zh") -> bytes:
    """
    Draw the district outline, covered area, gaps, stations by star level and proposed sites, without tiles.

    Returns
    -------
    png
        PNG bytes; drawn in the district's local UTM CRS so shapes and distances are true.
    """
    t = _T[lang]
    outline = report.district.to_frame()
    crs = geo.metric_crs(outline)
    fig = _figure(7.5, 6.5)
    ax = fig.add_subplot()
    font = _font()
    if report.covered is not None and len(report.covered) and not report.covered.geometry.is_empty.all():
        report.covered.to_crs(crs).plot(ax=ax, color="#c8e6c9", edgecolor="none", zorder=1)
    if len(report.gaps.gaps):
        report.gaps.gaps.to_crs(crs).plot(ax=ax, color="#ffcdd2", edgecolor="#e57373", linewidth=0.4, zorder=2)
    outline.to_crs(crs).boundary.plot(ax=ax, color="#37474f", linewidth=1.0, zorder=3)
    pts = report.stations.to_crs(crs)
    for level in range(6):
        sel = pts[pts["stars"] == level]
        if len(sel):
            ax.scatter(sel.geometry.x, sel.geometry.y, s=14 + 5 * level, color=_STAR_COLOURS[level],
                       edgecolor="#263238", linewidth=0.4, zorder=4, label=f"{level}★" if level else t["unrated"])
    if report.sites is not None:
        sites = gpd.GeoDataFrame(geometry=gpd.points_from_xy([s.lon for s in report.sites.sites],
                                                             [s.lat for s in report.sites.sites]),
                                 crs=geo.WGS84).to_crs(crs)
        ax.scatter(sites.geometry.x, sites.geometry.y, marker="*", s=160, color="#1a237e", zorder=5,
                   label=t["proposed"])
        for rank, (x, y) in enumerate(zip(sites.geometry.x, sites.geometry.y, strict=True), start=1):
            ax.annotate(str(rank), (x, y), xytext=(5, 5), textcoords="offset points", fontsize=9,
                        color="#1a237e", fontproperties=font, zorder=6)
    ax.set_title(f"{report.title} · {t['map_title'].format(r=int(report.radius_m))}", fontproperties=font)
    ax.legend(prop=font, fontsize=8, loc="best", framealpha=0.85)
    ax.set_aspect("equal")
    ax.set_axis_off()
    _scale_bar(ax)
    return _png(fig)


def _scale_bar(ax: Any) -> None:
    x0, x1 = ax.get_xlim()
    y0, _ = ax.get_ylim()
    length = 10 ** int(np.log10((x1 - x0) / 4))
    length = length * 5 if length * 5 < (x1 - x0) / 3 else length * 2 if length * 2 < (x1 - x0) / 3 else length
    ax.plot([x0 + (x1 - x0) * 0.04, x0 + (x1 - x0) * 0.04 + length], [y0 + (x1 - x0) * 0.02] * 2, color="black",
            linewidth=2)
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    ax.text(x0 + (x1 - x0) * 0.04, y0 + (x1 - x0) * 0.03, label, fontsize=8)


def stars_chart(report: DistrictReport, *, lang: str = "zh") -> bytes:
    """Bar chart of recorded and rubric-qualified star levels; PNG bytes."""
    t = _T[lang]
    font = _font()
    fig = _figure(5.5, 3.0)
    ax = fig.add_subplot()
    levels = np.arange(6)
    ax.bar(levels - 0.2, report.rating_summary.recorded_by_level, width=0.4, color="#fb8c00", label=t["recorded"])
    ax.bar(levels + 0.2, report.rating_summary.qualified_by_level, width=0.4, color="#1e88e5", label=t["qualified"])
    ax.set_xticks(levels, [t["unrated"]] + [f"{i}★" for i in range(1, 6)], fontproperties=font)
    ax.set_ylabel(t["stations"], fontproperties=font)
    ax.set_title(t["stars_title"], fontproperties=font)
    ax.legend(prop=font)
    return _png(fig)


def amenities_chart(report: DistrictReport, *, lang: str = "zh") -> bytes:
    """Horizontal bars: how many stations offer each amenity (those offered anywhere); PNG bytes."""
    t = _T[lang]
    font = _font()
    counts = {k: v for k, v in report.inventory.amenities.items() if v > 0}
    toilet = report.inventory.toilet
    labels = [AMENITIES.label(k, lang) for k in counts] + [t["toilet_onsite"], t["toilet_nearby"]]
    values = [*counts.values(), toilet.get("onsite", 0), toilet.get("nearby", 0)]
    fig = _figure(5.5, 0.17 * len(values) + 0.9)
    ax = fig.add_subplot()
    y = np.arange(len(values))[::-1]
    ax.barh(y, values, color="#43a047")
    ax.set_yticks(y, labels, fontproperties=font)
    ax.set_xlabel(t["stations"], fontproperties=font)
    ax.set_title(t["amenities_title"].format(n=report.inventory.n_stations), fontproperties=font)
    return _png(fig)


def coverage_chart(report: DistrictReport, *, lang: str = "zh") -> bytes:
    """Covered and overlap shares of the district area by radius and by time of day; PNG bytes."""
    t = _T[lang]
    font = _font()
    fig = _figure(6.5, 3.0)
    ax1, ax2 = fig.subplots(1, 2, sharey=True)
    radii = [f"{int(c.radius_m)} m" for c in report.coverage]
    x = np.arange(len(radii))
    ax1.bar(x - 0.2, [c.pct_area_covered or 0 for c in report.coverage], width=0.4, color="#43a047",
            label=t["covered"])
    ax1.bar(x + 0.2, [c.pct_area_covered_twice or 0 for c in report.coverage], width=0.4, color="#1b5e20",
            label=t["covered_twice"])
    ax1.set_xticks(x, radii)
    ax1.set_ylabel("%")
    ax1.set_title(t["by_radius"], fontproperties=font)
    ax1.legend(prop=font, fontsize=7)
    times = [c.when[11:16] if c.when else "" for c in report.coverage_by_time]
    xt = np.arange(len(times))
    ax2.bar(xt, [c.pct_area_covered or 0 for c in report.coverage_by_time], color="#5e35b1")
    ax2.set_xticks(xt, times)
    ax2.set_title(t["by_time"].format(r=int(report.radius_m)), fontproperties=font)
    return _png(fig)


# --- HTML -------------------------------------------------------------------------------------------------------

_T: dict[str, dict[str, str]] = {
    "zh": {
        "title": "工会户外劳动者服务站点覆盖报告", "generated": "生成日期", "data_date": "数据核实截至",
        "headline": "总体情况", "stations": "站点数", "open": "正常开放", "kinds": "站点类型", "stars": "星级",
        "unrated": "未评星", "honours": "荣誉", "always_open": "24小时开放站点", "visits": "服务人次（有记录站点）",
        "amenities": "设施配置", "coverage": "服务覆盖", "radius": "服务半径", "area_pct": "面积覆盖率",
        "twice_pct": "重叠覆盖率（≥2站）", "demand_pct": "需求覆盖率", "time": "时段", "open_stations": "开放站点",
        "gaps": "主要覆盖空白", "gap_area": "面积", "gap_demand": "未覆盖需求", "nearest": "最近站点",
        "sites": "建议新增站点", "gain": "新增覆盖", "cumulative": "累计", "quality": "数据质量",
        "review": "星级复核名单", "recorded": "登记星级", "qualified": "符合星级", "method": "计算方法",
        "demo": "示意数据", "summary": "区县对比", "district": "区县", "no_gaps": "在该半径下无覆盖空白。",
        "map_title": "{r} 米服务圈、空白与站点", "stars_title": "登记星级与按标准核定星级", "toilet_onsite": "厕所（站内）",
        "toilet_nearby": "厕所（附近）", "amenities_title": "设施配置（共 {n} 个站点）", "covered": "覆盖",
        "covered_twice": "重叠覆盖", "by_radius": "按服务半径", "by_time": "按时段（{r} 米）", "proposed": "建议新址",
        "warnings": "警告", "errors": "错误", "none": "无", "level": "级别", "year": "年份", "title_col": "称号",
        "station": "站点", "missing": "缺项", "slivers": "另有 {n} 处小于 {a} 平方米的碎片未列出。",
        "sites_method": "方法：{m}；{opt}；最优性差距上界 {gap}%。", "optimal": "最优解", "not_optimal": "非最优解",
        "km2": "平方公里", "rank": "序号", "n_review": "共 {n} 个站点登记星级高于证据支持的级别。",
    },
    "en": {
        "title": "Outdoor-worker station coverage report", "generated": "Generated", "data_date": "Data verified up to",
        "headline": "Headline figures", "stations": "Stations", "open": "open", "kinds": "Kinds", "stars": "Stars",
        "unrated": "unrated", "honours": "Honours", "always_open": "Open 24 hours", "visits": "Visits (where recorded)",
        "amenities": "Amenities", "coverage": "Coverage", "radius": "Radius", "area_pct": "Area covered",
        "twice_pct": "Covered by ≥2 stations", "demand_pct": "Demand covered", "time": "Time",
        "open_stations": "Stations open", "gaps": "Largest gaps", "gap_area": "Area", "gap_demand": "Uncovered demand",
        "nearest": "Nearest station", "sites": "Recommended new sites", "gain": "Gain", "cumulative": "Cumulative",
        "quality": "Data quality", "review": "Star review list", "recorded": "Recorded", "qualified": "Qualified",
        "method": "How figures were computed", "demo": "Demo data", "summary": "Districts side by side",
        "district": "District", "no_gaps": "No gaps at this radius.", "map_title": "{r} m service areas, gaps, stations",
        "stars_title": "Recorded stars and stars the rubric supports", "toilet_onsite": "Toilet (on site)",
        "toilet_nearby": "Toilet (nearby)", "amenities_title": "Amenities (of {n} stations)", "covered": "covered",
        "covered_twice": "covered twice", "by_radius": "By radius", "by_time": "By time of day ({r} m)",
        "proposed": "Proposed site", "warnings": "warnings", "errors": "errors", "none": "none", "level": "Level",
        "year": "Year", "title_col": "Title", "station": "Station", "missing": "Missing",
        "slivers": "{n} slivers smaller than {a} m² are not listed.",
        "sites_method": "Method: {m}; {opt}; optimality gap at most {gap}%.", "optimal": "optimal",
        "not_optimal": "not proven optimal", "km2": "km²", "rank": "#",
        "n_review": "{n} stations are recorded above the level their attributes support.",
    },
}


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}%"


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, cls: str = "") -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _district_section(r: DistrictReport, lang: str) -> str:  # noqa: PLR0915 - one section of a document
    t = _T[lang]
    inv = r.inventory
    parts = [f'<section class="district"><h2>{_e(r.title)} <small>({_e(r.district.adcode)})</small></h2>']
    if r.demo:
        parts.append(f'<p class="demo"><strong>{_e(t["demo"])}</strong> {_e(DEMO_NOTICE[lang])}</p>')
    kinds = "，".join(f"{KINDS.label(k, lang)} {n}" for k, n in inv.by_kind.items() if n) if lang == "zh" else \
        ", ".join(f"{KINDS.label(k, lang)} {n}" for k, n in inv.by_kind.items() if n)
    stars = " · ".join(f"{level}★ {n}" if level else f"{t['unrated']} {n}" for level, n in inv.by_stars.items())
    honours = ", ".join(f"{HONOUR_LEVELS.label(k, lang)} {n}" for k, n in inv.honours_by_level.items() if n)
    rows = [
        (t["stations"], f"{inv.n_stations} ({t['open']} {inv.n_open})"),
        (t["kinds"], kinds),
        (t["stars"], stars),
        (t["honours"], honours or t["none"]),
        (t["always_open"], inv.n_always_open),
        (t["visits"], f"{inv.visits:,} ({inv.n_with_visits})" if inv.visits is not None else "–"),
    ]
    parts.append(f"<h3>{_e(t['headline'])}</h3>" + _table(("", ""), rows, cls="kv"))
    if inv.honours:
        parts.append(_table((t["station"], t["level"], t["title_col"], t["year"]),
                            [(h["station"], HONOUR_LEVELS.label(h["level"], lang), h["title"], h["year"])
                             for h in inv.honours]))
    parts.append(_img(amenities_chart(r, lang=lang), t["amenities"]))
    parts.append(f"<h3>{_e(t['coverage'])}</h3>")
    cov_rows = [(f"{int(c.radius_m)} m", _pct(c.pct_area_covered), _pct(c.pct_area_covered_twice),
                 _pct(c.demand.pct_covered) if c.demand else "–") for c in r.coverage]
    parts.append(_table((t["radius"], t["area_pct"], t["twice_pct"], t["demand_pct"]), cov_rows, cls="coverage"))
    time_rows = [(c.when[11:16] if c.when else "", f"{c.n_used}/{c.n_stations}", _pct(c.pct_area_covered),
                  _pct(c.pct_area_covered_twice)) for c in r.coverage_by_time]
    parts.append(_table((t["time"], t["open_stations"], t["area_pct"], t["twice_pct"]), time_rows, cls="by-time"))
    parts.append(_img(coverage_chart(r, lang=lang), t["coverage"]))
    parts.append(_img(map_figure(r, lang=lang), t["map_title"].format(r=int(r.radius_m))))
    parts.append(f"<h3>{_e(t['gaps'])} ({int(r.radius_m)} m)</h3>")
    if len(r.gaps.gaps):
        top = r.gaps.gaps.head(10)
        parts.append(_table((t["rank"], t["gap_area"] + f" ({t['km2']})", t["gap_demand"], t["nearest"]),
                            [(int(g.rank), f"{g.area_m2 / 1e6:.2f}",
                              f"{g.demand:,.0f}" if r.gaps.demand_col else "–",
                              "–" if g.nearest_station_id is None or pd.isna(g.nearest_station_m) else
                              f"{g.nearest_station_id} ({g.nearest_station_m:,.0f} m)") for g in top.itertuples()],
                            cls="gaps"))
        if r.gaps.n_slivers:
            parts.append(f"<p>{_e(t['slivers'].format(n=r.gaps.n_slivers, a=int(r.gaps.min_area_m2)))}</p>")
    else:
        parts.append(f"<p>{_e(t['no_gaps'])}</p>")
    if r.sites is not None and r.sites.sites:
        s = r.sites
        parts.append(f"<h3>{_e(t['sites'])}</h3>")
        area_mode = r.gaps.demand_col is None  # no demand layer: demand is area, gains in square metres
        gain_head = f"{t['gain']} ({t['km2']})" if area_mode else t["gain"]
        parts.append(_table((t["rank"], "lon", "lat", gain_head, t["cumulative"]),
                            [(c.rank, f"{c.lon:.5f}", f"{c.lat:.5f}",
                              f"{c.gain / 1e6:.2f}" if area_mode else f"{c.gain:,.0f}", f"{c.cumulative_pct:.1f}%")
                             for c in s.sites], cls="sites"))
        parts.append(f"<p>{_e(t['sites_method'].format(m=s.method, opt=t['optimal'] if s.optimal else t['not_optimal'], gap=round(s.gap_pct, 2)))}</p>")
    parts.append(f"<h3>{_e(t['review'])}</h3>")
    parts.append(_img(stars_chart(r, lang=lang), t["stars"]))
    review = r.ratings[r.ratings["review_candidate"]]
    parts.append(f"<p>{_e(t['n_review'].format(n=len(review)))}</p>")
    if len(review):
        parts.append(_table((t["station"], t["recorded"], t["qualified"], t["missing"]),
                            [(f"{row.station_id} {row.name}", f"{row.recorded_stars}★", f"{row.qualified_stars}★",
                              row.headline) for row in review.itertuples()], cls="review"))
    parts.append(f"<h3>{_e(t['quality'])}</h3>")
    v = r.validation
    parts.append(f"<p>{len(v.errors)} {_e(t['errors'])}, {len(v.warnings)} {_e(t['warnings'])}</p>")
    if v.problems:
        parts.append("<ul>" + "".join(f"<li>{_e(p)}</li>" for p in v.problems[:50]) + "</ul>")
    parts.append(f"<h3>{_e(t['method'])}</h3><ul>")
    facts = [*r.notes, f"Radius {int(r.radius_m)} m; distance model {r.coverage[0].distance_model}; "
             f"CRS {r.coverage[0].crs}; data verified up to {r.data_date or 'unknown'}.",
             f"Boundary: {r.district.source}."]
    parts.append("".join(f"<li>{_e(f)}</li>" for f in facts) + "</ul></section>")
    return "".join(parts)


def summary_table(reports: Sequence[DistrictReport]) -> pd.DataFrame:
    """
    Return one row per district for side-by-side comparison.

    Columns: adcode, district, stations, open, 24h, honours, visits, area_km2, covered_pct and covered_twice_pct at
    the headline radius, covered_pct at each time of day, gaps and review candidates.
    """
    rows = []
    for r in reports:
        head = next((c for c in r.coverage if c.radius_m == r.radius_m), r.coverage[0])
        row = {"adcode": r.district.adcode, "district": r.title, "stations": r.inventory.n_stations,
               "open": r.inventory.n_open, "always_open": r.inventory.n_always_open,
               "honours": len(r.inventory.honours), "visits": r.inventory.visits,
               "area_km2": round((head.region_area_m2 or 0) / 1e6, 1), "radius_m": int(r.radius_m),
               "covered_pct": head.pct_area_covered, "covered_twice_pct": head.pct_area_covered_twice}
        for c in r.coverage_by_time:
            row[f"covered_pct_{c.when[11:16] if c.when else ''}"] = c.pct_area_covered
        row.update(gaps=r.gaps.n_gaps, review_candidates=r.rating_summary.n_review_candidates)
        rows.append(row)
    return pd.DataFrame(rows)


_CSS = """
@page { size: A4; margin: 16mm 14mm; }
body { font-family: "Noto Sans CJK SC", "Noto Sans SC", sans-serif; color: #212121; max-width: 60rem;
       margin: 0 auto; padding: 1rem; line-height: 1.5; }
h1 { font-size: 1.6rem; border-bottom: 3px solid #c8102e; padding-bottom: .3rem; }
h2 { font-size: 1.3rem; margin-top: 2rem; }
section.district ~ section.district h2 { break-before: page; }
h2 small { color: #757575; font-weight: normal; }
h3 { font-size: 1.05rem; margin-top: 1.2rem; }
table { border-collapse: collapse; margin: .5rem 0; font-size: .85rem; width: 100%; }
th, td { border: 1px solid #ddd; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #f5f5f5; }
img { max-width: 100%; height: auto; display: block; margin: .5rem 0; }
.demo { background: #fff8e1; border: 1px solid #ffe082; padding: .4rem .6rem; }
.kv td:first-child { width: 30%; color: #555; }
ul { font-size: .85rem; }
"""


def render_html(reports: Sequence[DistrictReport], *, lang: str = "zh") -> str:
    """
    Render a self-contained HTML report (figures inline as PNG, no outside requests) for one or more districts.

    Parameters
    ----------
    reports
        District reports; with more than one, a side-by-side summary table comes first.
    lang
        ``zh`` (default) or ``en``.

    Raises
    ------
    BadRequestError
        If `lang` is not zh or en.
    """
    if lang not in _T:
        msg = f"Unknown report language {lang!r}; expected 'zh' or 'en'."
        raise BadRequestError(msg)
    t = _T[lang]
    today = dt.datetime.now(hours.TZ).date().isoformat()
    names = "、".join(r.title for r in reports) if lang == "zh" else ", ".join(r.title for r in reports)
    parts = [f'<!DOCTYPE html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">'
             f'<meta name="viewport" content="width=device-width, initial-scale=1">'
             f"<title>{_e(t['title'])} · {_e(names)}</title><style>{_CSS}</style></head><body>",
             f"<h1>{_e(t['title'])}</h1><p>{_e(names)} · {_e(t['generated'])} {today}</p>"]
    if any(r.demo for r in reports):
        parts.append(f'<p class="demo"><strong>{_e(t["demo"])}</strong> {_e(DEMO_NOTICE[lang])}</p>')
    if len(reports) > 1:
        table = summary_table(reports)
        parts.append(f"<h3>{_e(t['summary'])}</h3>")
        parts.append(_table(list(table.columns), [["–" if pd.isna(v) else v for v in row]
                                                  for row in table.itertuples(index=False)], cls="summary"))
    parts.extend(_district_section(r, lang) for r in reports)
    parts.append("</body></html>")
    return "".join(parts)


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
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    page = render_html(reports, lang=lang)
    written: dict[str, Path] = {}

    def _put(name: str, writer: Callable[[Path], None]) -> None:
        with atomic_write(out / name) as tmp:
            writer(tmp)
        written[name] = out / name

    _put("report.html", lambda p: p.write_text(page, encoding="utf-8"))
    if pdf:
        from weasyprint import HTML  # imported here: PDF output is optional and WeasyPrint is slow to import

        _put("report.pdf", lambda p: HTML(string=page, base_url=str(out)).write_pdf(p))
    _put("summary.csv", lambda p: summary_table(reports).to_csv(p, index=False, encoding="utf-8-sig"))
    coverage_rows = [{"adcode": r.district.adcode, **_coverage_row(c)} for r in reports
                     for c in (*r.coverage, *r.coverage_by_time)]
    _put("coverage.csv", lambda p: pd.DataFrame(coverage_rows).to_csv(p, index=False, encoding="utf-8-sig"))
    gaps = pd.concat([r.gaps.gaps.assign(adcode=r.district.adcode) for r in reports], ignore_index=True)
    gaps = gpd.GeoDataFrame(gaps, geometry="geometry", crs=geo.WGS84)
    _put("gaps.csv", lambda p: gaps.drop(columns="geometry").to_csv(p, index=False, encoding="utf-8-sig"))
    _put("gaps.geojson", lambda p: p.write_text(gaps.to_json(ensure_ascii=False, drop_id=True), encoding="utf-8"))
    site_rows = [{"adcode": r.district.adcode, "rank": s.rank, "lon": s.lon, "lat": s.lat, "gain": s.gain,
                  "cumulative_pct": s.cumulative_pct, "method": r.sites.method, "radius_m": r.sites.radius_m}
                 for r in reports if r.sites is not None for s in r.sites.sites]
    sites = gpd.GeoDataFrame(pd.DataFrame(site_rows, columns=["adcode", "rank", "lon", "lat", "gain",
                                                              "cumulative_pct", "method", "radius_m"]),
                             geometry=gpd.points_from_xy([s["lon"] for s in site_rows],
                                                         [s["lat"] for s in site_rows]), crs=geo.WGS84)
    _put("sites.csv", lambda p: sites.drop(columns="geometry").to_csv(p, index=False, encoding="utf-8-sig"))
    _put("sites.geojson", lambda p: p.write_text(sites.to_json(ensure_ascii=False, drop_id=True), encoding="utf-8"))
    review = pd.concat([r.ratings[r.ratings["review_candidate"]] for r in reports], ignore_index=True)
    _put("stars_review.csv", lambda p: review.to_csv(p, index=False, encoding="utf-8-sig"))
    return written


def _coverage_row(c: CoverageReport) -> dict[str, Any]:
    return {"radius_m": c.radius_m, "when": c.when or "", "distance_model": c.distance_model, "crs": c.crs,
            "n_stations": c.n_stations, "n_used": c.n_used, "region_area_m2": c.region_area_m2,
            "covered_area_m2": c.covered_area_m2, "covered_twice_area_m2": c.covered_twice_area_m2,
            "pct_area_covered": c.pct_area_covered, "pct_area_covered_twice": c.pct_area_covered_twice,
            "pct_demand_covered": c.demand.pct_covered if c.demand else None}
