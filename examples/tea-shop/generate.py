"""Generate the CRM-like data of the tea-shop example (範例茶飲股份有限公司).

The story the data tells
------------------------
範例茶飲 sells tea drinks to offices, cafés and retail partners across Taiwan through three
regional sales teams (north 北區, central 中區, south 南區). In December 2024 it started
keeping its sales in a CRM; the files here are that CRM's export on 2026-11-26, so they run
from 2024-12-01 to 2026-11-25 and November 2026 is a partial month.

- Tea drinks sell in summer: leads, deals and marketing spend peak from May to August and
  dip around the Lunar New Year (February).
- Management set the short-term goal "raise the new product's market share by 10%"
  (see `headway.yaml`). The new product, 烏龍拿鐵 (`new_oolong_latte`), opened pre-orders on
  2025-12-15 and shipped on 2026-01-05 after a launch campaign (ads and events from December
  to March). It brings new leads and, above all, new customers; its share of the
  oolong-latte market (`market_size.csv`) climbs from about 8% to about 14% during 2026,
  highest in the north and lowest in the south.
- Conversion (won deals / leads) is about 5% in 2025 and about 5.8% in the first half of
  2026: the 8% target set in January is out of reach. The Q2 review lowered it to 6%, and
  the second half of 2026 mostly meets it; July falls short as the summer's flood of leads
  arrives before their deals close. North converts best, south worst.
- Customer satisfaction is around 4.2-4.3 out of 5 until a shortage of oolong-latte supplies
  in July and August 2026 brings it down, most in the south; it recovers from September.
- The launch campaign makes the customer acquisition cost high in the first quarter of
  2026; it falls as the campaign ends and the summer brings new customers in.

How the data is made
--------------------
Everything comes from one `random.Random(SEED)` and is written in a fixed order, so running
this twice gives byte-identical files. Leads are drawn per month, team and product from a
plan (seasonality x growth x the launch). Each month, team and product then gets its planned
number of won deals (planned conversion x that month's leads, with a little noise); each won
deal closes on a day of that month and takes an earlier lead of the same team and product,
usually one to three weeks old, referrals more often than ads. Lost deals and still-open
deals come from the remaining leads. Survey scores and first purchases are drawn by quota
within each month and team, so the monthly KPIs tell the story without being drowned in
small-sample noise, while every row is still random.

Deal timestamps carry an offset: about half are in UTC (`Z`, as the CRM's API exports them)
and half in Taipei time (`+08:00`). Some orders are confirmed online after midnight, so a
deal closed at `2026-01-31T17:30:00Z` belongs to February 2026 in Taipei. Customers come
back: a repeat deal goes to a customer who already bought, and `is_first_purchase` marks the
others. Marketing spend and the market size are monthly; the November 2026 figures are
month-to-date, like the CRM's.

Run it from the repository root::

    uv run python examples/tea-shop/generate.py
"""

from __future__ import annotations

import calendar
import csv
import math
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

SEED = 20261126
DATA_DIR = Path(__file__).resolve().parent / "data"

FIRST_DAY = date(2024, 12, 1)
LAST_DAY = date(2026, 11, 25)  # "today" is 2026-11-26: the last day with data is the 25th
END = datetime.combine(LAST_DAY, time(23, 59, 59))
PRE_ORDERS = date(2025, 12, 15)  # the new product's pre-orders open
LAUNCH = date(2026, 1, 5)  # the new product ships; none of its deals closes earlier
UTC_OFFSET = timedelta(hours=8)  # Asia/Taipei has no daylight saving time

TEAMS = ("north", "central", "south")
TEAM_SHARE = {"north": 0.42, "central": 0.30, "south": 0.28}  # of leads and spend
TEAM_CONVERSION = {"north": 1.08, "central": 1.00, "south": 0.90}
CLASSIC = "classic"
NEW = "new_oolong_latte"
PRODUCTS = (CLASSIC, NEW)
CHANNELS = ("ads", "events", "store_promo")

# Salespeople per team, the manager first; the same people are in headway.yaml.
OWNERS = {
    "north": ("ken@tea-shop.example", "leo@tea-shop.example", "ivy@tea-shop.example"),
    "central": ("tina@tea-shop.example", "max@tea-shop.example", "amy@tea-shop.example"),
    "south": ("jay@tea-shop.example", "zoe@tea-shop.example", "ben@tea-shop.example"),
}
OWNER_WEIGHTS = (0.2, 0.4, 0.4)

