"""Draw a district report's figures (map, coverage, stars, amenities) as PNG with matplotlib, in a CJK font.

Figures use matplotlib's object-oriented API (no pyplot state) and the Noto Sans CJK font, so Chinese names render
as glyphs and not as boxes; their words come from the ``[report]`` catalogues of :mod:`stationmap.i18n`.
"""

from __future__ import annotations

import io
import subprocess
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path as FilePath
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from matplotlib import colormaps, font_manager, patheffects
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.colors import BoundaryNorm, ListedColormap, Normalize, to_hex
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.path import Path
from matplotlib.transforms import Bbox
from pyproj import CRS, Transformer
from scipy.cluster.hierarchy import fcluster, linkage

from stationmap import geo, hours, i18n
from stationmap.analysis.siting import SitingResult
from stationmap.errors import StationMapError
from stationmap.report.compose import DistrictReport
from stationmap.schema import AMENITIES

__all__ = ["CHOROPLETH_EDGES_PCT", "CJK_FONT_FAMILY", "amenities_chart", "cjk_font_path", "coverage_chart",
           "coverage_choropleth", "district_map", "map_figure", "map_words", "stars_chart"]

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
    if found and "CJK" in FilePath(found).name:
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


#: The map's own words (legend, colour bar, gap-cell table), zh and en.
#: Endings of station names left out of the short labels on the map (the kind of station, not its place).
_NAME_ENDINGS = ("户外劳动者温馨港湾", "户外劳动者服务站点", "户外劳动者服务站", "爱心驿站", "工会驿站", "职工驿站",
                 "司机之家", "驿站")
_SHORT_NAME_CHARS = 8
_CLUSTER_PT = 15.0  # stations closer than this many points on the page are drawn as one counted cluster
#: Gap shading: the light two thirds of matplotlib's OrRd, so streets, circles and labels stay readable on top.
_GAP_CMAP = ListedColormap(colormaps["OrRd"](np.linspace(0.08, 0.72, 256)), name="gap_share")
#: Second words cut from a short name after its kind: 纺西社区党群服务中心 -> 纺西社区.
_PLACE_ENDINGS = ("党群服务中心", "便民服务中心")


def map_words(lang: str) -> dict[str, str]:
    """Return the map's legend and gap-cell table words in `lang` (``zh`` or ``en``): ``[report.map]`` of the catalogues."""
    return dict(i18n.section("report.map", i18n.check_lang(lang)))


def map_figure(report: DistrictReport, *, lang: str = "zh") -> bytes:
    """
    Draw the district map (:func:`district_map`) as PNG bytes.

    Returns
    -------
    png
        PNG bytes; drawn in the report's local UTM CRS so shapes and distances are true.
    """
    return _png(district_map(report, lang=lang))


