"""Tests for stationmap.report.figures: Chinese glyphs, not boxes, in the PNG figures; the district map's layers."""

from __future__ import annotations

import datetime as dt
import io
import re
import socket
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from matplotlib import font_manager
from PIL import Image
from pyproj import Transformer
from shapely.geometry import box

from stationmap import report
from stationmap.config import BUNDLED_DATA_DIR
from stationmap.districts import District
from stationmap.report import figures
from stationmap.rubric import default_rubric_path, load_rubric


def _render_text(text: str) -> np.ndarray:
    fig = figures._figure(1.2, 0.6)
    fig.text(0.05, 0.3, text, fontproperties=figures._font(), fontsize=20)
    return np.asarray(Image.open(io.BytesIO(figures._png(fig))).convert("L"))


def test_figures_draw_chinese_glyphs_not_boxes():
    path = figures.cjk_font_path()
    assert "CJK" in font_manager.FontProperties(fname=path).get_name()
    # Distinct characters give distinct ink; a missing glyph would draw the same empty box for each
    # (and matplotlib's "Glyph missing" warning is an error under pytest's filterwarnings).
    a, b, c = _render_text("灞"), _render_text("桥"), _render_text("驿")
    assert (a < 128).sum() > 30
    assert (a != b).mean() > 0.02 and (b != c).mean() > 0.02


# --- the district map -----------------------------------------------------------------------------------------

HELSINKI_PBF = Path("/work/shared/data/osm/Helsinki.osm.pbf")


def _texts(fig, gid):
    return [a for a in fig.axes[0].texts if a.get_gid() == gid]


def _artists(fig, gid):
    ax = fig.axes[0]
    return [a for a in (*ax.collections, *ax.lines, *ax.texts) if a.get_gid() == gid]


@pytest.fixture(scope="module")
def baqiao_map(bundled_report):
    stations, _, rep = bundled_report("610111")
    return stations, rep, figures.district_map(rep, lang="zh")


def test_map_numbers_the_sites_at_their_projected_positions(baqiao_map):
    _, rep, fig = baqiao_map
    labels = _texts(fig, "site-label")
    assert [t.get_text() for t in labels] == [str(i) for i in range(1, len(rep.sites.sites) + 1)]
    to_utm = Transformer.from_crs("EPSG:4326", rep.gaps.crs, always_xy=True)
    for label, site in zip(labels, rep.sites.sites, strict=True):
        x, y = to_utm.transform(site.lon, site.lat)
        assert label.get_position() == pytest.approx((x, y), abs=0.01)
        assert label.get_bbox_patch() is not None  # the number sits in a circle


def test_map_cluster_counts_add_up_to_the_stations(baqiao_map):
    stations, _, fig = baqiao_map
    clustered = sum(int(t.get_text()) for t in _texts(fig, "cluster-label"))
    singles = sum(len(c.get_offsets()) for c in fig.axes[0].collections if str(c.get_gid()).startswith("stations-"))
    assert clustered > 0
    assert clustered + singles == len(stations)
    assert len(_texts(fig, "cluster-label")) == len(_artists(fig, "clusters")[0].get_offsets())


def test_map_shades_exactly_the_gap_cells(baqiao_map):
    _, rep, fig = baqiao_map
    (shading,) = _artists(fig, "gap-cells")
    cells = rep.gap_units.units
    assert len(shading.get_paths()) == int((cells["uncovered_m2"] > 0).sum()) > 10
    assert np.allclose(np.asarray(shading.get_array()), 100 * cells["uncovered_share"].to_numpy())
    assert rep.gap_units.cell_m == 1000


def test_map_scale_bar_is_as_long_as_its_label(baqiao_map):
    _, _, fig = baqiao_map
    (bar,) = _artists(fig, "scale-bar")
    (label,) = _texts(fig, "scale-label")
    value, unit = label.get_text().split()
    metres = float(value) * (1000 if unit == "km" else 1)
    xs = bar.get_xdata()
    assert max(xs) - min(xs) == pytest.approx(metres)
    assert _artists(fig, "north-arrow") or [a for a in fig.axes[0].texts if a.get_gid() == "north-arrow"]


def test_map_labels_honoured_stations_and_speaks_the_report_language(baqiao_map):
    stations, rep, fig = baqiao_map
    honoured = [n for n, h in zip(stations["name"], stations["honours"], strict=True) if h]
    labels = [t.get_text() for t in _texts(fig, "honour-label")]
    assert len(labels) == len(honoured) and "纺织公园" in labels
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "辖区边界" in legend and not any(re.search(r"[A-Za-z]{3,}", t) for t in legend)
    en = figures.district_map(rep, lang="en")
    assert "District boundary" in [t.get_text() for t in en.legends[0].get_texts()]


def test_map_draws_osm_streets_offline(bundled_report, monkeypatch):
    if not HELSINKI_PBF.is_file():
        pytest.skip("the Helsinki extract of the shared test data is missing")
    pytest.importorskip("osmium")

    def no_network(*args, **kwargs):
        raise AssertionError("the map must not open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    stations, _, _ = bundled_report("450305")
    few = stations.head(3).copy()
    few = few.set_geometry(gpd.points_from_xy([24.941, 24.945, 24.948], [60.169, 60.172, 60.175], crs="EPSG:4326"))
    boundary = District(adcode="", name="赫尔辛基样区", geometry=box(24.938, 60.166, 24.951, 60.177), source="test")
    rubric = load_rubric(default_rubric_path(BUNDLED_DATA_DIR))
    rep = report.build_district_report(few, boundary, rubric=rubric, k_sites=1, osm_path=HELSINKI_PBF,
                                       on=dt.date(2026, 11, 23))
    fig = figures.district_map(rep, lang="zh")
    (streets,) = _artists(fig, "streets")
    assert len(streets.get_segments()) > 100
    assert rep.gaps.crs == "EPSG:32635"  # the local UTM zone, never Web Mercator
    assert figures.map_figure(rep).startswith(b"\x89PNG")
