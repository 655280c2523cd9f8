"""Vocabularies: keys, zh/en labels, synonyms, did-you-mean."""

from __future__ import annotations

import pytest

from stationmap.schema import AMENITIES, FIELDS, HOST_TYPES, KINDS, SERVED_GROUPS, STATUSES, TOILET

DESIGN_AMENITIES = ["drinking_water", "meal_heating", "fridge", "seating", "air_conditioning", "heating",
                    "phone_charging", "ebike_charging", "battery_swap", "first_aid", "aed", "blood_pressure", "wifi",
                    "reading", "rain_gear", "toolkit", "lockers", "mother_baby_room", "counselling", "legal_aid",
                    "shower", "laundry", "parking", "wheelchair_access"]


def test_design_vocabulary_is_complete_with_labels():
    assert set(DESIGN_AMENITIES) <= set(AMENITIES.keys)
    for vocab in (AMENITIES, KINDS, SERVED_GROUPS, HOST_TYPES, TOILET, STATUSES):
        for term in vocab.terms:
            assert term.zh and term.en, term


@pytest.mark.parametrize("label, key", [("饮水", "drinking_water"), ("直饮水", "drinking_water"),
                                        ("饮水机", "drinking_water"), ("微波炉", "meal_heating"),
                                        ("热饭", "meal_heating"), ("充电", "phone_charging"),
                                        ("换电柜", "battery_swap"), ("Wi-Fi", "wifi"), ("AED", "aed"),
                                        ("Drinking water", "drinking_water"), ("meal_heating", "meal_heating")])
def test_amenity_labels_and_synonyms(label, key):
    assert AMENITIES.resolve(label) == key


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
