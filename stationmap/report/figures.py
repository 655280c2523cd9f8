"""Draw a district report's figures (map, coverage, stars, amenities) as PNG with matplotlib, in a CJK font.

Figures use matplotlib's object-oriented API (no pyplot state) and the Noto Sans CJK font, so Chinese names render
as glyphs and not as boxes; their words come from the ``[report]`` catalogues of :mod:`stationmap.i18n`.
"""

from __future__ import annotations

import io
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from stationmap import geo, hours, i18n
from stationmap.errors import StationMapError
from stationmap.report.compose import DistrictReport
from stationmap.schema import AMENITIES

__all__ = ["CJK_FONT_FAMILY", "amenities_chart", "cjk_font_path", "coverage_chart", "map_figure", "stars_chart"]

CJK_FONT_FAMILY = "Noto Sans CJK SC"
_STAR_COLOURS = ["#9e9e9e", "#90caf9", "#4fc3f7", "#29b6f6", "#fb8c00", "#d81b60"]


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
    t = i18n.section("report", i18n.check_lang(lang))
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
    t = i18n.section("report", i18n.check_lang(lang))
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
    t = i18n.section("report", i18n.check_lang(lang))
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
    t = i18n.section("report", i18n.check_lang(lang))
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
    weekday = t[f"weekday.{hours.OSM_DAYS[report.on.weekday()]}"]  # the day whose opening hours apply
    ax2.set_title(t["by_time"].format(weekday=weekday, r=int(report.radius_m)), fontproperties=font)
    return _png(fig)
