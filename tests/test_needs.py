"""The worker groups' needs, the travel modes, the ranking formula and the search words, on hand-made numbers."""

from __future__ import annotations

import pytest

from stationmap import parameters
from stationmap.errors import BadRequestError
from stationmap.needs import (
    CLOSED_PENALTY_MIN,
    MODES,
    NEEDS,
    PLUS_BONUS_MIN,
    get_mode,
    get_need,
    match_terms,
    missing_groups,
    score,
    travel_min,
)
from stationmap.schema import AMENITIES, KINDS


def test_the_parameters_offer_exactly_the_needs_and_modes():
    assert parameters.NEED.choices == tuple(NEEDS)
    assert parameters.MODE.choices == tuple(MODES)


def test_every_key_is_in_the_vocabularies():
    for need in NEEDS.values():
        assert need.zh and need.en and need.default_mode in MODES
        for group in need.required:
            assert all(a in AMENITIES for a in group.amenities) and all(k in KINDS for k in group.kinds)
        assert all(a in AMENITIES for a in need.plus)


def test_the_groups_need_what_the_issue_says():
    rider = NEEDS["delivery_rider"]
    assert [g.amenities for g in rider.required] == [("battery_swap", "ebike_charging")]  # one group: either
    assert {"phone_charging", "drinking_water"} <= set(rider.plus) and rider.default_mode == "ebike"
    sanitation = NEEDS["sanitation"]
    assert [(g.amenities, g.toilet) for g in sanitation.required] == [(("drinking_water",), ()),
                                                                      ((), ("onsite", "nearby"))]
    assert sanitation.open_at == "05:00" and sanitation.default_mode == "walk"
    assert {"meal_heating", "seating"} <= set(sanitation.plus)
    driver = NEEDS["truck_driver"]
    assert [g.amenities for g in driver.required] == [("parking",)] and driver.default_mode == "drive"
    assert {"shower", "laundry"} <= set(driver.plus)
    assert NEEDS["any"].required == () and NEEDS["any"].plus == ()


def test_modes_speeds_and_caps():
    assert [(m.speed_m_per_min, m.cap_m) for m in MODES.values()] == [(75.0, 3000.0), (250.0, 10000.0),
                                                                        (500.0, 50000.0)]
    assert [(m.amap, m.baidu, m.apple) for m in MODES.values()] == [("walk", "walking", "w"),
                                                                    ("ride", "riding", "d"), ("car", "driving", "d")]


def test_unknown_need_or_mode_is_a_bad_request():
    with pytest.raises(BadRequestError, match="unknown need 'pilot'"):
        get_need("pilot")
    with pytest.raises(BadRequestError, match="unknown mode 'boat'"):
        get_mode("boat")


def test_travel_minutes_round_up():
    assert travel_min(3000, MODES["walk"]) == 40
    assert travel_min(3001, MODES["walk"]) == 41
    assert travel_min(10_000, MODES["ebike"]) == 40
    assert travel_min(1, MODES["drive"]) == 1
    assert travel_min(0, MODES["drive"]) == 1


def test_score_on_hand_made_numbers():
    assert (CLOSED_PENALTY_MIN, PLUS_BONUS_MIN) == (15.0, 2.0)
    # 1.5 km on foot is 20 min; closed adds 15; two plus amenities take off 4
    assert score(1500, mode=MODES["walk"], is_open=False, n_plus=2) == pytest.approx(31.0)
    assert score(1500, mode=MODES["walk"], is_open=None, n_plus=2) == pytest.approx(31.0)  # unknown hours
    assert score(1500, mode=MODES["walk"], is_open=True, n_plus=0) == pytest.approx(20.0)
    # by e-bike, an open station 3.7 km away beats a closed one 2 km away
    near_closed = score(2000, mode=MODES["ebike"], is_open=False, n_plus=0)
    far_open = score(3700, mode=MODES["ebike"], is_open=True, n_plus=0)
    assert (near_closed, far_open) == pytest.approx((23.0, 14.8))


def test_missing_groups():
    rider, sanitation = NEEDS["delivery_rider"], NEEDS["sanitation"]
    assert missing_groups(rider, {"ebike_charging"}, None, None) == ()
    assert missing_groups(rider, {"battery_swap"}, None, None) == ()
    assert missing_groups(rider, {"phone_charging"}, "onsite", None) == ("charging",)
    assert missing_groups(sanitation, {"drinking_water"}, "nearby", None, open_required=True, is_open=True) == ()
    assert missing_groups(sanitation, {"drinking_water"}, "none", None, open_required=True,
                          is_open=None) == ("toilet", "open")
    assert missing_groups(sanitation, set(), None, None) == ("water", "toilet")


@pytest.mark.parametrize(("query", "amenities", "toilet", "kinds"), [
    ("充电", ("phone_charging", "ebike_charging"), (), ()),
    ("热饭", ("meal_heating",), (), ()),
    ("厕所", (), ("onsite", "nearby"), ()),
    ("司机之家", (), (), ("driver_home",)),
    ("charging", ("phone_charging", "ebike_charging"), (), ()),
    ("Toilet", (), ("onsite", "nearby"), ()),
    ("换电", ("battery_swap",), (), ()),
    ("电", (), (), ()),
    ("滇池", (), (), ()),
])
def test_search_words_name_amenities_toilets_and_kinds(query, amenities, toilet, kinds):
    found = match_terms(query)
    assert (found.amenities, found.toilet, found.kinds) == (amenities, toilet, kinds)
    assert bool(found) == bool(amenities or toilet or kinds)