def district_map(report: DistrictReport, *, lang: str = "zh") -> Figure:
    """
    Draw one district's map in the report's UTM CRS (``report.gaps.crs``; no tiles, nothing fetched).

    Layers, bottom up: the OSM streets of ``report.streets`` (thin, grey) when an extract was given; the area
    within the headline radius, lightly filled; the gap grid cells of ``report.gap_units`` shaded by uncovered
    share, with a colour bar; the district boundary; the stations, merged into counted clusters where their
    markers would touch (centroid linkage at 15 points of the page, in metres at the map's scale); the honoured
    stations labelled by short name; the proposed sites numbered 1..k in circles as in the sites table; a scale bar and a north arrow.

    Artists carry a ``gid`` for tests and tools: ``streets``, ``covered``, ``gap-cells`` (one path per cell),
    ``boundary``, ``stations-<level>``, ``clusters``, ``cluster-label``, ``honour-label``, ``site-label``,
    ``scale-bar``, ``scale-label``, ``north-arrow``.

    Parameters
    ----------
    report
        The district report.
    lang
        ``zh`` or ``en``: title, legend and colour bar words.

    Returns
    -------
    figure
        A matplotlib Figure (Agg canvas) whose data coordinates are metres in the report's UTM CRS.
    """
    t = i18n.section("report", i18n.check_lang(lang))
    words = map_words(lang)
    font = _font()
    crs = CRS.from_user_input(report.gaps.crs)
    fig = _figure(7.4, 8.2)
    fig.dpi = 130
    ax = fig.add_axes((0.01, 0.17, 0.98, 0.78))
    handles: list[Any] = []
    outline = gpd.GeoSeries([report.district.geometry], crs=geo.WGS84).to_crs(crs)
    xmin, ymin, xmax, ymax = outline.total_bounds
    pad = 0.03 * max(xmax - xmin, ymax - ymin)
    ax.set_xlim(xmin - pad, xmax + pad)
    ax.set_ylim(ymin - pad, ymax + pad)
    ax.set_aspect("equal")
    ax.set_axis_off()
    if report.streets is not None and len(report.streets):
        streets = report.streets.to_crs(crs)
        lines = [np.asarray(g.coords)[:, :2] for g in streets.geometry.values]
        ax.add_collection(LineCollection(lines, colors="#9e9e9e", linewidths=0.3, zorder=1, gid="streets"))
        handles.append(Line2D([], [], color="#9e9e9e", linewidth=0.8, label=words["streets"]))
    if report.covered is not None and len(report.covered) and not report.covered.geometry.is_empty.all():
        covered = _patches(report.covered.to_crs(crs).geometry.values, facecolor="#c8e6c9", edgecolor="none",
                           alpha=0.7, zorder=2, gid="covered")
        ax.add_collection(covered)
        handles.append(Patch(facecolor="#c8e6c9", edgecolor="none", label=words["covered"].format(
            r=int(report.radius_m))))
    units = report.gap_units
    cell_km = f"{(units.cell_m or 0) / 1000:g}" if units is not None else ""
    if units is not None and len(units.units):
        cells = units.units[units.units["uncovered_m2"] > 0]
        shading = _patches(cells.to_crs(crs).geometry.values, edgecolor="white", linewidth=0.15, alpha=0.8,
                           zorder=3, gid="gap-cells")
        shading.set_array(100 * cells["uncovered_share"].to_numpy(dtype=float))
        shading.set_cmap(_GAP_CMAP)
        shading.set_clim(0, 100)
        ax.add_collection(shading)
        cax = fig.add_axes((0.25, 0.135, 0.5, 0.014))
        bar = fig.colorbar(ScalarMappable(norm=Normalize(0, 100), cmap=_GAP_CMAP), cax=cax, orientation="horizontal")
        bar.set_label(words["share"].format(cell=cell_km), fontproperties=font, fontsize=8)
        bar.ax.tick_params(labelsize=7)
    ax.plot(*_rings(outline.values[0]), color="#37474f", linewidth=1.0, zorder=4, gid="boundary")
    handles.append(Line2D([], [], color="#37474f", linewidth=1.0, label=words["boundary"]))
    handles += _stations_layer(ax, report, crs, t, words, font)
    if report.sites is not None and report.sites.sites:
        handles.append(_sites_layer(ax, report.sites, crs, t))
    ax.set_title(f"{report.title} · {t['map_title'].format(r=int(report.radius_m))}", fontproperties=font,
                 fontsize=12)
    fig.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 0.0), ncol=3, prop=_font_sized(8),
               frameon=False, handlelength=1.6, columnspacing=1.2)
    _scale_bar(ax)
    _north_arrow(ax, crs, words["north"], font)
    return fig


def _font_sized(size: float) -> font_manager.FontProperties:
    font = _font()
    font.set_size(size)
    return font


def _rings(geom: Any) -> tuple[list[float], list[float]]:
    """x and y of every ring of a (multi)polygon, NaN between rings: one line for the whole boundary."""
    xs: list[float] = []
    ys: list[float] = []
    for ring in shapely.get_rings(shapely.get_parts(geom)):
        coords = shapely.get_coordinates(ring)
        xs += [*coords[:, 0], np.nan]
        ys += [*coords[:, 1], np.nan]
    return xs, ys