SOURCES = ("web", "ads", "referral", "store", "event")
SOURCE_WEIGHTS = {CLASSIC: (0.30, 0.20, 0.20, 0.20, 0.10), NEW: (0.20, 0.35, 0.10, 0.20, 0.15)}
SOURCE_WIN = {"web": 0.9, "ads": 0.8, "referral": 1.5, "store": 1.1, "event": 1.0}
# Web and ads leads arrive around the clock; the others in shop hours (10:00-20:59).
ONLINE_HOURS: tuple[float, ...] = (1, 0.5, 0.3, 0.2, 0.2, 0.3, 0.6, 1.2, 2.5, 4, 5, 5)
ONLINE_HOURS += (4.5, 5, 5, 4.5, 4, 3.5, 3, 2.8, 2.4, 2, 1.5, 1.2)

# Demand by calendar month: a summer peak, a dip around the Lunar New Year.
SEASON = (0.86, 0.78, 0.90, 1.00, 1.12, 1.28, 1.40, 1.36, 1.15, 1.00, 0.90, 0.86)

CLASSIC_LEADS = 1100.0  # classic leads in an average month of early 2025, all teams
MARKET = {CLASSIC: 45_000_000.0, NEW: 8_000_000.0}  # category size, TWD in an average month
REGION_SHARE = {"north": 0.45, "central": 0.28, "south": 0.27}
# Our share of the oolong-latte market in each region, relative to the plan.
REGION_NEW_SHARE = {"north": 1.10, "central": 1.00, "south": 0.86}

# Deal sizes: cups per order (log-normal) x price per cup x discount.
CUPS_MEDIAN = {CLASSIC: 600.0, NEW: 520.0}
CUPS_SIGMA = 0.3
PRICES = {CLASSIC: (38.0, 45.0), NEW: (62.0, 68.0)}
DISCOUNTS = (1.0, 0.95, 0.9)
DISCOUNT_WEIGHTS = (0.6, 0.25, 0.15)

# The share of won deals that are a customer's first purchase.
FIRST_PURCHASE = {CLASSIC: 0.5, NEW: 0.75}
PRE_EXISTING_CUSTOMERS = {"north": 260, "central": 180, "south": 160}
SURVEY_RESPONSE = 0.7

Row = dict[str, str]


@dataclass
class Lead:
    created_at: datetime
    team: str
    source: str
    product: str
    owner: str
    lead_id: str = ""
    taken: bool = False  # already has a deal


@dataclass
class Deal:
    lead: Lead
    created_at: datetime  # local (Asia/Taipei) time, like closed_at
    closed_at: datetime | None
    stage: str  # won, lost or open
    amount: float
    utc: bool  # written with `Z` rather than `+08:00`
    is_first_purchase: bool = False
    customer_id: str = ""


# -- the calendar and the plan ------------------------------------------------------------


def add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def months() -> list[date]:
    """First days of the months with data, 2024-12 to 2026-11."""
    return [add_months(FIRST_DAY, i) for i in range(24)]


def month_index(month: date) -> int:
    """Months since 2024-12 (0 for 2024-12, 13 for 2026-01)."""
    return (month.year - FIRST_DAY.year) * 12 + month.month - FIRST_DAY.month


def month_days(month: date, start: date | None = None) -> list[date]:
    """The days of `month` that hold data, from `start` when it is later."""
    first = max(month, start) if start else month
    last = min(
        date(month.year, month.month, calendar.monthrange(month.year, month.month)[1]), LAST_DAY
    )
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def coverage(month: date) -> float:
    """The fraction of the month that holds data (25/30 for November 2026)."""
    return len(month_days(month)) / calendar.monthrange(month.year, month.month)[1]


def win_rate(month: date, team: str) -> float:
    """Planned conversion: won deals closed in a month / leads created in it."""
    if month < date(2026, 1, 1):
        rate = 0.049 + 0.004 * month_index(month) / 12  # 4.9% rising to 5.3% over 2025
    elif month < date(2026, 7, 1):
        rate = (0.056, 0.058, 0.059, 0.057, 0.058, 0.057)[month.month - 1]
    else:  # after the Q2 review; July's leads arrive faster than their deals close
        rate = (0.0575, 0.0625, 0.064, 0.066, 0.0645)[month.month - 7]
    return rate * TEAM_CONVERSION[team]


def planned_share(month: date) -> float:
    """The new product's planned share of the oolong-latte market in a month of 2026."""
    return 0.08 + 0.0062 * (month_index(month) - 13)


