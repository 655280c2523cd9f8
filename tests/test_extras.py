"""Optional extras: a missing one is named in a MissingExtraError, never a bare ImportError."""

from __future__ import annotations

import sys

import pytest

from stationmap.errors import MissingExtraError, StationMapError
from stationmap.extras import EXTRAS, import_extra


@pytest.mark.parametrize(("module", "extra"), [("weasyprint", "pdf"), ("osmium", "osm"), ("highspy", "ilp")])
def test_missing_extra_names_what_to_install(monkeypatch, module, extra):
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` raise ImportError
    with pytest.raises(MissingExtraError, match=rf"install stationmap\[{extra}\]: pip install 'stationmap\[{extra}\]'"):
        import_extra(module)
    assert issubclass(MissingExtraError, StationMapError) and MissingExtraError.http_status == 501
    assert EXTRAS[module][0] == extra


def test_installed_extra_is_returned():
    assert import_extra("highspy").Highs is not None


def test_pdf_without_weasyprint_raises_the_project_error(monkeypatch):
    from stationmap.report.render import render_pdf

    monkeypatch.setitem(sys.modules, "weasyprint", None)
    with pytest.raises(MissingExtraError, match=r"PDF output needs the optional package 'weasyprint'"):
        render_pdf("<p>x</p>")