def _polygon_path(geom: Any) -> Path:
    """One compound path for a (multi)polygon, holes included (exterior counter-clockwise, holes clockwise)."""
    verts: list[np.ndarray] = []
    codes: list[np.ndarray] = []
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    for part in shapely.get_parts(shapely.orient_polygons(np.asarray(parts, dtype=object))) if parts else []:
        for ring in shapely.get_rings(part):
            xy = shapely.get_coordinates(ring)
            verts.append(xy)
            code = np.full(len(xy), Path.LINETO, dtype=Path.code_type)
            code[0], code[-1] = Path.MOVETO, Path.CLOSEPOLY
            codes.append(code)
    if not verts:
        return Path(np.empty((0, 2)))
    return Path(np.concatenate(verts), np.concatenate(codes))


def _patches(geoms: Any, **style: Any) -> PathCollection:
    """A collection with one path per geometry (a cell split in two pieces is still one patch)."""
    return PathCollection([_polygon_path(g) for g in geoms], **style)


def _short_name(name: str) -> str:
    """A station's name without its kind (爱心驿站, 户外劳动者温馨港湾, ...), at most a few characters."""
    short = name
    for ending in _NAME_ENDINGS:
        if short.endswith(ending) and len(short) > len(ending) + 1:
            short = short[: -len(ending)]
            break
    for ending in _PLACE_ENDINGS:
        if short.endswith(ending) and len(short) > len(ending) + 1:
            short = short[: -len(ending)]
    for unit in ("街道", "区"):  # 纺织城街道纺织公园 -> 纺织公园: the place within the district says more
        head, sep, rest = short.partition(unit)
        if sep and 2 <= len(rest) and len(head) <= 4:
            short = rest
            break
    return short if len(short) <= _SHORT_NAME_CHARS else f"{short[: _SHORT_NAME_CHARS - 1]}…"


def _stations_layer(ax: Any, report: DistrictReport, crs: CRS, t: Mapping[str, str], words: Mapping[str, str],
                    font: font_manager.FontProperties) -> list[Any]:
    """Stations as points by star level, counted clusters where dense, honoured stations named; legend handles."""
    stations = report.stations
    stations = stations[stations.geometry.notna() & ~stations.geometry.is_empty]
    pts = stations.to_crs(crs)
    x, y = pts.geometry.x.to_numpy(), pts.geometry.y.to_numpy()
    stars = pts["stars"].fillna(0).astype(int).clip(0, 5).to_numpy() if "stars" in pts else np.zeros(len(pts), int)
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    group, counts = _clusters(x, y, _CLUSTER_PT * _metres_per_point(ax))
    single = counts[group] == 1
    handles: list[Any] = []
    for level in range(6):
        sel = single & (stars == level)
        if sel.any():
            ax.scatter(x[sel], y[sel], s=16 + 5 * level, color=_STAR_COLOURS[level], edgecolor="#263238",
                       linewidth=0.4, zorder=6, gid=f"stations-{level}")
        if sel.any():
            handles.append(Line2D([], [], marker="o", linestyle="none", markersize=4 + 0.5 * level,
                                  markerfacecolor=_STAR_COLOURS[level], markeredgecolor="#263238",
                                  markeredgewidth=0.4, label=f"{level}★" if level else t["unrated"]))
    multi = np.flatnonzero(counts > 1)
    obstacles: list[Any] = []
    if len(multi):
        cx = np.bincount(group, weights=x)[multi] / counts[multi]
        cy = np.bincount(group, weights=y)[multi] / counts[multi]
        n = counts[multi]
        ax.scatter(cx, cy, s=60 + 25 * np.sqrt(n), color="white", edgecolor="#00695c", linewidth=1.6, zorder=7,
                   gid="clusters")
        to_px = ax.transData.transform(np.column_stack([cx, cy]))
        radius_px = np.sqrt(60 + 25 * np.sqrt(n)) / 2 * ax.figure.dpi / 72
        obstacles += [Bbox.from_extents(u - r, v - r, u + r, v + r) for (u, v), r in zip(to_px, radius_px, strict=True)]
        for px, py, k in zip(cx, cy, n, strict=True):
            ax.text(px, py, str(int(k)), ha="center", va="center", fontsize=7, color="#004d40", fontweight="bold",
                    zorder=8, gid="cluster-label")
        handles.append(Line2D([], [], marker="o", linestyle="none", markersize=9, markerfacecolor="white",
                              markeredgecolor="#00695c", markeredgewidth=1.6, label=words["cluster"]))
    if "honours" in pts:
        honoured = np.array([bool(h) for h in pts["honours"]], dtype=bool)  # also for a district without stations
        names = pts["name"].astype(str).to_numpy() if "name" in pts else np.array([""] * len(pts))
        _place_labels(ax, x[honoured], y[honoured], [_short_name(n) for n in names[honoured]], font, obstacles)
        if honoured.any():
            ax.scatter(x[honoured], y[honoured], marker="D", s=10, color="#4a148c", zorder=6.5, gid="honours")
            handles.append(Line2D([], [], marker="D", linestyle="none", markersize=4, color="#4a148c",
                                  label=words["honour"]))
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    return handles


