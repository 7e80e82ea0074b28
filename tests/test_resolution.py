import pytest

from ultrabench.errors import UsageError
from ultrabench.resolution import PAPER_RESOLUTIONS, Resolution, parse_resolution, parse_resolutions


def test_height_comes_first():
    r = parse_resolution("2160x3840")
    assert (r.height, r.width) == (2160, 3840)
    assert r.describe() == "2160x3840: 2160 high, 3840 wide, landscape"
    assert parse_resolution("4096x2048").describe() == "4096x2048: 4096 high, 2048 wide, portrait"
    assert parse_resolution(" 2048 X 2048 ").orientation == "square"


def test_paper_preset_is_table1_in_order():
    assert [r.key for r in parse_resolutions("paper")] == ["1024x1792", "2048x2048", "2160x3840", "4096x2048", "4096x4096"]
    assert parse_resolutions(["paper"]) == PAPER_RESOLUTIONS


def test_repeatable_and_comma_lists_keep_order_and_drop_repeats():
    got = parse_resolutions(["2048x2048,1024x1792", "2048x2048", "4096x4096"])
    assert got == (Resolution(2048, 2048), Resolution(1024, 1792), Resolution(4096, 4096))


@pytest.mark.parametrize(
    "bad, words",
    [("2160x", "not HxW"), ("0x512", "at least"), ("abc", "not HxW"), ("-5x10", "positive"),
     ("512x-5", "positive"), ("99999x99999", "absurdly large"), ("16384x16384", "absurdly large"), ("1.5x2", "not HxW")],
)
def test_malformed_values_are_rejected_with_a_reason(bad, words):
    with pytest.raises(UsageError) as e:
        parse_resolution(bad)
    assert words in str(e.value) and bad in str(e.value)


def test_empty_item_in_list():
    with pytest.raises(UsageError, match="empty resolution"):
        parse_resolutions(["2048x2048,"])
