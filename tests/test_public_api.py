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


def _private_reaches(path, package_root):
    """Return (line, what) for every use of another stationmap module's private (``_``-prefixed) name in a file."""
    import ast

    def is_private(name: str) -> bool:
        return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))

    def dotted(node: ast.AST) -> str | None:
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, ast.Attribute):
            base = dotted(node.value)
            return None if base is None else f"{base}.{node.attr}"
        return None

    rel = path.relative_to(package_root.parent).with_suffix("")
    package = list(rel.parts[:-1])
    own = ".".join(package if rel.name == "__init__" else rel.parts)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bound: dict[str, str] = {}  # local name -> what it names in another stationmap module
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import: resolve against this file's package
                base = ".".join([*package[: len(package) - node.level + 1], *([base] if base else [])])
            if base.split(".")[0] != "stationmap" or base == own:
                continue
            for a in node.names:
                if any(is_private(p) for p in [*base.split("."), a.name]):
                    found.append((node.lineno, f"from {base} import {a.name}"))
                bound[a.asname or a.name] = f"{base}.{a.name}"
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "stationmap":
                    if any(is_private(p) for p in a.name.split(".")):
                        found.append((node.lineno, f"import {a.name}"))
                    bound[a.asname or "stationmap"] = a.name if a.asname else "stationmap"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and is_private(node.attr):
            base = dotted(node.value)
            head, _, rest = (base or "").partition(".")
            if head in bound and ".".join(filter(None, [bound[head], rest])) != own:
                found.append((node.lineno, f"{base}.{node.attr}"))
    return sorted(found)


def test_no_module_uses_another_modules_private_names():
    """Shared helpers are public in the module that owns them (e.g. analysis.kernel), never reached into."""
    from pathlib import Path

    root = Path(stationmap.__file__).parent
    offences = [f"{path.relative_to(root.parent)}:{line}: {what}"
                for path in sorted(root.rglob("*.py")) for line, what in _private_reaches(path, root)]
    assert offences == [], "\n".join(offences)


def test_private_name_check_catches_every_form(tmp_path):
    """The check above sees ``from m import _x``, ``m._x`` and ``pkg.m._x`` (it must not pass vacuously)."""
    fake = tmp_path / "stationmap" / "analysis" / "fake.py"
    fake.parent.mkdir(parents=True)
    fake.write_text("from stationmap.analysis.coverage import _as_stations, coverage_report\n"
                    "from stationmap.analysis import coverage as cov\n"
                    "from . import gaps\n"
                    "import stationmap.geo\n"
                    "x = cov._delta\n"
                    "y = stationmap.geo._ecef_m\n"
                    "z = cov.coverage_report, gaps._GAP_COLUMNS, coverage_report.__doc__\n", encoding="utf-8")
    found = _private_reaches(fake, fake.parents[1])
    assert [what for _, what in found] == ["from stationmap.analysis.coverage import _as_stations", "cov._delta",
                                           "stationmap.geo._ecef_m", "gaps._GAP_COLUMNS"]
