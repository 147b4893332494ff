"""shared.names: a unit named in a Chinese sentence by the Chinese part of its directory name."""

from __future__ import annotations

from shared import names


def test_a_bilingual_name_gives_its_chinese_part():
    assert names.zh("市交通运输局 Municipal Transport Bureau", "transport") == "市交通运输局"


def test_a_name_without_chinese_is_kept_whole_and_no_name_gives_the_code():
    assert names.zh("Port Authority", "port") == "Port Authority"
    assert names.zh(None, "port") == "port"
    assert names.zh("   ", "port") == "port"


def test_units_are_joined_in_order_and_an_unknown_one_keeps_its_code():
    directory = {
        "transport": "市交通运输局 Municipal Transport Bureau",
        "education": "市教育局 Municipal Education Bureau",
    }
    assert names.units_zh(["education", "nowhere", "transport"], directory) == "市教育局、nowhere、市交通运输局"
    assert names.units_zh([], directory) == ""
    assert names.units_zh(["transport"], None) == "transport"
