"""Which groups moved a KPI: contributions add up, and rate plus mix is the whole change."""

from __future__ import annotations

import pytest

from headway.results.analysis.drivers import contributions, rate_mix


def test_the_groups_of_an_additive_kpi_contribute_their_share_of_the_change() -> None:
    before = {"north": 100.0, "south": 80.0, "east": 50.0}
    after = {"north": 130.0, "south": 70.0, "west": 10.0}
    drivers = contributions("team", before, after, additive=True)
    # Total change: +30 - 10 - 50 + 10 = -20; a group missing in a period counts as 0.
    assert [(d.group, d.change) for d in drivers] == [
        ("east", -50),
        ("north", 30),
        ("south", -10),
        ("west", 10),
    ]
    assert [d.share for d in drivers] == [2.5, -1.5, 0.5, -0.5]
    assert sum(d.change or 0 for d in drivers) == sum(after.values()) - sum(before.values())


def test_groups_of_a_non_additive_kpi_show_their_own_change_without_shares() -> None:
    drivers = contributions("team", {"a": 4.2, "b": 4.0}, {"a": 4.3, "b": 3.5}, additive=False)
    assert [d.group for d in drivers] == ["b", "a"]
    assert drivers[0].change == pytest.approx(-0.5)
    assert all(d.share is None for d in drivers)


def test_north_s_leads_growing_at_a_constant_rate_is_all_mix_effect() -> None:
    # North converts 5% of its leads, south 10%; north's leads double, both rates stay.
    before = {"north": (5.0, 100.0), "south": (10.0, 100.0)}
    after = {"north": (10.0, 200.0), "south": (10.0, 100.0)}
    split = rate_mix("team", "won", "leads", before, after)
    assert split is not None
    assert split.before == pytest.approx(15 / 200)
    assert split.after == pytest.approx(20 / 300)
    assert split.change == pytest.approx(20 / 300 - 15 / 200)
    assert split.rate_effect == 0
    assert split.mix_effect == pytest.approx(split.change, abs=1e-15)
    north = next(row for row in split.groups if row.group == "north")
    # North's share of leads grew from 1/2 to 2/3 with a rate below the average, so its
    # share of the change is negative: (0.05 - (0.075 + 0.0667) / 2) * (2/3 - 1/2).
    assert north.rate_effect == 0
    assert north.mix_effect == pytest.approx((0.05 - (15 / 200 + 20 / 300) / 2) * (1 / 6))
    assert north.mix_effect < 0


def test_rate_and_mix_effects_add_up_to_the_total_change_exactly() -> None:
    before = {"north": (7.0, 130.0), "south": (3.0, 90.0), "central": (11.0, 95.0)}
    after = {"north": (9.0, 210.0), "south": (6.0, 80.0), "island": (2.0, 15.0)}
    split = rate_mix("team", "won", "leads", before, after)
    assert split is not None
    total_change = 17 / 305 - 21 / 315
    assert split.change == pytest.approx(total_change, abs=1e-15)
    assert split.rate_effect + split.mix_effect == pytest.approx(total_change, abs=1e-15)
    assert sum(row.rate_effect + row.mix_effect for row in split.groups) == pytest.approx(
        total_change, abs=1e-15
    )
    # Groups present in one period only have no rate in the other: their change is all mix.
    island = next(row for row in split.groups if row.group == "island")
    assert (island.rate_before, island.rate_effect) == (None, 0)


def test_rate_mix_is_undefined_without_a_denominator() -> None:
    assert rate_mix("team", "won", "leads", {"a": (0.0, 0.0)}, {"a": (1.0, 2.0)}) is None
    assert rate_mix("team", "won", "leads", {"a": (1.0, 2.0)}, {"a": (1.0, 0.0)}) is None