#: Where a name label may go around its point, in points: right, left, above, below.
_LABEL_SPOTS = (((5, -3), "left"), ((-5, -3), "right"), ((0, 6), "center"), ((0, -12), "center"))


def _place_labels(ax: Any, x: np.ndarray, y: np.ndarray, labels: Sequence[str],
                  font: font_manager.FontProperties, obstacles: Sequence[Any] = ()) -> None:
    """Name labels beside their points, each in the first spot that overlaps no earlier label nor an obstacle."""
    renderer = ax.figure.canvas.get_renderer()
    halo = [patheffects.withStroke(linewidth=2.2, foreground="white")]
    placed: list[Any] = list(obstacles)
    for px, py, label in zip(x, y, labels, strict=True):
        text = None
        for offset, ha in _LABEL_SPOTS:
            if text is not None:
                text.remove()
            text = ax.annotate(label, (px, py), xytext=offset, textcoords="offset points", ha=ha, fontsize=7,
                               color="#4a148c", fontproperties=font, zorder=9, path_effects=halo,
                               gid="honour-label")
            box = text.get_window_extent(renderer)
            if not any(box.overlaps(other) for other in placed):
                break
        if text is not None:
            if any(text.get_window_extent(renderer).overlaps(other) for other in placed):  # no free spot: first
                text.remove()
                offset, ha = _LABEL_SPOTS[0]
                text = ax.annotate(label, (px, py), xytext=offset, textcoords="offset points", ha=ha, fontsize=7,
                                   color="#4a148c", fontproperties=font, zorder=9, path_effects=halo,
                                   gid="honour-label")
            placed.append(text.get_window_extent(renderer))


def _metres_per_point(ax: Any) -> float:
    """Metres of the map per typographic point on the page (the axes keep equal aspect)."""
    fig = ax.figure
    width_pt, height_pt = (fig.get_size_inches() * ax.get_position().size) * 72
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    return float(max((x1 - x0) / width_pt, (y1 - y0) / height_pt))


def _clusters(x: np.ndarray, y: np.ndarray, distance_m: float) -> tuple[np.ndarray, np.ndarray]:
    """
    Group points whose cluster centres come closer than `distance_m` (centroid linkage, metres).

    Returns each point's group index and each group's size.
    """
    if len(x) < 2:
        return np.zeros(len(x), dtype=int), np.ones(min(len(x), 1), dtype=int)
    labels = fcluster(linkage(np.column_stack([x, y]), method="centroid"), t=distance_m, criterion="distance")
    _, group, counts = np.unique(labels, return_inverse=True, return_counts=True)
    return group.ravel(), counts


def _sites_layer(ax: Any, sites: SitingResult, crs: CRS, t: Mapping[str, str]) -> Any:
    """The proposed sites as numbered circles (1 first, as in the sites table); the legend handle."""
    to_map = Transformer.from_crs(geo.WGS84, crs, always_xy=True)
    sx, sy = to_map.transform([s.lon for s in sites.sites], [s.lat for s in sites.sites])
    circle = {"boxstyle": "circle,pad=0.25", "facecolor": "#1a237e", "edgecolor": "white", "linewidth": 0.8}
    for rank, px, py in zip((s.rank for s in sites.sites), sx, sy, strict=True):
        ax.text(px, py, str(rank), ha="center", va="center", fontsize=8, color="white", fontweight="bold",
                bbox=circle, zorder=10, gid="site-label")
    return Line2D([], [], marker="o", linestyle="none", markersize=9, markerfacecolor="#1a237e",
                  markeredgecolor="white", label=f"{t['proposed']} (1–{len(sites.sites)})")