def mean_amount(product: str) -> float:
    """The expected amount of a deal, TWD."""
    cups = CUPS_MEDIAN[product] * math.exp(CUPS_SIGMA**2 / 2)
    discount = sum(d * w for d, w in zip(DISCOUNTS, DISCOUNT_WEIGHTS, strict=True))
    return cups * sum(PRICES[product]) / 2 * discount


def csat_mean(month: date, team: str, product: str) -> float:
    """The planned mean satisfaction score (1-5) of the surveys answered in a month."""
    mean = 4.18 if month < date(2026, 1, 1) else 4.28
    if date(2026, 7, 1) <= month < date(2026, 9, 1):  # the oolong-latte supply shortage
        mean = (3.72 if product == NEW else 4.12) - (0.15 if team == "south" else 0.0)
    elif month == date(2026, 9, 1):
        mean = 4.16
    return mean + {"north": 0.03, "central": 0.0, "south": -0.05}[team]


def csat_weights(mean: float) -> list[float]:
    """Chances of the scores 1 to 5 for a given mean (about 3.4 to 4.4)."""
    unhappy = (5.0, 8.0, 18.0, 40.0, 29.0)  # mean 3.80
    happy = (1.0, 2.0, 7.0, 35.0, 55.0)  # mean 4.41
    if mean < 3.80:  # move weight from 4 and 5 to 2 and 3
        shift = (3.80 - mean) / 0.8
        return [5.0, 8 + 20 * shift, 18 + 30 * shift, 40 - 25 * shift, 29 - 25 * shift]
    h = min(1.0, (mean - 3.80) / 0.61)
    return [u + (p - u) * h for u, p in zip(unhappy, happy, strict=True)]


def timestamp(moment: datetime, utc: bool) -> str:
    """ISO 8601 with an offset: UTC with `Z`, or Taipei time with `+08:00`."""
    if utc:
        return f"{moment - UTC_OFFSET:%Y-%m-%dT%H:%M:%S}Z"
    return f"{moment:%Y-%m-%dT%H:%M:%S}+08:00"


# -- the generator ------------------------------------------------------------------------


