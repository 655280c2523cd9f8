"""Tests for stationmap.report.figures: Chinese glyphs, not boxes, in the PNG figures."""

from __future__ import annotations

import io

import numpy as np
from matplotlib import font_manager
from PIL import Image

from stationmap.report import figures


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