def _nice_length(target: float) -> float:
    """The largest 1, 2 or 5 times a power of ten not above `target` (metres)."""
    power = 10 ** np.floor(np.log10(max(target, 1e-9)))
    return float(max(m * power for m in (1, 2, 5) if m * power <= target))


def _scale_bar(ax: Any) -> None:
    """A bar of a round length in metres, its label in m or km, at the map's lower left."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    length = _nice_length((x1 - x0) / 4)
    left, base = x0 + (x1 - x0) * 0.04, y0 + (y1 - y0) * 0.03
    tick = (y1 - y0) * 0.006
    ax.plot([left, left, left + length, left + length], [base + tick, base, base, base + tick], color="black",
            linewidth=1.6, solid_capstyle="butt", zorder=11, gid="scale-bar")
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    ax.text(left + length / 2, base + 2 * tick, label, ha="center", va="bottom", fontsize=8, zorder=11,
            gid="scale-label")


def _north_arrow(ax: Any, crs: CRS, north: str, font: font_manager.FontProperties) -> None:
    """An arrow to true north at the map's upper right, turned by the grid convergence of the UTM CRS."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    to_lonlat = Transformer.from_crs(crs, geo.WGS84, always_xy=True)
    to_map = Transformer.from_crs(geo.WGS84, crs, always_xy=True)
    lon, lat = to_lonlat.transform((x0 + x1) / 2, (y0 + y1) / 2)
    nx, ny = to_map.transform([lon, lon], [lat, lat + 0.01])
    angle = np.arctan2(nx[1] - nx[0], ny[1] - ny[0])  # radians east of grid north
    size = 0.07 * (y1 - y0)
    bx, by = x1 - 0.06 * (x1 - x0), y1 - 0.16 * (y1 - y0)
    tip = (bx + size * np.sin(angle), by + size * np.cos(angle))
    ax.annotate("", xy=tip, xytext=(bx, by), zorder=11, gid="north-arrow",
                arrowprops={"arrowstyle": "-|>", "color": "black", "linewidth": 1.4, "mutation_scale": 14})
    ax.text(tip[0], tip[1] + 0.01 * (y1 - y0), north, ha="center", va="bottom", fontproperties=font, fontsize=9,
            zorder=11)


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


#: Class edges of the county choropleth, percent of the area covered: a national share is small, so the low
#: classes are narrow.
CHOROPLETH_EDGES_PCT = (0.0, 1.0, 5.0, 10.0, 20.0, 50.0, 80.0, 100.0)
_CHOROPLETH_CMAP = ListedColormap(colormaps["YlGn"](np.linspace(0.12, 0.95, len(CHOROPLETH_EDGES_PCT) - 1)),
                                  name="covered_share")
_NO_AREA_COLOUR = "#eeeeee"


