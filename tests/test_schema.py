"""Vocabularies: keys, zh/en labels, synonyms, did-you-mean."""

from __future__ import annotations

import pytest

from stationmap.schema import AMENITIES, FIELDS, HOST_TYPES, KINDS, SERVED_GROUPS, STATUSES, TOILET, TOILET_WORDS

DESIGN_AMENITIES = ["drinking_water", "meal_heating", "fridge", "seating", "air_conditioning", "heating",
                    "phone_charging", "ebike_charging", "battery_swap", "first_aid", "aed", "blood_pressure", "wifi",
                    "reading", "rain_gear", "toolkit", "lockers", "mother_baby_room", "counselling", "legal_aid",
                    "shower", "laundry", "parking", "wheelchair_access"]


def test_design_vocabulary_is_complete_with_labels():
    assert set(DESIGN_AMENITIES) <= set(AMENITIES.keys)
    for vocab in (AMENITIES, KINDS, SERVED_GROUPS, HOST_TYPES, TOILET, STATUSES, TOILET_WORDS):
        for term in vocab.terms:
            assert term.zh and term.en, term


@pytest.mark.parametrize("label, key", [("饮水", "drinking_water"), ("直饮水", "drinking_water"),
                                        ("饮水机", "drinking_water"), ("微波炉", "meal_heating"),
                                        ("热饭", "meal_heating"), ("充电", "phone_charging"),
                                        ("换电柜", "battery_swap"), ("Wi-Fi", "wifi"), ("AED", "aed"),
                                        ("Drinking water", "drinking_water"), ("meal_heating", "meal_heating")])
def test_amenity_labels_and_synonyms(label, key):
    assert AMENITIES.resolve(label) == key


# how district unions' registers write each facility
REGISTER_WORDS = {
    "first_aid": ["医药箱", "急救箱", "药箱", "应急药箱", "常用药品", "医疗箱", "急救包"],
    "drinking_water": ["饮水", "直饮水", "饮水机", "热水", "开水", "茶水", "免费饮水", "净水器"],
    "phone_charging": ["充电", "手机充电", "充电宝", "充电插座"],
    "ebike_charging": ["充电桩", "电动车充电", "电瓶车充电", "电动自行车充电"],
    "meal_heating": ["微波炉", "热饭", "加热", "热饭菜"],
    "seating": ["桌椅", "座椅", "休息区", "休息椅", "沙发"],
    "rain_gear": ["雨伞", "雨衣", "雨具"],
    "air_conditioning": ["空调", "冷气"],
    "heating": ["暖气", "取暖器"],
    "wifi": ["wifi", "WiFi", "Wi-Fi", "无线网", "免费WiFi", "免费 WiFi"],
    "reading": ["书报", "图书", "书籍", "职工书屋", "报刊"],
    "toolkit": ["维修工具", "打气筒", "充气"],
    "aed": ["除颤仪", "AED", "aed"],
    "blood_pressure": ["血压计", "血压仪"],
}


@pytest.mark.parametrize(("key", "word"), [(k, w) for k, words in REGISTER_WORDS.items() for w in words])
def test_register_words(key, word):
    assert AMENITIES.resolve(word) == key


@pytest.mark.parametrize(("word", "key"), [("卫生间", "onsite"), ("厕所", "onsite"), ("洗手间", "onsite"),
                                          ("公厕", "nearby"), ("公共厕所", "nearby"), ("附近公厕", "nearby")])
def test_toilet_words_state_the_toilet_field(word, key):
    assert AMENITIES.resolve(word) is None  # a toilet is a field of its own, not an amenity
    assert TOILET_WORDS.resolve(word) == key
    assert TOILET.resolve(word) == key  # the same word in a 厕所 column


def test_toilet_words_leave_yes_and_no_to_the_toilet_column():
    assert TOILET.resolve("有") == "onsite" and TOILET.resolve("无") == "none"
    assert TOILET_WORDS.resolve("有") is None and TOILET_WORDS.resolve("无") is None


def test_no_word_means_two_things_once_normalised():
    """Lookup ignores case, spaces and brackets: every word still finds its own key, never another one's."""
    for vocab, other in ((AMENITIES, TOILET_WORDS), (TOILET_WORDS, AMENITIES)):
        for term in vocab.terms:
            for label in (term.zh, term.en, *term.synonyms):
                assert vocab.resolve(label) == term.key, label
                assert other.resolve(label) is None, label


def test_no_synonym_maps_to_two_keys():
    for vocab in (AMENITIES, SERVED_GROUPS, HOST_TYPES):
        seen: dict[str, str] = {}
        for term in vocab.terms:
            for label in (term.key, term.zh, term.en, *term.synonyms):
                assert seen.setdefault(label, term.key) == term.key, label


def test_did_you_mean():
    assert AMENITIES.suggest("drinking_watr") == "drinking_water"
    assert "did you mean 'battery_swap'" in AMENITIES.unknown_message("battery_swp")
    assert AMENITIES.suggest("zzzz") is None


def test_fields_cover_the_design_record():
    for name in ("id", "name", "kind", "address", "district_code", "district", "stars", "amenities", "toilet",
                 "opening_hours", "served_groups", "host_type", "host_org", "area_m2", "capacity", "honours",
                 "manager", "phone", "visits", "status", "last_verified", "stars_assessed_on"):
        assert name in FIELDS
