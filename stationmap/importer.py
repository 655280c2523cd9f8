"""Import the CSV/XLSX tables union clerks keep: Chinese or English headers, labels, clerk-written hours, any datum.

Nothing is guessed and nothing is dropped: the source datum must be given; a value that cannot be mapped to the
vocabulary is kept (``amenities_other``, ``opening_hours_raw``, ``extra``) and reported as a warning; a row that
cannot be placed (no or bad coordinates) is an error that stops the import, with every such row listed.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
import math
import re
import unicodedata
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from stationmap import clerk_hours, geo
from stationmap.districts import District
from stationmap.errors import ImportMappingError, OpeningHoursError, StationDataError
from stationmap.files import MAX_CELL_CHARS, MAX_TABLE_BYTES, check_xlsx_size, decode_table_text, is_formula_text
from stationmap.schema import (
    AMENITIES,
    DEMO_NOTICE,
    FIELDS,
    HOST_TYPES,
    KINDS,
    SERVED_GROUPS,
    STATUSES,
    TOILET,
    TOILET_WORDS,
    Vocabulary,
)
from stationmap.stations import stations_from_features
from stationmap.validation import Problem, ProblemCollector, ValidationReport, validate_features

__all__ = ["HEADER_SYNONYMS", "ImportResult", "UnmappedSummary", "import_table", "parse_column_map", "read_table"]

#: Accepted source headers for each target field (compared without spaces, case or bracketed units).
HEADER_SYNONYMS: dict[str, tuple[str, ...]] = {
    "id": ("id", "站点编号", "编号", "站点id", "站点代码"),
    "name": ("name", "站点名称", "名称", "驿站名称", "站点", "服务站点名称", "阵地名称"),
    "name_en": ("name_en", "英文名称", "英文名"),
    "kind": ("kind", "站点类型", "类型", "类别"),
    "address": ("address", "地址", "详细地址", "站点地址", "位置"),
    "district_code": ("district_code", "adcode", "行政区划代码", "区划代码", "区县代码", "行政区划编码", "区划编码",
                      "区县编码", "行政区代码", "行政区编码", "县区代码"),
    "district": ("district", "所属区县", "区县", "所属区域", "所在区县", "区", "行政区", "所属行政区", "所在行政区",
                 "行政区名称", "辖区", "所属辖区", "区域", "县区", "所属县区", "所在县区", "县市区", "所属区", "所在区",
                 "区/县", "区县名称", "县", "所属县"),
    "lon": ("lon", "lng", "long", "longitude", "x", "经度", "东经"),
    "lat": ("lat", "latitude", "y", "纬度", "北纬"),
    "opening_hours": ("opening_hours", "hours", "开放时间", "服务时间", "营业时间", "开放时段", "服务时段", "工作时间"),
    "amenities": ("amenities", "设施", "服务项目", "设施/服务项目", "设施服务项目", "配套设施", "服务内容", "功能",
                  "服务设施", "设施设备", "配备设施", "主要设施", "功能设施", "服务功能", "配套服务"),
    "stars": ("stars", "星级", "星级评定", "评定星级"),
    "stars_assessed_on": ("stars_assessed_on", "评星日期", "星级评定时间", "评定日期"),
    "toilet": ("toilet", "厕所", "卫生间", "如厕"),
    "served_groups": ("served_groups", "服务对象", "服务群体", "服务人群"),
    "host_type": ("host_type", "依托单位类型", "承建单位类型", "阵地类型"),
    "host_org": ("host_org", "依托单位", "承建单位", "建设单位", "所属单位", "主办单位"),
    "area_m2": ("area_m2", "area", "面积", "建筑面积", "使用面积"),
    "capacity": ("capacity", "座位数", "可容纳人数", "座位"),
    "honours": ("honours", "荣誉", "获得荣誉", "荣誉称号"),
    "manager": ("manager", "负责人", "联系人", "站长", "管理员"),
    "phone": ("phone", "联系电话", "电话", "联系方式"),
    "visits": ("visits", "服务人次", "年服务人次", "累计服务人次"),
    "status": ("status", "运营状态", "状态"),
    "last_verified": ("last_verified", "核实日期", "更新日期", "最后核实"),
    "demo": ("demo", "示意数据"),
    "amenities_other": ("amenities_other", "其他设施"),
    "opening_hours_raw": ("opening_hours_raw", "开放时间原文"),
    "extra": ("extra", "其他信息"),
}
# between the items of a list cell: "饮水、热饭，充电; 雨伞/书报 WiFi" (full-width forms are folded by NFKC first)
_LIST_SEPARATORS = frozenset(",、;/|+。\n\r\t ")
_OPEN_BRACKETS, _CLOSE_BRACKETS = "([【{", ")]】}"
# "饮水、热饭等" / "充电等服务": the trailing 等 closes the list
_TRAILING_ETC = re.compile(r"等(?:服务|设施|功能|物品|用品|项目|设备)?$")
# "饮水和热饭", "书报及雨具": split only when the whole item is not itself a known label
_LIST_CONJUNCTION = re.compile(r"以及|及|和|与|或")
_FREE_PREFIX = re.compile(r"^(?:免费提供|免费|提供)")
_BRACKETED = re.compile(r"[(\[【{](.*?)[)\]】}]")
_ZH_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}


def _norm_header(text: str) -> str:
    text = re.sub(r"[（(【\[].*?[）)】\]]", "", str(text))  # drop units such as 面积(平方米)
    return re.sub(r"[\s_\-]+", "", text).lower()


_HEADER_LOOKUP = {_norm_header(s): target for target, syns in HEADER_SYNONYMS.items() for s in syns}


@dataclass(frozen=True)
class UnmappedSummary:
    """
    What an import kept without mapping it to the station record, counted so that nothing goes unnoticed.

    Attributes
    ----------
    amenity_values
        List items kept in ``amenities_other`` (e.g. 按摩椅), over all stations.
    amenity_stations
        Stations with at least one such item.
    hours_stations
        Stations whose opening hours could not be read and are kept as written in ``opening_hours_raw``.
    extra_values
        Cells kept under ``extra``: unrecognised columns, and values a field could not take.
    extra_stations
        Stations with anything under ``extra``.
    extra_columns
        Source columns not recognised as any field; all of their cells are under ``extra``.
    """

    amenity_values: int = 0
    amenity_stations: int = 0
    hours_stations: int = 0
    extra_values: int = 0
    extra_stations: int = 0
    extra_columns: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        """Number of values kept unmapped."""
        return self.amenity_values + self.hours_stations + self.extra_values

    def describe(self) -> str:
        """Say in one line what was kept unmapped and where, e.g. for the import command's last line."""
        if not self.total:
            return "every value was mapped"
        columns = f"; unrecognised columns: {', '.join(self.extra_columns)}" if self.extra_columns else ""
        return (f"kept unmapped: {self.amenity_values} amenity item(s) in amenities_other "
                f"({self.amenity_stations} station(s)), {self.hours_stations} station(s)' opening hours as written "
                f"in opening_hours_raw, {self.extra_values} value(s) under extra "
                f"({self.extra_stations} station(s){columns})")