class Generator:
    """Draws every row from one seeded random source, in a fixed order."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.market: list[Row] = []
        self.new_market: dict[tuple[date, str], float] = {}
        self.leads: list[Lead] = []
        self.cells: dict[tuple[date, str, str], list[Lead]] = {}  # month, team, product
        self.deals: list[Deal] = []
        self.surveys: list[Row] = []
        self.spend: list[Row] = []

    def run(self) -> None:
        self.make_market()
        self.make_leads()
        self.make_won_deals()
        self.make_other_deals()
        self.deals.sort(key=lambda deal: (deal.created_at, deal.lead.lead_id))
        self.pin_month_boundary_example()
        self.make_first_purchases()
        self.assign_customers()
        self.make_surveys()
        self.make_spend()

    # helpers

    def noise(self, spread: float) -> float:
        return 1.0 + self.rng.uniform(-spread, spread)

    def pick_day(self, days: list[date]) -> date:
        weights = [0.75 if day.weekday() >= 5 else 1.0 for day in days]
        return self.rng.choices(days, weights=weights)[0]

    def moment(self, day: date, hours: tuple[float, ...] | None = None) -> datetime:
        """A minute of `day`: by `hours` weights, or in shop hours (10:00-20:59)."""
        hour = self.rng.randint(10, 20) if hours is None else self.rng.choices(range(24), hours)[0]
        return datetime.combine(day, time(hour, self.rng.randint(0, 59)))

    def quota(self, n: int, chances: list[float]) -> list[int]:
        """`n` indices into `chances`, in proportions as close to them as whole numbers allow."""
        total = sum(chances)
        exact = [n * c / total for c in chances]
        counts = [math.floor(x) for x in exact]
        by_remainder = sorted(
            range(len(chances)),
            key=lambda i: (exact[i] - counts[i], self.rng.random()),
            reverse=True,
        )
        for i in by_remainder[: n - sum(counts)]:
            counts[i] += 1
        result = [i for i, count in enumerate(counts) for _ in range(count)]
        self.rng.shuffle(result)
        return result

    def amount(self, product: str) -> float:
        cups = max(50, round(self.rng.lognormvariate(math.log(CUPS_MEDIAN[product]), CUPS_SIGMA)))
        low, high = PRICES[product]
        price = self.rng.randint(int(low * 2), int(high * 2)) / 2  # whole or half dollars
        discount = self.rng.choices(DISCOUNTS, DISCOUNT_WEIGHTS)[0]
        return round(cups * price * discount, 2)

    # market size

    def make_market(self) -> None:
        """Monthly revenue of each product's category in each region (month-to-date in 2026-11)."""
        for month in months():
            growth = 1.0 + 0.006 * month_index(month)
            for region in TEAMS:
                for product in PRODUCTS:
                    value = MARKET[product] * REGION_SHARE[region] * SEASON[month.month - 1]
                    value = round(value * growth * coverage(month) * self.noise(0.03), -3)
                    if product == NEW:
                        self.new_market[month, region] = value
                    self.market.append(
                        {
                            "row_id": f"{month:%Y-%m}-{region}-{product}",
                            "month": month.isoformat(),
                            "region": region,
                            "team": region,
                            "product": product,
                            "market_revenue": f"{value:.0f}",
                        }
                    )

    # leads

    def planned_leads(self, month: date, team: str, product: str) -> float:
        if product == CLASSIC:
            growth = 1.0 + 0.005 * month_index(month)
            season = SEASON[month.month - 1]
            return CLASSIC_LEADS * TEAM_SHARE[team] * season * growth * coverage(month)
        if month < PRE_ORDERS.replace(day=1):
            return 0.0
        if month < LAUNCH.replace(day=1):  # pre-orders, about half a month's worth
            return 0.4 * self.planned_leads(add_months(month, 1), team, product)
        # Enough leads to win the planned share of the region's oolong-latte market.
        share = planned_share(month) * REGION_NEW_SHARE[team]
        won = share * self.new_market[month, team] / mean_amount(product)
        return won / win_rate(month, team)

    def make_leads(self) -> None:
        for month in months():
            for team in TEAMS:
                for product in PRODUCTS:
                    days = month_days(month, PRE_ORDERS if product == NEW else None)
                    count = round(self.planned_leads(month, team, product) * self.noise(0.04))
                    cell = [self.draw_lead(team, product, days) for _ in range(count)]
                    cell.sort(key=lambda lead: lead.created_at)
                    self.cells[month, team, product] = cell
                    self.leads.extend(cell)
        self.leads.sort(key=lambda lead: (lead.created_at, lead.team, lead.product))
        for number, lead in enumerate(self.leads, start=1):
            lead.lead_id = f"L{number:06d}"

    def draw_lead(self, team: str, product: str, days: list[date]) -> Lead:
        source = self.rng.choices(SOURCES, SOURCE_WEIGHTS[product])[0]
        hours = ONLINE_HOURS if source in ("web", "ads") else None
        created = self.moment(self.pick_day(days), hours)
        owner = self.rng.choices(OWNERS[team], OWNER_WEIGHTS)[0]
        return Lead(created, team, source, product, owner)

    # deals

    def make_won_deals(self) -> None:
        """Per month, team and product: the planned number of won deals closed in it."""
        for month in months():
            for team in TEAMS:
                for product in PRODUCTS:
                    if product == NEW and month < LAUNCH.replace(day=1):
                        continue  # pre-orders close when the product ships
                    leads = len(self.cells[month, team, product])
                    won = round(leads * win_rate(month, team) * self.noise(0.04))
                    for _ in range(won):
                        self.close_won(month, team, product)

    def close_won(self, month: date, team: str, product: str) -> None:
        """One won deal closed in `month`, on an earlier open lead (2 to 45 days old)."""
        days = month_days(month, LAUNCH if product == NEW else None)
        candidates = [
            lead
            for key in (
                (add_months(month, -2), team, product),
                (add_months(month, -1), team, product),
            )
            for lead in self.cells.get(key, [])
        ] + self.cells[month, team, product]
        for _ in range(100):
            closed = self.close_moment(self.pick_day(days))
            eligible, weights = [], []
            for lead in candidates:
                age = (closed - lead.created_at).total_seconds() / 86400
                if not lead.taken and 2 <= age <= 45:
                    eligible.append(lead)
                    weights.append(SOURCE_WIN[lead.source] * age * math.exp(-age / 6))
            if eligible:
                lead = self.rng.choices(eligible, weights)[0]
                lead.taken = True
                created = self.deal_created(lead, closed)
                utc = self.rng.random() < 0.45
                self.deals.append(Deal(lead, created, closed, "won", self.amount(product), utc))
                return
        raise AssertionError(f"no lead to win in {month:%Y-%m} {team} {product}")

    def close_moment(self, day: date) -> datetime:
        """When a deal closes on `day`: mostly office hours, some confirmed online at night."""
        if self.rng.random() < 0.2:
            hour = self.rng.choice((0, 1, 2, 22, 23))
        else:
            hour = self.rng.randint(9, 19)
        return datetime.combine(day, time(hour, self.rng.randint(0, 59)))

    def deal_created(self, lead: Lead, closed: datetime | None) -> datetime:
        """A deal is opened from its lead within hours or a few days, before it closes."""
        wait = int(self.rng.expovariate(1 / 1.2))
        if wait == 0:
            created = lead.created_at + timedelta(minutes=self.rng.randint(20, 240))
        else:
            created = self.moment(lead.created_at.date() + timedelta(days=wait))
        if closed is not None and created >= closed - timedelta(hours=1):
            created = lead.created_at + (closed - lead.created_at) / 3
            created = created.replace(second=0, microsecond=0)
        return created

    def make_other_deals(self) -> None:
        """Lost deals from the leads left over, and deals still open on the last day."""
        for (month, team, product), cell in self.cells.items():
            rate = win_rate(month, team)
            free = [lead for lead in cell if not lead.taken]
            lost = min(len(free), round(len(cell) * rate * 0.9 * self.noise(0.1)))
            for lead in self.rng.sample(free, lost):
                lead.taken = True
                created = self.deal_created(lead, None)
                closed: datetime | None = self.close_moment(
                    created.date() + timedelta(days=4 + int(self.rng.gammavariate(2.0, 8.0)))
                )
                if product == NEW and closed is not None and closed.date() < LAUNCH:
                    closed = self.close_moment(LAUNCH + timedelta(days=self.rng.randint(0, 20)))
                stage = "lost"
                if closed is not None and closed > END:
                    stage, closed = "open", None
                self.add_deal(lead, created, closed, stage)
            # Recent leads whose deals are still being negotiated.
            for lead in cell:
                recent = (END - lead.created_at).days < 30
                if recent and not lead.taken and self.rng.random() < rate * 1.2:
                    lead.taken = True
                    self.add_deal(lead, self.deal_created(lead, None), None, "open")

    def add_deal(self, lead: Lead, created: datetime, closed: datetime | None, stage: str) -> None:
        if created > END:
            lead.taken = False
            return
        utc = self.rng.random() < 0.45
        self.deals.append(Deal(lead, created, closed, stage, self.amount(lead.product), utc))

    def pin_month_boundary_example(self) -> None:
        """Make one won deal close at 2026-01-31T17:30:00Z: 01:30 on 1 February in Taipei."""
        for deal in self.deals:
            if (
                deal.stage == "won"
                and deal.closed_at is not None
                and deal.closed_at.date() == date(2026, 2, 1)
                and deal.created_at < datetime(2026, 1, 31)
            ):
                deal.closed_at = datetime(2026, 2, 1, 1, 30)
                deal.utc = True
                return
        raise AssertionError("no won deal closes on 2026-02-01")

    def make_first_purchases(self) -> None:
        """Mark first purchases: by quota among the won deals of each month, team and product."""
        won: dict[tuple[str, str, str], list[Deal]] = {}
        for deal in self.deals:
            if deal.stage == "won" and deal.closed_at is not None:
                key = (f"{deal.closed_at:%Y-%m}", deal.lead.team, deal.lead.product)
                won.setdefault(key, []).append(deal)
            else:  # a lost or open deal: with a new prospect, or with a customer
                deal.is_first_purchase = self.rng.random() < FIRST_PURCHASE[deal.lead.product]
        for (_, _, product), deals in won.items():
            share = FIRST_PURCHASE[product]
            for deal, first in zip(deals, self.quota(len(deals), [1 - share, share]), strict=True):
                deal.is_first_purchase = first == 1

    def assign_customers(self) -> None:
        """A first purchase gets a new customer; a repeat one, a customer who already bought."""
        counter = 0
        buyers: dict[str, list[str]] = {team: [] for team in TEAMS}
        for team in TEAMS:  # customers who bought before the CRM existed
            for _ in range(PRE_EXISTING_CUSTOMERS[team]):
                counter += 1
                buyers[team].append(f"C{counter:05d}")
        first_wins = sorted(
            (deal.closed_at, deal.lead.lead_id, deal)
            for deal in self.deals
            if deal.is_first_purchase and deal.stage == "won" and deal.closed_at is not None
        )
        next_win = 0
        for deal in self.deals:  # in the order they were opened
            # A customer may come back once their first order has been delivered.
            while next_win < len(first_wins) and first_wins[next_win][0] < deal.created_at:
                first = first_wins[next_win][2]
                buyers[first.lead.team].append(first.customer_id)
                next_win += 1
            if deal.is_first_purchase:
                counter += 1
                deal.customer_id = f"C{counter:05d}"
            else:
                deal.customer_id = self.rng.choice(buyers[deal.lead.team])

    # surveys

    def make_surveys(self) -> None:
        """Most buyers answer a survey within two weeks; scores by quota per month and team."""
        answers: dict[tuple[date, str, str], list[tuple[date, str]]] = {}
        for deal in self.deals:
            if deal.stage != "won" or deal.closed_at is None:
                continue
            if self.rng.random() >= SURVEY_RESPONSE:
                continue
            answered = deal.closed_at.date() + timedelta(days=self.rng.randint(1, 14))
            if answered <= LAST_DAY:
                key = (answered.replace(day=1), deal.lead.team, deal.lead.product)
                answers.setdefault(key, []).append((answered, deal.customer_id))
        rows: list[tuple[date, str, str, int]] = []
        for (month, team, product), cell in answers.items():
            mean = csat_mean(month, team, product) + self.rng.gauss(0.0, 0.03)
            scores = self.quota(len(cell), csat_weights(mean))
            for (answered, customer), score in zip(cell, scores, strict=True):
                rows.append((answered, team, customer, score + 1))
        rows.sort()
        for number, (answered, team, customer, score) in enumerate(rows, start=1):
            self.surveys.append(
                {
                    "survey_id": f"S{number:05d}",
                    "answered_at": answered.isoformat(),
                    "team": team,
                    "customer_id": customer,
                    "csat": str(score),
                }
            )

    # marketing spend

    def make_spend(self) -> None:
        """Monthly spend per team and channel, with the launch campaign on top."""
        campaign = {  # TWD, all teams
            date(2025, 12, 1): 90_000,
            date(2026, 1, 1): 240_000,
            date(2026, 2, 1): 170_000,
            date(2026, 3, 1): 110_000,
        }
        mix = {"ads": 0.5, "events": 0.2, "store_promo": 0.3}
        campaign_mix = {"ads": 0.55, "events": 0.35, "store_promo": 0.10}
        for month in months():
            # Spend runs a month ahead of demand: it peaks from May to July.
            base = (230_000 if month < date(2026, 1, 1) else 260_000) * SEASON[month.month % 12]
            extra = campaign.get(month, 0)
            for team in TEAMS:
                for channel in CHANNELS:
                    value = base * mix[channel] + extra * campaign_mix[channel]
                    value *= TEAM_SHARE[team] * coverage(month) * self.noise(0.05)
                    self.spend.append(
                        {
                            "spend_id": f"{month:%Y-%m}-{team}-{channel}",
                            "month": month.isoformat(),
                            "team": team,
                            "channel": channel,
                            "amount": f"{round(value, -2):.0f}",
                        }
                    )


