"""Import the CSV/XLSX tables union clerks keep: Chinese or English headers, labels, clerk-written hours, any datum.

Nothing is guessed and nothing is dropped: the source datum must be given; a value that cannot be mapped to the
vocabulary is kept (``amenities_other``, ``opening_hours_raw``, ``extra``) and reported as a warning; a row that
cannot be placed (no or bad coordinates) is an error that stops the import, with every such row listed.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from stationmap import geo, hours
from stationmap.districts import District
from stationmap.errors import ImportMappingError, OpeningHoursError, StationDataError
from stationmap.schema import (
    AMENITIES,
    DEMO_NOTICE,
    FIELDS,
    HOST_TYPES,
    KINDS,
    SERVED_GROUPS,
    STATUSES,
    TOILET,
    Vocabulary,
)
from stationmap.stations import Problem, ValidationReport, stations_from_features, validate_features

__all__ = ["HEADER_SYNONYMS", "ImportResult", "import_table", "parse_column_map", "read_table"]

#: Accepted source headers for each target field (compared without spaces, case or bracketed units).
HEADER_SYNONYMS: dict[str, tuple[str, ...]] = {
    "id": ("id", "站点编号", "编号", "站点id", "站点代码"),
    "name": ("name", "站点名称", "名称", "驿站名称", "站点", "服务站点名称", "阵地名称"),
    "name_en": ("name_en", "英文名称", "英文名"),
    "kind": ("kind", "站点类型", "类型", "类别"),
    "address": ("address", "地址", "详细地址", "站点地址", "位置"),
    "district_code": ("district_code", "adcode", "行政区划代码", "区划代码", "区县代码"),
    "district": ("district", "所属区县", "区县", "所属区域", "所在区县", "区"),
    "lon": ("lon", "lng", "long", "longitude", "x", "经度", "东经"),
    "lat": ("lat", "latitude", "y", "纬度", "北纬"),
    "opening_hours": ("opening_hours", "hours", "开放时间", "服务时间", "营业时间", "开放时段"),
    "amenities": ("amenities", "设施", "服务项目", "设施/服务项目", "设施服务项目", "配套设施", "服务内容", "功能"),
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
_LIST_SPLIT = re.compile(r"[,，、;；/|\n]+|\s{1,}")
_TOILET_WORDS = {"厕所": "onsite", "卫生间": "onsite", "洗手间": "onsite", "如厕": "onsite", "公厕": "nearby",
                 "附近公厕": "nearby", "就近如厕": "nearby"}
_ZH_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}


def _norm_header(text: str) -> str:
    text = re.sub(r"[（(【\[].*?[）)】\]]", "", str(text))  # drop units such as 面积(平方米)
    return re.sub(r"[\s_\-]+", "", text).lower()


_HEADER_LOOKUP = {_norm_header(s): target for target, syns in HEADER_SYNONYMS.items() for s in syns}


@dataclass(frozen=True)
class ImportResult:
    """
    The outcome of importing a clerk's table.

    Attributes
    ----------
    stations
        Imported stations in EPSG:4326 (converted from the source datum).
    report
        Warnings about what was kept unmapped, and the validation of the result.
    column_mapping
        Source header -> field it was read into (``extra`` for unrecognised headers).
    datum
        The source datum the coordinates were converted from.
    """

    stations: gpd.GeoDataFrame
    report: ValidationReport
    column_mapping: dict[str, str]
    datum: str


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


def read_table(path: str | Path, *, sheet: str | int | None = None) -> pd.DataFrame:
    """
    Read a CSV (UTF-8, UTF-8 with BOM, or GB18030 as Excel in China saves it) or XLSX table as strings.

    Raises
    ------
    StationDataError
        If the file is missing, empty, or not a readable table.
    """
    path = Path(path)
    if not path.is_file():
        msg = f"Table {str(path)!r} does not exist."
        raise StationDataError(msg)
    suffix = path.suffix.lower()
    try:
        if suffix in {".xlsx", ".xlsm"}:
            table = pd.read_excel(path, sheet_name=sheet or 0, dtype=object, engine="openpyxl")
        elif suffix in {".csv", ".txt", ".tsv"}:
            raw = path.read_bytes()
            for encoding in ("utf-8-sig", "gb18030"):
                try:
                    text = raw.decode(encoding)
                    break
                except UnicodeDecodeError:
                    continue
            else:
                msg = f"{path.name}: neither UTF-8 nor GB18030 text; save it as UTF-8 CSV."
                raise StationDataError(msg)
            sep = "\t" if suffix == ".tsv" else None
            table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, sep=sep, engine="python")
        else:
            msg = f"{path.name}: unsupported table type {suffix!r}; expected .csv or .xlsx."
            raise StationDataError(msg)
    except (ValueError, KeyError, OSError, pd.errors.ParserError) as err:
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


def _parse_honours(text: str) -> list[dict[str, Any]] | None:
    text = text.strip()
    if text.startswith("["):
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
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


def _resolve_list(text: str, vocab: Vocabulary) -> tuple[list[str], list[str]]:
    keys: list[str] = []
    unknown: list[str] = []
    for token in (t.strip() for t in _LIST_SPLIT.split(text)):
        if not token:
            continue
        key = vocab.resolve(token)
        if key is None:
            unknown.append(token)
        elif key not in keys:
            keys.append(key)
    return keys, unknown


class _RowReader:
    """Turns one table row into station properties, recording what it could not map."""

    def __init__(self, row_label: str, problems: list[Problem]) -> None:
        self.where = row_label
        self.problems = problems
        self.props: dict[str, Any] = {}
        self.extra: dict[str, str] = {}

    def warn(self, column: str, value: Any, expected: str) -> None:
        self.problems.append(Problem(self.where, self.props.get("id"), column, value, expected, "warning"))

    def error(self, column: str, value: Any, expected: str) -> None:
        self.problems.append(Problem(self.where, self.props.get("id"), column, value, expected, "error"))

    def enum(self, field_name: str, column: str, text: str, vocab: Vocabulary) -> None:
        key = vocab.resolve(text)
        if key is None:
            self.warn(column, text, vocab.unknown_message(text) + "; kept under 'extra'")
            self.extra[column] = text
        else:
            self.props[field_name] = key

    def read(self, field_name: str, column: str, text: str) -> None:  # noqa: C901 - one branch per field kind
        if field_name in {"name", "name_en", "address", "district", "host_org", "manager", "phone", "id",
                          "opening_hours_raw"}:
            self.props[field_name] = text
        elif field_name == "district_code":
            if re.fullmatch(r"\d{6}", text):
                self.props[field_name] = text
            else:
                self.warn(column, text, "a 6-digit adcode; kept under 'extra'")
                self.extra[column] = text
        elif field_name in {"kind", "host_type", "status", "toilet"}:
            vocab = {"kind": KINDS, "host_type": HOST_TYPES, "status": STATUSES, "toilet": TOILET}[field_name]
            self.enum(field_name, column, text, vocab)
        elif field_name == "amenities":
            keys, unknown = _resolve_list(text, AMENITIES)
            for token in list(unknown):
                if token in _TOILET_WORDS:
                    unknown.remove(token)
                    self.props.setdefault("toilet", _TOILET_WORDS[token])
            self.props["amenities"] = keys
            if unknown:
                self.props["amenities_other"] = unknown
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
                self.props["opening_hours"] = hours.normalize_clerk_hours(text)
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
                value = json.loads(text)
            except json.JSONDecodeError:
                value = [text] if field_name == "amenities_other" else {column: text}
            if field_name == "extra" and isinstance(value, dict):
                self.extra.update(value)
            else:
                self.props[field_name] = value


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
                 id_prefix: str | None = None) -> ImportResult:
    """
    Import a clerk's CSV/XLSX station table into WGS-84 station records.

    Parameters
    ----------
    path
        ``.csv`` (UTF-8 or GB18030) or ``.xlsx`` table with one station per row.
    crs
        Datum of the table's coordinates: ``wgs84``, ``gcj02`` (Amap, Tencent) or ``bd09`` (Baidu). Required.
    district
        The district the stations belong to: fills ``district_code``/``district`` where empty, and stations
        outside its boundary get a warning.
    column_map
        Source header -> field, for headers the importer does not recognise.
    sheet
        XLSX sheet name or index (default: the first).
    id_prefix
        Prefix of generated ids for rows without one (default: the district adcode, else ``ST``).

    Returns
    -------
    result
        Stations in EPSG:4326, the warnings, and the column mapping used.

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
    table = read_table(path, sheet=sheet)
    columns = [str(c) for c in table.columns]
    table.columns = columns
    mapping = _map_headers(columns, dict(column_map or {}))
    # the "extra" column of our own exports holds JSON; any other unmapped column is kept verbatim
    extra_json_columns = {c for c in columns if (column_map or {}).get(c, _HEADER_LOOKUP.get(_norm_header(c))) == "extra"}
    problems: list[Problem] = []
    records: list[dict[str, Any]] = []
    coords: list[tuple[float, float]] = []
    for n, (_, row) in enumerate(table.iterrows()):
        reader = _RowReader(f"row {n + 2}", problems)  # row 1 is the header, as the clerk's spreadsheet shows
        lon_lat: dict[str, float | None] = {}
        for column, target in mapping.items():
            text = _cell(row[column])
            if text is None:
                continue
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
    for props, x, y in zip(records, wgs_lon, wgs_lat, strict=True):
        if not props.get("id"):
            seq += 1
            while f"{prefix}-{seq:03d}" in taken:
                seq += 1
            props["id"] = f"{prefix}-{seq:03d}"
        if district is not None:
            if district.adcode:
                props.setdefault("district_code", district.adcode)
            if district.name:
                props.setdefault("district", district.name)
        ordered = {k: props[k] for k in FIELDS if k in props}
        features.append({"type": "Feature", "id": props["id"], "properties": ordered,
                         "geometry": {"type": "Point", "coordinates": [round(float(x), 7), round(float(y), 7)]}})
    doc = {"type": "FeatureCollection", "features": features}
    districts = {district.adcode: district.geometry} if district and district.adcode else None
    checked = validate_features(doc, districts=districts, source=Path(path).name)
    report = ValidationReport(tuple(problems) + checked.problems, len(features), Path(path).name)
    if report.errors:
        raise StationDataError(report.message(limit=100))
    metadata = {"imported_from": Path(path).name, "source_datum": datum}
    if any(f["properties"].get("demo") for f in features):
        metadata.update(demo=True, notice_zh=DEMO_NOTICE["zh"], notice_en=DEMO_NOTICE["en"])
    stations = stations_from_features(features, metadata)
    return ImportResult(stations=stations, report=report, column_mapping=mapping, datum=datum)