@dataclass(frozen=True)
class ImportResult:
    """
    The outcome of importing a clerk's table.

    Attributes
    ----------
    stations
        Imported stations in EPSG:4326 (converted from the source datum).
    report
        Warnings about what was kept unmapped (one per value, and one per unrecognised column), and the
        validation of the result.
    column_mapping
        Source header -> field it was read into (``extra`` for unrecognised headers).
    datum
        The source datum the coordinates were converted from.
    unmapped
        Counts of what was kept in ``amenities_other``, ``opening_hours_raw`` and ``extra``.
    rows
        The clerk's row of each station (``row 2`` is the first under the header), as problems name them.
    """

    stations: gpd.GeoDataFrame
    report: ValidationReport
    column_mapping: dict[str, str]
    datum: str
    unmapped: UnmappedSummary
    rows: tuple[str, ...] = ()

    def summary(self) -> str:
        """
        Return the one-line outcome: stations imported, datum, what was kept unmapped, warnings.

        E.g. ``"imported 3 stations from 台账.csv (gcj02 -> wgs84); kept unmapped: 1 amenity item(s) in
        amenities_other (1 station(s)), ...; 3 warnings"``.
        """
        return (f"imported {len(self.stations)} stations from {self.report.source or 'the table'} "
                f"({self.datum} -> wgs84); {self.unmapped.describe()}; {len(self.report.warnings)} warnings")