# -- output -------------------------------------------------------------------------------


def write(name: str, rows: list[Row]) -> None:
    path = DATA_DIR / name
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"{name}: {len(rows)} rows, {path.stat().st_size:,} bytes")


def main() -> None:
    generator = Generator(SEED)
    generator.run()
    DATA_DIR.mkdir(exist_ok=True)
    leads = [
        {
            "lead_id": lead.lead_id,
            "created_at": f"{lead.created_at:%Y-%m-%d %H:%M:%S}",
            "team": lead.team,
            "source": lead.source,
            "product": lead.product,
            "owner": lead.owner,
        }
        for lead in generator.leads
    ]
    deals = [
        {
            "deal_id": f"D{number:05d}",
            "lead_id": deal.lead.lead_id,
            "customer_id": deal.customer_id,
            "created_at": timestamp(deal.created_at, deal.utc),
            "closed_at": timestamp(deal.closed_at, deal.utc) if deal.closed_at else "",
            "team": deal.lead.team,
            "product": deal.lead.product,
            "stage": deal.stage,
            "amount": f"{deal.amount:.2f}",
            "is_first_purchase": "true" if deal.is_first_purchase else "false",
        }
        for number, deal in enumerate(generator.deals, start=1)
    ]
    write("leads.csv", leads)
    write("deals.csv", deals)
    write("surveys.csv", generator.surveys)
    write("marketing_spend.csv", generator.spend)
    write("market_size.csv", generator.market)


if __name__ == "__main__":
    main()
