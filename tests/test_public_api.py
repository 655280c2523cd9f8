"""The public surface: a curated, sorted, complete __all__ (httpx-style)."""

from __future__ import annotations

import importlib
import pkgutil

import stationmap


def test_all_is_sorted_and_exported():
    assert stationmap.__all__ == sorted(stationmap.__all__)
    for name in stationmap.__all__:
        assert hasattr(stationmap, name), name


def test_every_module_declares_all():
    for info in pkgutil.walk_packages(stationmap.__path__, "stationmap."):
        module = importlib.import_module(info.name)
        if info.name.endswith("__main__"):
            continue
        assert hasattr(module, "__all__"), info.name
        for name in module.__all__:
            assert hasattr(module, name), f"{info.name}.{name}"


def test_layers_import_downward():
    """analysis/ and the core never import flask, folium or click; folium lives only in mapping.py."""
    import ast
    from pathlib import Path

    root = Path(stationmap.__file__).parent
    homes = {"flask": "web", "folium": "mapping.py", "click": "cli.py"}
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                top = name.split(".")[0]
                if top in homes:
                    rel = path.relative_to(root).as_posix()
                    assert rel.startswith(homes[top]), f"{rel} imports {top}"


def test_public_api_example():
    lon, lat = stationmap.wgs84_to_gcj02(109.06, 34.27)
    back = stationmap.gcj02_to_wgs84(lon, lat)
    assert abs(back[0] - 109.06) < 1e-9 and abs(back[1] - 34.27) < 1e-9