def _count_unmapped(records: list[dict[str, Any]], extra_columns: list[str]) -> UnmappedSummary:
    other = [len(r.get("amenities_other") or ()) for r in records]
    extra = [len(r.get("extra") or {}) for r in records]
    return UnmappedSummary(
        amenity_values=sum(other),
        amenity_stations=sum(1 for n in other if n),
        hours_stations=sum(1 for r in records if r.get("opening_hours_raw")),
        extra_values=sum(extra),
        extra_stations=sum(1 for n in extra if n),
        extra_columns=tuple(extra_columns),
    )


def parse_column_map(items: tuple[str, ...] | list[str]) -> dict[str, str]:
    """
    Parse ``SOURCE=FIELD`` pairs given with ``--map``.

    Raises
    ------
    ImportMappingError
        If an item has no ``=`` or names an unknown field.
    """
    mapping: dict[str, str] = {}
    targets = set(HEADER_SYNONYMS)
    for item in items:
        source, sep, target = str(item).partition("=")
        if not sep or not source.strip() or target.strip() not in targets:
            msg = (f"Column mapping {item!r}: expected SOURCE=FIELD with FIELD one of "
                   f"{', '.join(sorted(targets))}.")
            raise ImportMappingError(msg)
        mapping[source.strip()] = target.strip()
    return mapping


def read_table(path: str | Path, *, sheet: str | int | None = None, encoding: str | None = None) -> pd.DataFrame:
    """
    Read a CSV (UTF-8, UTF-8 with BOM, or GBK/GB18030 as Excel in China saves it) or XLSX table as strings.

    Parameters
    ----------
    path
        ``.csv``/``.txt``/``.tsv`` or ``.xlsx``/``.xlsm`` file.
    sheet
        XLSX sheet name or index (default: the first).
    encoding
        Encoding of a CSV file; None detects UTF-8 or GB18030 and refuses anything else
        (see `stationmap.files.decode_table_text`).

    Raises
    ------
    StationDataError
        If the file is missing, empty, too large (`stationmap.files.MAX_TABLE_BYTES`,
        `~stationmap.files.MAX_XLSX_UNCOMPRESSED_BYTES`), of an encoding that cannot be told, or not a readable
        table.
    """
    path = Path(path)
    if not path.is_file():
        msg = f"Table {str(path)!r} does not exist."
        raise StationDataError(msg)
    suffix = path.suffix.lower()
    try:
        if suffix in {".xlsx", ".xlsm"}:
            check_xlsx_size(path)
            table = pd.read_excel(path, sheet_name=sheet or 0, dtype=object, engine="openpyxl")
        elif suffix in {".csv", ".txt", ".tsv"}:
            size = path.stat().st_size
            if size > MAX_TABLE_BYTES:
                msg = f"{path.name}: {size:,} bytes, more than the limit of {MAX_TABLE_BYTES:,}; split the table."
                raise StationDataError(msg)
            text = decode_table_text(path.read_bytes(), name=path.name, encoding=encoding)
            if not text.strip():
                msg = f"{path.name}: the file is empty; expected a header row and one row per station."
                raise StationDataError(msg)
            sep = "\t" if suffix == ".tsv" else None
            table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, sep=sep, engine="python")
        else:
            msg = f"{path.name}: unsupported table type {suffix!r}; expected .csv or .xlsx."
            raise StationDataError(msg)
    except (ValueError, KeyError, OSError, pd.errors.ParserError, zipfile.BadZipFile, csv.Error) as err:
        if isinstance(err, StationDataError):
            raise
        msg = f"Cannot read table {path.name}: {err}"
        raise StationDataError(msg) from err
    table = table.dropna(how="all")
    if table.empty:
        msg = f"{path.name}: the table has no rows."
        raise StationDataError(msg)
    return table