def coverage_choropleth(counties: Sequence[Any], pct_covered: Sequence[float | None], *, title: str, lang: str = "zh",
                        provinces: Sequence[Any] = (), simplify_frac: float = 1 / 2000) -> bytes:
    """
    Draw counties coloured by the share of their area covered, as PNG bytes (a national or provincial report).

    The map is in an Albers equal-area projection fitted to the counties' extent (metres), so areas look true and
    the scale bar holds along the standard parallels; outlines are simplified to `simplify_frac` of the extent's
    longer side (about 2.5 km for China), which keeps the drawing fast and the page small. Classes:
    `CHOROPLETH_EDGES_PCT`, with a colour bar; province outlines drawn darker; a scale bar and a north arrow.

    Artists carry a ``gid``: ``counties`` (one path per county, in the order given), ``provinces``,
    ``scale-bar``, ``scale-label``, ``north-arrow``.

    Parameters
    ----------
    counties
        County boundaries, WGS-84 (lon/lat) degrees.
    pct_covered
        Share of each county's area covered, percent (None: no area; drawn grey).
    title
        The map's title (already in `lang`).
    lang
        ``zh`` or ``en``: the colour bar, legend and north words (``[report.national]``, ``[report.map]``).
    provinces
        Province boundaries drawn on top, WGS-84.
    simplify_frac
        Simplification tolerance as a fraction of the extent's longer side.

    Returns
    -------
    png
        PNG bytes.
    """
    lang = i18n.check_lang(lang)
    words = i18n.section("report.national", lang)
    font = _font()
    outlines = gpd.GeoSeries(list(counties), crs=geo.WGS84)
    west, south, east, north = outlines.total_bounds
    span = max(north - south, 1e-6)
    crs = CRS.from_proj4(f"+proj=aea +lat_0={(south + north) / 2:.4f} +lon_0={(west + east) / 2:.4f} "
                         f"+lat_1={south + span / 6:.4f} +lat_2={north - span / 6:.4f} +datum=WGS84 +units=m "
                         "+no_defs")
    projected = outlines.to_crs(crs)
    xmin, ymin, xmax, ymax = projected.total_bounds
    tolerance = simplify_frac * max(xmax - xmin, ymax - ymin)
    shapes = shapely.simplify(projected.values, tolerance, preserve_topology=True)
    fig = _figure(7.4, 7.6)
    fig.dpi = 130
    ax = fig.add_axes((0.01, 0.12, 0.98, 0.82))
    pad = 0.02 * max(xmax - xmin, ymax - ymin)
    ax.set_xlim(xmin - pad, xmax + pad + 0.1 * (xmax - xmin))  # room at the right for the north arrow
    ax.set_ylim(ymin - pad, ymax + pad)
    ax.set_aspect("equal")
    ax.set_axis_off()
    values = np.array([np.nan if v is None else float(v) for v in pct_covered], dtype=float)
    norm = BoundaryNorm(CHOROPLETH_EDGES_PCT, _CHOROPLETH_CMAP.N)
    colours = np.array([_NO_AREA_COLOUR] * len(values), dtype=object)
    known = np.isfinite(values)
    colours[known] = [to_hex(c) for c in _CHOROPLETH_CMAP(norm(np.clip(values[known], 0.0, 100.0)))]
    edge = 0.15 if len(shapes) > 500 else 0.4
    ax.add_collection(_patches(shapes, facecolor=list(colours), edgecolor="white", linewidth=edge, zorder=2,
                               gid="counties"))
    handles: list[Any] = []
    if len(provinces):
        borders = shapely.simplify(gpd.GeoSeries(list(provinces), crs=geo.WGS84).to_crs(crs).values, tolerance,
                                   preserve_topology=True)
        xs: list[float] = []
        ys: list[float] = []
        for border in borders:
            bx, by = _rings(border)
            xs += bx
            ys += by
        ax.plot(xs, ys, color="#37474f", linewidth=0.6, zorder=3, gid="provinces")
        handles.append(Line2D([], [], color="#37474f", linewidth=0.8, label=words["province_line"]))
    if not known.all():
        handles.append(Patch(facecolor=_NO_AREA_COLOUR, edgecolor="#bdbdbd", label=words["no_area"]))
    ax.set_title(title, fontproperties=font, fontsize=12)
    cax = fig.add_axes((0.2, 0.085, 0.6, 0.016))
    bar = fig.colorbar(ScalarMappable(norm=norm, cmap=_CHOROPLETH_CMAP), cax=cax, orientation="horizontal",
                       ticks=CHOROPLETH_EDGES_PCT, spacing="uniform")
    bar.ax.set_xticklabels([f"{e:g}" for e in CHOROPLETH_EDGES_PCT])
    bar.set_label(words["map_legend"], fontproperties=font, fontsize=8)
    bar.ax.tick_params(labelsize=7)
    if handles:
        fig.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 0.0), ncol=2, prop=_font_sized(8),
                   frameon=False, handlelength=1.6, columnspacing=1.2)
    _scale_bar(ax)
    _north_arrow(ax, crs, map_words(lang)["north"], font)
    return _png(fig)
