"""The command line: exit codes, messages, and the commands wired to the package."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stationmap.cli import main

BAD = Path(__file__).resolve().parent / "data" / "bad"


def test_validate_bundled_file_passes(runner, settings):
    result = runner.invoke(main, ["validate", str(settings.data_dir / "stations" / "610111.geojson"), "--strict"])
    assert result.exit_code == 0, result.output
    assert "63 records, 0 errors, 0 warnings" in result.output


def test_validate_bad_file_exits_1_with_every_problem(runner):
    result = runner.invoke(main, ["validate", str(BAD / "bad_honour.geojson")])
    assert result.exit_code == 1, result.output
    assert result.output.count("error: features[0] (id '610111-901'): honours[0]") == 3
    assert "2 records, 3 errors, 0 warnings" in result.output


def test_validate_warning_fails_only_when_strict(runner):
    path = str(BAD / "near_duplicate.geojson")
    assert runner.invoke(main, ["validate", path]).exit_code == 0
    strict = runner.invoke(main, ["validate", path, "--strict"])
    assert strict.exit_code == 1 and "possible duplicate" in strict.output


def test_validate_outside_district_uses_bundled_boundary(runner):
    result = runner.invoke(main, ["validate", str(BAD / "outside_district.geojson")])
    assert result.exit_code == 0, result.output
    assert "inside district 610111" in result.output


def test_validate_with_boundary_file(runner):
    boundary = Path(__file__).resolve().parents[2] / "shared" / "data" / "boundaries" / "610111.geojson"
    result = runner.invoke(main, ["validate", str(BAD / "outside_district.geojson"), "--boundary", str(boundary)])
    assert result.exit_code == 1 and "--boundary-crs" in result.output
    result = runner.invoke(main, ["validate", str(BAD / "outside_district.geojson"), "--boundary", str(boundary),
                                  "--boundary-crs", "gcj02", "--strict"])
    assert result.exit_code == 1 and "outside the boundary" in result.output


def test_validate_json_output(runner):
    result = runner.invoke(main, ["validate", str(BAD / "stars_7.geojson"), "--format", "json"])
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report[0]["problems"][0]["field"] == "stars" and report[0]["ok"] is False


def test_unreadable_file_is_a_clean_error(runner):
    result = runner.invoke(main, ["validate", str(BAD / "invalid_json.geojson")])
    assert result.exit_code == 1
    assert "Traceback" not in result.output and "invalid JSON at line 14" in result.output


def test_missing_file(runner, tmp_path):
    result = runner.invoke(main, ["validate", str(tmp_path / "nope.geojson")])
    assert result.exit_code == 1 and "does not exist" in result.output


def test_usage_error_exits_2(runner):
    assert runner.invoke(main, ["validate"]).exit_code == 2
    assert runner.invoke(main, ["export", "x.geojson", "-o", "y.csv", "--datum", "utm"]).exit_code == 2


def test_import_and_export(runner, tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("站点名称,经度,纬度,开放时间,设施/服务项目\n纺织城驿站,109.0650,34.2687,24小时,饮水、微波炉、按摩椅\n",
                     encoding="utf-8")
    out = tmp_path / "out.geojson"
    refused = runner.invoke(main, ["import", str(table), "-o", str(out), "--district", "610111"])
    assert refused.exit_code == 1 and "never guessed" in refused.output and not out.exists()
    result = runner.invoke(main, ["import", str(table), "--crs", "gcj02", "--district", "610111", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "imported 1 stations" in result.output and "按摩椅" in result.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    lon, lat = doc["features"][0]["geometry"]["coordinates"]
    assert lon == pytest.approx(109.06, abs=2e-4) and lat == pytest.approx(34.27, abs=2e-4)
    for suffix in ("gpkg", "csv", "xlsx"):
        exported = runner.invoke(main, ["export", str(out), "-o", str(tmp_path / f"x.{suffix}")])
        assert exported.exit_code == 0, exported.output
    amap = runner.invoke(main, ["export", str(out), "-o", str(tmp_path / "amap.csv"), "--datum", "gcj02",
                                "--headers", "zh"])
    assert amap.exit_code == 0
    assert "纺织城驿站,109.065" in (tmp_path / "amap.csv").read_text(encoding="utf-8-sig")


def test_summary(runner):
    result = runner.invoke(main, ["summary"])
    assert result.exit_code == 0, result.output
    assert "610111 西安市灞桥区: 63 stations" in result.output
    assert "illustrative" in result.output


def test_stars_review_list(runner):
    result = runner.invoke(main, ["stars", "--district", "530111", "--lang", "en", "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["summary"]["n_stations"] == 34
    reviews = runner.invoke(main, ["stars", "--district", "530111", "--review-only", "--lang", "en"])
    lines = [line for line in reviews.output.splitlines() if line.startswith("530111-")]
    assert lines and all("review" in line for line in lines)
    assert len(lines) == doc["summary"]["n_review_candidates"]


def test_stars_invalid_rubric_is_a_clean_error(runner, tmp_path):
    bad = tmp_path / "rubric.toml"
    bad.write_text("[meta\nversion = 1", encoding="utf-8")
    result = runner.invoke(main, ["stars", "--rubric", str(bad)])
    assert result.exit_code == 1 and "invalid TOML" in result.output and "Traceback" not in result.output


def test_report_command_writes_html_and_tables(runner, tmp_path):
    out = tmp_path / "reports"
    result = runner.invoke(main, ["report", "--district", "450305", "--district", "530111", "-o", str(out),
                                  "--lang", "en", "--no-pdf", "--sites", "2"])
    assert result.exit_code == 0, result.output
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "Districts side by side" in page and "桂林市七星区" in page and "昆明市官渡区" in page
    summary = (out / "summary.csv").read_text(encoding="utf-8-sig").splitlines()
    assert summary[0].startswith("adcode,district,stations") and len(summary) == 3
    assert not (out / "report.pdf").exists()


def test_report_unknown_district_is_a_clean_error(runner, tmp_path):
    result = runner.invoke(main, ["report", "--district", "110101", "-o", str(tmp_path)])
    assert result.exit_code == 1 and "No bundled boundary for district '110101'" in result.output


def test_serve_refuses_tianditu_without_key(runner, monkeypatch):
    monkeypatch.delenv("STATIONMAP_TIANDITU_KEY", raising=False)
    result = runner.invoke(main, ["serve", "--tile-provider", "tianditu", "--port", "8799"])
    assert result.exit_code == 1 and "Tianditu" in result.output and "Traceback" not in result.output
    assert runner.invoke(main, ["serve", "--tile-provider", "google"]).exit_code == 2
