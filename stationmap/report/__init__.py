"""Coverage reports per district, as a union bulletin prints them: HTML, PDF, CSV and GeoJSON.

Three jobs, one module each:

- :mod:`~stationmap.report.compose` computes every figure of a district's report (:func:`build_district_report`);
- :mod:`~stationmap.report.figures` draws its map and charts with matplotlib in a CJK font;
- :mod:`~stationmap.report.render` lays it out in Chinese or English through a Jinja2 template, as HTML and PDF,
  and writes the report with its tables (:func:`write_report`).

Beside the report, :mod:`~stationmap.report.qr_sheet` lays out a district's printable QR cards, one per open station.
"""

from __future__ import annotations

from stationmap.report.compose import (
    DEFAULT_RADII_M,
    DEFAULT_TIMES,
    DistrictReport,
    build_district_report,
    summary_table,
)
from stationmap.report.figures import CJK_FONT_FAMILY, cjk_font_path
from stationmap.report.render import render_html, render_pdf, write_report

__all__ = [
    "CJK_FONT_FAMILY",
    "DEFAULT_RADII_M",
    "DEFAULT_TIMES",
    "DistrictReport",
    "build_district_report",
    "cjk_font_path",
    "render_html",
    "render_pdf",
    "summary_table",
    "write_report",
]