def _cell(value: Any) -> str | None:
    """Return a cell as stripped text, or None when empty."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (dt.datetime, dt.date, pd.Timestamp)):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def _map_headers(columns: list[str], column_map: Mapping[str, str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for col in columns:
        target = column_map.get(col) or _HEADER_LOOKUP.get(_norm_header(col))
        if target and target not in used:
            mapping[col] = target
            used.add(target)
        else:
            mapping[col] = "extra"
    missing = [c for c in column_map if c not in columns]
    if missing:
        msg = f"Column mapping names columns the table does not have: {', '.join(missing)} (has: {', '.join(columns)})."
        raise ImportMappingError(msg)
    needed = [t for t in ("name", "lon", "lat") if t not in used]
    if needed:
        hints = {"name": "站点名称/name", "lon": "经度/lon", "lat": "纬度/lat"}
        msg = (f"No column for {', '.join(hints[n] for n in needed)} among the headers "
               f"{', '.join(map(str, columns))}; rename them or give --map 'HEADER=FIELD'.")
        raise ImportMappingError(msg)
    return mapping


def _parse_stars(text: str) -> int | None:
    text = text.strip()
    if text in {"未评", "未评定", "无", "-", "0星"}:
        return 0
    if set(text) <= {"★", "☆"} and text:
        return text.count("★")
    match = re.match(r"^(\d+)(?:\.0+)?\s*(?:星级?|★|stars?)?$", text, re.IGNORECASE)
    if match:
        return int(match.group(1))
    match = re.match(r"^([零一二两三四五])\s*星级?$", text)
    if match:
        return _ZH_DIGITS[match.group(1)]
    return None


def _parse_number(text: str) -> float | None:
    match = re.match(r"^\s*(\d+(?:\.\d+)?)\s*(?:㎡|m2|m²|平方米|平米|个|人|座|人次|次)?\s*$", text)
    return float(match.group(1)) if match else None


def _parse_date(text: str) -> str | None:
    match = re.match(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:\s.*)?$", text)
    if not match:
        return None
    try:
        return dt.date(*map(int, match.groups())).isoformat()
    except ValueError:
        return None


def _parse_adcode(text: str) -> str | None:
    """
    Read a district adcode as text: ``440106``, ``440106.0`` (a number Excel saved as text), or the 12-digit
    statistical code of the district itself (``440106000000``). The digits are kept as written, leading zeros too.
    """
    match = re.fullmatch(r"(\d{6})(?:\.0+|000000)?", text.strip())
    return match.group(1) if match else None


def _parse_honours(text: str) -> list[dict[str, Any]] | None:
    text = text.strip()
    if text.startswith("["):
        try:
            value = json.loads(text)
        except (json.JSONDecodeError, RecursionError):  # [[[[...]]]] deeper than the parser's stack: not honours
            return None
        return value if isinstance(value, list) else None
    honours = []
    for part in re.split(r"[;；\n]+", text):
        part = part.strip()
        if not part:
            continue
        year = re.search(r"(19|20)\d{2}", part)
        level = ("national" if re.search(r"全国|国家", part) else
                 "provincial" if re.search(r"省|自治区", part) else "city" if "市" in part else None)
        if not year or not level:
            return None
        title = re.sub(r"(19|20)\d{2}\s*年?(度)?", "", part).strip(" ：:，,") or part
        honours.append({"level": level, "title": title, "year": int(year.group())})
    return honours


def _split_items(text: str) -> list[str]:
    """Split a list cell at the separators clerks use, but never inside brackets ("饮水(冷/热)" is one item)."""
    items: list[str] = []
    buffer: list[str] = []
    depth = 0
    for char in unicodedata.normalize("NFKC", text):
        if char in _OPEN_BRACKETS:
            depth += 1
        elif char in _CLOSE_BRACKETS and depth:
            depth -= 1
        if depth == 0 and (char in _LIST_SEPARATORS or char.isspace()):
            items.append("".join(buffer))
            buffer = []
        else:
            buffer.append(char)
    items.append("".join(buffer))
    return [item.strip() for item in items if item.strip()]


def _resolve_item(item: str, vocab: Vocabulary) -> tuple[list[str], list[str]]:
    """Resolve one list item to keys; return (keys, the parts of it that are not in `vocab`)."""
    item = _TRAILING_ETC.sub("", item).strip()
    if not item:
        return [], []  # a lone "等"
    for candidate in (item, _FREE_PREFIX.sub("", item)):
        key = vocab.resolve(candidate)
        if key is not None:
            return [key], []
    # "AED(除颤仪)": the bracket only repeats the item; "饮水(冷热)" says more, so it stays unmapped
    base = _BRACKETED.sub("", item).strip()
    inner = [part for found in _BRACKETED.findall(item) for part in _split_items(found)]
    base_key = vocab.resolve(base) if base and base != item else None
    if base_key is not None and all(vocab.resolve(part) == base_key for part in inner):
        return [base_key], []
    parts = [p.strip() for p in _LIST_CONJUNCTION.split(item) if p.strip()]
    if len(parts) > 1 and "(" not in item:
        keys: list[str] = []
        unknown: list[str] = []
        for part in parts:
            part_keys, part_unknown = _resolve_item(part, vocab)
            keys += part_keys
            unknown += part_unknown
        if keys:
            return keys, unknown
    return [], [item]


def _resolve_list(text: str, vocab: Vocabulary) -> tuple[list[str], list[str]]:
    """
    Resolve a clerk's list cell ("直饮水、微波炉及充电宝等") to vocabulary keys.

    Items are separated by 、 ， , ； ; / | + 。 whitespace or new lines (not inside brackets); a trailing 等 (等服务,
    等设施 ...) is dropped; a leading 免费/提供 is ignored; an item that is not a label is split at 及/和/与/或.

    Returns
    -------
    keys, unknown
        The keys found, in order and without repeats, and the items (as written) that are not in `vocab`.
    """
    keys: list[str] = []
    unknown: list[str] = []
    for item in _split_items(text):
        item_keys, item_unknown = _resolve_item(item, vocab)
        for key in item_keys:
            if key not in keys:
                keys.append(key)
        for token in item_unknown:
            if token not in unknown:
                unknown.append(token)
    return keys, unknown


class _RowReader(ProblemCollector):
    """Turns one table row into station properties, recording what it could not map in the import's problems."""

    def __init__(self, row_label: str, problems: list[Problem]) -> None:
        super().__init__(problems)  # one list for the whole table, in row order
        self.where = row_label
        self.props: dict[str, Any] = {}
        self.extra: dict[str, str] = {}
        self.given: set[str] = set()  # fields the row has a non-empty cell for, mapped or not

    def record_id(self) -> str | None:
        """The row's id as soon as its id column has been read."""
        return self.props.get("id")

    def enum(self, field_name: str, column: str, text: str, vocab: Vocabulary) -> None:
        key = vocab.resolve(text)
        if key is None:
            self.warn(column, text, vocab.unknown_message(text) + "; kept under 'extra'")
            self.extra[column] = text
        else:
            self.props[field_name] = key

    def keep_other_amenities(self, values: list[str]) -> None:
        """Add to ``amenities_other`` without losing what another column put there."""
        kept = self.props.setdefault("amenities_other", [])
        kept += [v for v in values if v not in kept]

    def read(self, field_name: str, column: str, text: str) -> None:
        self.given.add(field_name)
        if field_name in {"name", "name_en", "address", "district", "host_org", "manager", "phone", "id"}:
            self.props[field_name] = text
        elif field_name == "opening_hours_raw":
            if self.props.get("opening_hours_raw", text) != text:
                self.extra[column] = text  # the hours column was kept raw already: keep both
            else:
                self.props["opening_hours_raw"] = text
        elif field_name == "district_code":
            code = _parse_adcode(text)
            if code is not None:
                self.props[field_name] = code
            else:
                self.warn(column, text, "a 6-digit adcode such as 440106; kept under 'extra'")
                self.extra[column] = text
        elif field_name in {"kind", "host_type", "status", "toilet"}:
            vocab = {"kind": KINDS, "host_type": HOST_TYPES, "status": STATUSES, "toilet": TOILET}[field_name]
            self.enum(field_name, column, text, vocab)
        elif field_name == "amenities":
            keys, unknown = _resolve_list(text, AMENITIES)
            for token in list(unknown):
                toilet = TOILET_WORDS.resolve(token)
                if toilet is not None:  # "卫生间" in the list states the toilet field; a 厕所 column wins
                    unknown.remove(token)
                    self.props.setdefault("toilet", toilet)
            self.props["amenities"] = keys
            if unknown:
                self.keep_other_amenities(unknown)
                for token in unknown:
                    self.warn(column, token, AMENITIES.unknown_message(token) + "; kept in 'amenities_other'")
        elif field_name == "served_groups":
            keys, unknown = _resolve_list(text, SERVED_GROUPS)
            self.props["served_groups"] = keys
            if unknown:
                self.extra[column] = text
                self.warn(column, unknown, SERVED_GROUPS.unknown_message(unknown[0]) + "; kept under 'extra'")
        elif field_name == "opening_hours":
            try:
                self.props["opening_hours"] = clerk_hours.normalize_clerk_hours(text)
            except OpeningHoursError as err:
                self.props["opening_hours_raw"] = text
                self.warn(column, text, f"opening hours a clerk or OSM would write ({err}); kept in "
                          "'opening_hours_raw'")
        elif field_name == "stars":
            stars = _parse_stars(text)
            if stars is None or not 0 <= stars <= 5:
                self.error(column, text, "a star level from 0 to 5 (e.g. 3, 3星, 三星级, ★★★)")
            else:
                self.props["stars"] = stars
        elif field_name in {"area_m2", "capacity", "visits"}:
            number = _parse_number(text)
            if number is None or (field_name != "area_m2" and not number.is_integer()):
                self.error(column, text, "a number" if field_name == "area_m2" else "a whole number")
            else:
                self.props[field_name] = number if field_name == "area_m2" else int(number)
        elif field_name in {"stars_assessed_on", "last_verified"}:
            date = _parse_date(text)
            if date is None:
                self.error(column, text, "a date such as 2024-05-01, 2024/5/1 or 2024年5月1日")
            else:
                self.props[field_name] = date
        elif field_name == "honours":
            honours = _parse_honours(text)
            if honours is None:
                self.warn(column, text, "honours such as '2021年全国最美工会户外劳动者服务站点'; kept under 'extra'")
                self.extra[column] = text
            else:
                self.props["honours"] = honours
        elif field_name == "demo":
            self.props["demo"] = text.lower() in {"true", "1", "是", "yes"}
        elif field_name in {"amenities_other", "extra"}:
            try:
                value = json.loads(text)  # our own exports write these as JSON
            except (json.JSONDecodeError, RecursionError):  # RecursionError: [[[[...]]]], kept as text
                value = _split_items(text) if field_name == "amenities_other" else {column: text}
            if field_name == "amenities_other":
                self.keep_other_amenities([str(v) for v in value] if isinstance(value, list) else [text])
            elif isinstance(value, dict):
                self.extra.update(value)
            else:
                self.extra[column] = text  # JSON, but not an object: kept as written


