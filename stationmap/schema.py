"""Field names of the station record and its controlled vocabularies, each key with zh and en labels."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

__all__ = [
    "AMENITIES",
    "COMPLAINT_LINE",
    "DEMO_NOTICE",
    "FIELDS",
    "HONOUR_LEVELS",
    "HOST_TYPES",
    "KINDS",
    "NESTED_FIELDS",
    "SERVED_GROUPS",
    "STATUSES",
    "TOILET",
    "TOILET_WORDS",
    "Term",
    "Vocabulary",
]

COMPLAINT_LINE = "12351"
DEMO_NOTICE = {
    "zh": "示意数据：站点位置为示意，并非官方登记名录。",
    "en": "Demo data: station locations are illustrative, not an official register.",
}


@dataclass(frozen=True)
class Term:
    """One key of a vocabulary with its labels and the synonyms accepted on import."""

    key: str
    zh: str
    en: str
    synonyms: tuple[str, ...] = ()


def _norm(text: str) -> str:
    return re.sub(r"[\s_\-/（）()]+", "", text).lower()


class Vocabulary:
    """
    A controlled vocabulary: lookup by key, Chinese label, English label or synonym, with "did you mean".

    Parameters
    ----------
    name
        Field name the vocabulary belongs to, used in messages.
    terms
        The terms, in display order.
    """

    def __init__(self, name: str, terms: tuple[Term, ...]) -> None:
        self.name = name
        self.terms = terms
        self.by_key = {t.key: t for t in terms}
        self._lookup: dict[str, str] = {}
        for t in terms:
            for label in (t.key, t.zh, t.en, *t.synonyms):
                self._lookup.setdefault(_norm(label), t.key)

    def __contains__(self, key: object) -> bool:
        return key in self.by_key

    def __iter__(self):
        return iter(self.by_key)

    def __len__(self) -> int:
        return len(self.terms)

    @property
    def keys(self) -> tuple[str, ...]:
        """All keys, in display order."""
        return tuple(self.by_key)

    def resolve(self, label: str) -> str | None:
        """Return the key for a key, label or synonym (case, spaces and punctuation ignored), else None."""
        return self._lookup.get(_norm(str(label)))

    def suggest(self, label: str) -> str | None:
        """Return the closest key to an unknown `label`, for a "did you mean" message, or None."""
        hit = difflib.get_close_matches(_norm(str(label)), list(self._lookup), n=1, cutoff=0.6)
        return self._lookup[hit[0]] if hit else None

    def unknown_message(self, value: object) -> str:
        """Describe an unknown value with a suggestion and the expected keys."""
        guess = self.suggest(str(value))
        hint = f"; did you mean {guess!r}?" if guess else ""
        return f"unknown {self.name} {value!r}{hint} (expected one of: {', '.join(self.keys)})"

    def label(self, key: str, lang: str = "zh") -> str:
        """Return the zh or en label of `key`."""
        term = self.by_key[key]
        return term.zh if lang == "zh" else term.en


#: Words for a toilet that clerks put in a station's amenity list; they state the ``toilet`` field, not an amenity.
_TOILET_ONSITE_WORDS = ("厕所", "卫生间", "洗手间", "如厕", "站内厕所", "站内卫生间", "内设卫生间", "内设厕所",
                        "独立卫生间", "toilet", "wc")
_TOILET_NEARBY_WORDS = ("公厕", "公共厕所", "附近公厕", "就近如厕", "周边公厕", "附近厕所", "附近卫生间", "就近公厕")

# Synonyms are the ways district unions' registers (台账) write each facility, compared without case, spaces, "_",
# "-", "/" or bracket characters. A word belongs to one key only (tests/test_schema.py checks it).
AMENITIES = Vocabulary("amenity", (
    Term("drinking_water", "饮水", "Drinking water",
         ("直饮水", "饮水机", "热水", "开水", "茶水", "喝水", "免费饮水", "净水器", "饮用水", "冷热水", "冷热饮水",
          "纯净水", "饮水设备", "直饮机", "开水器", "免费茶水", "water")),
    Term("meal_heating", "热饭", "Meal heating",
         ("微波炉", "热饭/微波炉", "加热", "热餐", "热饭菜", "加热饭菜", "微波炉热饭", "微波炉加热", "microwave")),
    Term("fridge", "冰箱", "Fridge", ("冷藏", "冰柜", "冷藏柜")),
    Term("seating", "休息", "Seating",
         ("桌椅", "桌椅/休息", "歇脚", "座椅", "休息区", "休息椅", "休息座椅", "休息桌椅", "沙发", "休息室", "座位",
          "桌凳", "长椅", "rest")),
    Term("air_conditioning", "空调", "Air conditioning", ("冷气", "空调机", "纳凉", "避暑", "降温", "ac")),
    Term("heating", "取暖", "Heating", ("暖气", "取暖器", "电暖器", "电暖气", "暖风机", "取暖设备", "避寒")),
    Term("phone_charging", "手机充电", "Phone charging",
         ("充电", "充电宝", "充电插座", "充电插头", "充电线", "充电器", "手机充电器", "免费充电", "charging")),
    # a 充电桩 is a charging post for vehicles, not for phones
    Term("ebike_charging", "电动车充电", "E-bike charging",
         ("电瓶车充电", "电单车充电", "电动自行车充电", "充电桩", "电动车充电桩", "电瓶车充电桩", "电动车充电站")),
    Term("battery_swap", "换电", "Battery swap", ("换电柜", "换电池", "电池更换", "换电服务")),
    Term("first_aid", "应急药箱", "First aid kit",
         ("药箱", "急救箱", "医药箱", "应急药品", "常用药品", "常用药", "医疗箱", "急救包", "急救药箱", "便民药箱",
          "爱心药箱", "急救用品", "first aid")),
    Term("aed", "AED", "AED", ("除颤仪", "除颤器", "自动除颤仪", "自动体外除颤器", "自动体外除颤仪")),
    Term("blood_pressure", "血压仪", "Blood pressure monitor", ("血压计", "电子血压计", "量血压", "测血压")),
    Term("wifi", "无线网络", "Wi-Fi", ("无线网", "无线上网", "免费wifi", "免费无线网络", "免费上网", "wlan", "网络")),
    Term("reading", "书报", "Reading corner",
         ("职工书屋", "书报/职工书屋", "阅读", "图书", "书籍", "书刊", "报刊", "报纸", "杂志", "报刊杂志", "书报刊",
          "书架", "书报架", "图书角", "阅读角")),
    Term("rain_gear", "雨具", "Rain gear", ("雨伞", "雨衣", "雨披", "爱心雨伞", "共享雨伞")),
    Term("toolkit", "工具箱", "Toolkit",
         ("维修工具", "修理工具", "简易维修工具", "应急工具", "工具", "工具包", "打气筒", "打气", "充气")),
    Term("lockers", "储物柜", "Lockers", ("寄存", "储物", "寄存柜", "物品寄存", "存包")),
    Term("mother_baby_room", "母婴室", "Mother and baby room", ("爱心妈咪小屋", "哺乳室", "母婴休息室")),
    Term("counselling", "心理疏导", "Counselling", ("心灵驿站", "心理咨询", "心理辅导")),
    Term("legal_aid", "法律服务", "Legal aid", ("法律援助", "法律咨询", "维权")),
    Term("shower", "淋浴", "Shower", ("淋浴间", "洗澡", "沐浴")),
    Term("laundry", "洗衣", "Laundry", ("洗衣机",)),
    Term("parking", "停车", "Parking", ("停车场", "停车位", "停车区")),
    Term("wheelchair_access", "无障碍", "Wheelchair access", ("无障碍通道", "无障碍设施", "无障碍坡道", "轮椅")),
    Term("hand_washing", "洗手", "Hand washing", ("洗手池", "洗手台", "洗手液")),
    Term("sewing_kit", "针线包", "Sewing kit", ("针线", "针线盒")),
    Term("reading_glasses", "老花镜", "Reading glasses", ("老花眼镜",)),
    Term("fan", "电风扇", "Fan", ("风扇", "电扇")),
    Term("tv", "电视", "TV", ("电视机",)),
    Term("heat_relief", "防暑降温用品", "Heat-relief supplies",
         ("防暑用品", "防暑降温", "防暑药品", "清凉油", "风油精", "藿香正气水", "绿豆汤")),
))

KINDS = Vocabulary("kind", (
    Term("outdoor_worker_station", "工会户外劳动者服务站点", "Outdoor worker station",
         ("爱心驿站", "工会驿站", "职工驿站", "户外劳动者服务站", "温馨港湾")),
    Term("driver_home", "司机之家", "Driver home", ()),
    Term("worker_home", "职工之家", "Worker home", ()),
))

SERVED_GROUPS = Vocabulary("served group", (
    Term("sanitation", "环卫工人", "Sanitation workers", ("环卫", "环卫工")),
    Term("courier", "快递员", "Couriers", ("快递", "快递小哥")),
    Term("delivery_rider", "外卖骑手", "Delivery riders", ("外卖", "骑手", "外卖员")),
    Term("taxi", "出租车司机", "Taxi drivers", ("出租车", "的哥")),
    Term("ride_hail", "网约车司机", "Ride-hail drivers", ("网约车",)),
    Term("truck_driver", "货车司机", "Truck drivers", ("货车", "卡车司机")),
    Term("gardener", "园林工人", "Gardeners", ("园林", "绿化工人")),
    Term("traffic_police", "交警", "Traffic police", ("交通警察", "辅警")),
    Term("other", "其他", "Other", ()),
))

HOST_TYPES = Vocabulary("host type", (
    Term("bank", "银行网点", "Bank branch", ("银行",)),
    Term("post", "邮政网点", "Post office", ("邮政", "邮局")),
    Term("telecom", "通信营业厅", "Telecom shop", ("移动", "联通", "电信", "铁塔", "营业厅")),
    Term("fuel", "加油站", "Fuel station", ("中石化", "中石油", "加油加气站")),
    Term("community", "社区服务中心", "Community centre", ("社区", "党群服务中心", "便民服务中心")),
    Term("pharmacy", "药店", "Pharmacy", ("药房",)),
    Term("sanitation_yard", "环卫站", "Sanitation yard", ("环卫所", "环卫工人休息室")),
    Term("public_toilet", "公共厕所", "Public toilet", ("公厕",)),
    Term("enterprise", "企业", "Enterprise", ("公司", "商场", "商户")),
    Term("union", "工会", "Trade union", ("总工会", "职工服务中心")),
    Term("government", "机关单位", "Government office", ("政务服务中心", "市民中心")),
    Term("park", "公园", "Park", ("景区", "广场")),
    Term("other", "其他", "Other", ()),
))

TOILET = Vocabulary("toilet", (
    Term("onsite", "站内", "On site", ("有", "是", "yes", "内部", *_TOILET_ONSITE_WORDS)),
    Term("nearby", "附近", "Nearby", ("就近", "周边", *_TOILET_NEARBY_WORDS)),
    Term("none", "无", "None", ("否", "no", "没有", "无厕所", "无卫生间")),
))

#: The toilet words that may stand in an amenity list ("饮水、卫生间、微波炉"), resolved to a ``toilet`` value.
#: Only words that name a toilet: "有" or "无" in an amenity list says nothing about one.
TOILET_WORDS = Vocabulary("toilet", (
    Term("onsite", "站内厕所", "On-site toilet", _TOILET_ONSITE_WORDS),
    Term("nearby", "附近公厕", "Nearby public toilet", _TOILET_NEARBY_WORDS),
))

STATUSES = Vocabulary("status", (
    Term("open", "运营中", "Open", ("开放", "正常")),
    Term("temporarily_closed", "暂停开放", "Temporarily closed", ("暂停", "暂时关闭")),
    Term("closed", "已关闭", "Closed", ("关闭", "撤销")),
))

HONOUR_LEVELS = Vocabulary("honour level", (
    Term("national", "全国", "National", ("国家级",)),
    Term("provincial", "省级", "Provincial", ("省",)),
    Term("city", "市级", "City", ("市",)),
))

#: Properties of a station record and their types, in the order files are written.
FIELDS: dict[str, str] = {
    "id": "string",
    "name": "string",
    "name_en": "string",
    "kind": "enum",
    "address": "string",
    "district_code": "string",
    "district": "string",
    "stars": "int",
    "stars_assessed_on": "date",
    "amenities": "list",
    "toilet": "enum",
    "opening_hours": "string",
    "served_groups": "list",
    "host_type": "enum",
    "host_org": "string",
    "area_m2": "number",
    "capacity": "int",
    "honours": "list",
    "manager": "string",
    "phone": "string",
    "visits": "int",
    "status": "enum",
    "last_verified": "date",
    "demo": "bool",
    "amenities_other": "list",
    "opening_hours_raw": "string",
    "extra": "dict",
}
#: Fields whose values are lists or mappings (stored as JSON text in GeoPackage and CSV).
NESTED_FIELDS = ("amenities", "served_groups", "honours", "amenities_other", "extra")
