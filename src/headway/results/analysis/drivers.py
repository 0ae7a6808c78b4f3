"""Which groups moved a KPI between two periods, and for a ratio, why.

**Contributions** (any KPI with group values). Each group's change is its value after minus
before. For an additive KPI the groups of a dimension add up to the total, so a group's
change is its contribution to the total's change and ``share`` is its part of the sum of
the groups' changes (a missing value counts as 0). For other KPIs the groups' own changes
are listed, without shares, since they do not add up.

**Rate and mix** (a ratio ``a / b`` of additive measures, such as conversion = won / leads).
With group g's numerator n_g and denominator d_g, its rate r_g = n_g / d_g and its weight
w_g = d_g / Σd, the total ratio is R = Σn / Σd = Σ w_g r_g. Between periods 0 and 1, with
x̄ = (x₀ + x₁) / 2 and Δx = x₁ − x₀, exactly::

    ΔR = Σ w̄_g Δr_g  +  Σ (r̄_g − R̄) Δw_g
         rate effect     mix effect

because w₁r₁ − w₀r₀ = w̄ Δr + r̄ Δw for each group, and Σ Δw_g = 0 lets any constant be
taken from r̄_g; subtracting R̄ = (R₀ + R₁) / 2 makes each group's mix term readable: a
group whose share of the denominator grows lowers the total when its rate is below
average. So "conversion fell because north's leads grew while its rate stayed" shows as
north's mix effect being negative and its rate effect near zero. A group with no
denominator in one period has no rate there; its rate of the other period stands in (its
change is then all mix), which keeps the identity exact.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

Pair = tuple[float, float]
"""A group's (numerator, denominator) in one period."""


@dataclass(frozen=True)
class Driver:
    """A group's move between two periods; ``share`` of the groups' total change (additive
    KPIs only, None otherwise or when the groups' changes cancel out)."""

    dimension: str
    group: str
    before: float | None
    after: float | None
    change: float | None
    share: float | None


@dataclass(frozen=True)
class GroupRateMix:
    group: str
    rate_before: float | None
    rate_after: float | None
    weight_before: float
    weight_after: float
    rate_effect: float
    mix_effect: float


@dataclass(frozen=True)
class RateMix:
    """The change of a ratio split into a rate effect and a mix effect across ``dimension``;
    ``rate_effect + mix_effect == change`` up to floating-point rounding."""

    dimension: str
    numerator: str
    denominator: str
    before: float
    after: float
    change: float
    rate_effect: float
    mix_effect: float
    groups: tuple[GroupRateMix, ...]


def contributions(
    dimension: str,
    before: Mapping[str, float | None],
    after: Mapping[str, float | None],
    *,
    additive: bool,
) -> list[Driver]:
    """Each group's change, biggest move first (ties by group name)."""
    groups = sorted(set(before) | set(after))
    moves: list[Driver] = []
    for group in groups:
        old, new = before.get(group), after.get(group)
        if additive:
            delta: float | None = (new or 0.0) - (old or 0.0)
        else:
            delta = new - old if new is not None and old is not None else None
        moves.append(Driver(dimension, group, old, new, delta, None))
    if additive:
        total = sum(move.change or 0.0 for move in moves)
        if total != 0:
            moves = [
                Driver(m.dimension, m.group, m.before, m.after, m.change, (m.change or 0.0) / total)
                for m in moves
            ]
    return sorted(
        moves, key=lambda move: (-abs(move.change) if move.change is not None else 1, move.group)
    )


def rate_mix(
    dimension: str,
    numerator: str,
    denominator: str,
    before: Mapping[str, Pair],
    after: Mapping[str, Pair],
) -> RateMix | None:
    """The rate and mix effects of each group; None when either period has no denominator
    or a group has a numerator without a denominator (an undefined rate)."""
    groups = sorted(set(before) | set(after))
    old = {group: before.get(group, (0.0, 0.0)) for group in groups}
    new = {group: after.get(group, (0.0, 0.0)) for group in groups}
    if any((n != 0 and d == 0) for n, d in [*old.values(), *new.values()]):
        return None
    total_old = sum(d for _, d in old.values())
    total_new = sum(d for _, d in new.values())
    if total_old <= 0 or total_new <= 0:
        return None
    ratio_old = sum(n for n, _ in old.values()) / total_old
    ratio_new = sum(n for n, _ in new.values()) / total_new
    mean_ratio = (ratio_old + ratio_new) / 2
    rows: list[GroupRateMix] = []
    for group in groups:
        (n0, d0), (n1, d1) = old[group], new[group]
        if d0 == 0 and d1 == 0:
            continue
        r0 = n0 / d0 if d0 else None
        r1 = n1 / d1 if d1 else None
        rate0 = r0 if r0 is not None else r1
        rate1 = r1 if r1 is not None else r0
        assert rate0 is not None
        assert rate1 is not None
        w0, w1 = d0 / total_old, d1 / total_new
        rate_effect = (w0 + w1) / 2 * (rate1 - rate0)
        mix_effect = ((rate0 + rate1) / 2 - mean_ratio) * (w1 - w0)
        rows.append(GroupRateMix(group, r0, r1, w0, w1, rate_effect, mix_effect))
    return RateMix(
        dimension=dimension,
        numerator=numerator,
        denominator=denominator,
        before=ratio_old,
        after=ratio_new,
        change=ratio_new - ratio_old,
        rate_effect=sum(row.rate_effect for row in rows),
        mix_effect=sum(row.mix_effect for row in rows),
        groups=tuple(rows),
    )
