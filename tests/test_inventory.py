"""Headline counts, checked against the fixture and the sources' figures."""

from __future__ import annotations

from stationmap.analysis.inventory import station_inventory
from stationmap.stations import load_stations


def test_fixture_counts(fixture_path):
    frame = load_stations(fixture_path)
    inv = station_inventory(frame)
    assert inv.n_stations == 5 and sum(inv.by_stars.values()) == 5
    assert inv.n_open == (frame["status"] == "open").sum()
    assert inv.n_always_open == (frame["opening_hours"] == "24/7").sum()
    assert inv.amenities["drinking_water"] == sum("drinking_water" in a for a in frame["amenities"])
    assert sum(inv.toilet.values()) == 5


def test_bundled_districts_match_the_sources(settings):
    baqiao = station_inventory(load_stations(settings.data_dir / "stations" / "610111.geojson"))
    national = {h["station"] for h in baqiao.honours if h["level"] == "national"}
    assert {"纺织城街道纺织公园爱心驿站", "灞桥区市民中心爱心驿站", "灞桥区职工服务中心爱心驿站"} <= national
    assert baqiao.honours[0]["level"] == "national"
    guandu = station_inventory(load_stations(settings.data_dir / "stations" / "530111.geojson"))
    assert guandu.by_kind["driver_home"] == 3 and guandu.honours_by_level["national"] == 3
    cuiping = station_inventory(load_stations(settings.data_dir / "stations" / "511502.geojson"))
    assert cuiping.visits == 160_212 and cuiping.n_stations == 59


def test_json_safe_and_empty(fixture_path):
    inv = station_inventory(load_stations(fixture_path))
    assert set(inv.to_dict()["by_stars"]) == {"0", "1", "2", "3", "4", "5"}
    empty = station_inventory(load_stations(fixture_path).iloc[:0])  # a district with no station yet
    assert (empty.n_stations, empty.n_open, sum(empty.by_stars.values()), empty.visits) == (0, 0, 0, None)
    assert set(empty.amenities.values()) == {0} and empty.honours == ()
