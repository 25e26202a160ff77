import pytest

from stoker.train.ps.consistency import Consistency, may_read


def test_parse_accepts_the_documented_spellings() -> None:
    assert Consistency.parse("bsp") == Consistency("bsp", 0)
    assert Consistency.parse("ASP") == Consistency("asp", 0)
    assert Consistency.parse("ssp:3") == Consistency("ssp", 3)
    assert Consistency.parse("ssp(staleness=2)") == Consistency("ssp", 2)
    with pytest.raises(ValueError, match="ssp:S"):
        Consistency.parse("ssp")


def test_bsp_waits_for_every_worker() -> None:
    bsp = Consistency("bsp")
    assert may_read(bsp, 3, [3, 3, 3])
    assert not may_read(bsp, 3, [3, 2, 3])


def test_ssp_allows_exactly_s_clocks_ahead() -> None:
    ssp = Consistency("ssp", 2)
    assert may_read(ssp, 5, [5, 3])
    assert not may_read(ssp, 6, [6, 3])


def test_asp_never_waits() -> None:
    assert may_read(Consistency("asp"), 100, [0, 0])


def test_negative_staleness_is_refused() -> None:
    with pytest.raises(ValueError, match="staleness"):
        Consistency("ssp", -1)