def _coordinate(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(str(text).replace("，", ".").strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def import_table(path: str | Path, *, crs: str | None, district: District | None = None,
                 column_map: Mapping[str, str] | None = None, sheet: str | int | None = None,
                 id_prefix: str | None = None, encoding: str | None = None) -> ImportResult:
    """
    Import a clerk's CSV/XLSX station table into WGS-84 station records.

    Parameters
    ----------
    path
        ``.csv`` (UTF-8 or GB18030, else give `encoding`) or ``.xlsx`` table with one station per row.
    crs
        Datum of the table's coordinates: ``wgs84``, ``gcj02`` (Amap, Tencent) or ``bd09`` (Baidu). Required.
    district
        The district the table is about. It only fills rows that name no district of their own: a row's own
        ``district``/``district_code`` (columns such as 所属区县, 行政区, 辖区 / 行政区划代码, adcode) is kept as
        written, and the option fills the other of the two only where the row's value is the option's own
        (its name or adcode). Stations with the option's adcode outside its boundary get a warning; whether a
        row's own district matches its location is not checked here.
    column_map
        Source header -> field, for headers the importer does not recognise.
    sheet
        XLSX sheet name or index (default: the first).
    id_prefix
        Prefix of generated ids for rows without one (default: the district adcode, else ``ST``).
    encoding
        Encoding of a CSV table; None reads UTF-8 or GB18030 and refuses anything it cannot tell
        (see `read_table`).

    Returns
    -------
    result
        Stations in EPSG:4326, the warnings, the column mapping used, and the count of what was kept unmapped
        (``result.unmapped``, ``result.summary()``). Nothing is dropped: list items not in the vocabulary go to
        ``amenities_other``, hours that cannot be read to ``opening_hours_raw``, unrecognised columns and
        values a field cannot take to ``extra``; each is a warning in ``result.report``.

    Raises
    ------
    DatumError
        If `crs` is missing or unknown (a datum is never guessed).
    ImportMappingError
        If no name or coordinate columns can be found.
    StationDataError
        With every row problem, if any row cannot be imported (e.g. missing or unparseable coordinates).
    """
    datum = geo.parse_datum(crs)
    table = read_table(path, sheet=sheet, encoding=encoding)
    columns = [str(c) for c in table.columns]
    table.columns = columns
    mapping = _map_headers(columns, dict(column_map or {}))
    # the "extra" column of our own exports holds JSON; any other unmapped column is kept verbatim
    extra_json_columns = {c for c in columns
                          if (column_map or {}).get(c, _HEADER_LOOKUP.get(_norm_header(c))) == "extra"}
    problems: list[Problem] = []
    unrecognised = [c for c, t in mapping.items() if t == "extra" and c not in extra_json_columns]
    for column in unrecognised:
        n_values = sum(_cell(v) is not None for v in table[column])
        if n_values:
            problems.append(Problem(
                "file", None, column, f"{n_values} value(s)",
                f"a column the importer does not recognise; its values are kept under 'extra' "
                f"(give --map '{column}=FIELD' to read it into a field)", "warning"))
    records: list[dict[str, Any]] = []
    given: list[set[str]] = []
    coords: list[tuple[float, float]] = []
    for n, (_, row) in enumerate(table.iterrows()):
        reader = _RowReader(f"row {n + 2}", problems)  # row 1 is the header, as the clerk's spreadsheet shows
        lon_lat: dict[str, float | None] = {}
        for column, target in mapping.items():
            text = _cell(row[column])
            if text is None:
                continue
            if len(text) > MAX_CELL_CHARS:
                reader.error(column, text[:40], f"a cell of at most {MAX_CELL_CHARS:,} characters "
                             f"(this one has {len(text):,})")
                continue
            if is_formula_text(row[column]):
                reader.warn(column, row[column], "text, not a spreadsheet formula: a cell starting with =, +, -, @, "
                            "tab or CR runs as a formula when opened in Excel; kept as written (exports prefix ')")
            if target in ("lon", "lat"):
                lon_lat[target] = _coordinate(text)
                if lon_lat[target] is None:
                    reader.error(column, text, "a number of decimal degrees")
            elif target == "extra" and column not in extra_json_columns:
                reader.extra[column] = text  # an unrecognised column: kept as it is
            else:
                reader.read(target, column, text)
        for target in ("lon", "lat"):
            if target not in lon_lat:
                column = next(c for c, t in mapping.items() if t == target)
                reader.error(column, None, "a coordinate (the cell is empty)")
        if reader.extra:
            reader.props["extra"] = {**reader.props.get("extra", {}), **reader.extra}
        records.append(reader.props)
        given.append(reader.given)
        coords.append((lon_lat.get("lon") or math.nan, lon_lat.get("lat") or math.nan))
    if any(p.severity == "error" for p in problems):
        report = ValidationReport(tuple(problems), len(records), Path(path).name)
        raise StationDataError(report.message(limit=100))

    lon = np.array([c[0] for c in coords])
    lat = np.array([c[1] for c in coords])
    wgs_lon, wgs_lat = geo.convert_coords(lon, lat, src=datum, dst="wgs84")
    prefix = id_prefix or (district.adcode if district and district.adcode else "ST")
    taken = {r["id"] for r in records if r.get("id")}
    seq = 0
    features = []
    for props, row_given, x, y in zip(records, given, wgs_lon, wgs_lat, strict=True):
        if not props.get("id"):
            seq += 1
            while f"{prefix}-{seq:03d}" in taken:
                seq += 1
            props["id"] = f"{prefix}-{seq:03d}"
        if district is not None:
            _fill_district(props, row_given, district)
        ordered = {k: props[k] for k in FIELDS if k in props}
        features.append({"type": "Feature", "id": props["id"], "properties": ordered,
                         "geometry": {"type": "Point", "coordinates": [round(float(x), 7), round(float(y), 7)]}})
    doc = {"type": "FeatureCollection", "features": features}
    districts = {district.adcode: district.geometry} if district and district.adcode else None
    checked = validate_features(doc, districts=districts, source=Path(path).name)
    rows = tuple(f"row {n + 2}" for n in range(len(features)))
    # name every problem by the clerk's row, as the reader does, not by the feature it became
    relabel = {f"features[{i}]": row for i, row in enumerate(rows)}
    checked_rows = tuple(dataclasses.replace(p, where=relabel.get(p.where, p.where)) for p in checked.problems)
    report = ValidationReport(tuple(problems) + checked_rows, len(features), Path(path).name)
    if report.errors:
        raise StationDataError(report.message(limit=100))
    metadata: dict[str, object] = {"imported_from": Path(path).name, "source_datum": datum}
    if any(f["properties"].get("demo") for f in features):
        metadata.update(demo=True, notice_zh=DEMO_NOTICE["zh"], notice_en=DEMO_NOTICE["en"])
    stations = stations_from_features(features, metadata)
    return ImportResult(stations=stations, report=report, column_mapping=mapping, datum=datum,
                        unmapped=_count_unmapped(records, unrecognised), rows=rows)


def _fill_district(props: dict[str, Any], row_given: set[str], district: District) -> None:
    """Fill a row's district fields from ``--district`` without overwriting what the row says itself."""
    own_code = "district_code" in row_given
    own_name = "district" in row_given
    if not own_code and not own_name:
        if district.adcode:
            props["district_code"] = district.adcode
        if district.name:
            props["district"] = district.name
    elif own_name and not own_code and district.adcode and props.get("district") == district.name:
        props["district_code"] = district.adcode
    elif own_code and not own_name and district.name and props.get("district_code") == district.adcode:
        props["district"] = district.name
