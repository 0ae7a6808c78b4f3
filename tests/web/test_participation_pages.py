"""The pages of taking part: my contribution, the KPI glossary with its edit forms, and
participation per team and month for managers."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from headway.accounts.models import Team
from headway.audit.models import AuditEntry
from headway.goals.models import Goal
from headway.kpis.models import Kpi
from headway.kpis.services import kpi_create
from headway.participation.models import GlossaryEntry, Proposal, ProposalKind
from headway.web import queries
from tests.participation.test_contribution import OwnerOrg, build_owner_organisation
from tests.web.conftest import Org

pytestmark = pytest.mark.django_db

PAGES = ["/me/contribution/", "/glossary/", "/participation/"]


def text_of(response: object) -> str:
    html: str = response.content.decode()  # type: ignore[attr-defined]
    main = html[html.index("<main") : html.index("</main>")]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main))


def in_chinese(client: Client) -> Client:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hant"
    return client


@pytest.fixture
def owners(db: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> OwnerOrg:
    """The organisation whose data names its owners, on 10 April 2026."""
    monkeypatch.setattr(queries, "organization_today", lambda _: datetime.date(2026, 4, 10))
    return build_owner_organisation(tmp_path)


def client_of(person: object) -> Client:
    client = Client()
    client.force_login(person)  # type: ignore[arg-type]
    return client


def test_the_urls_have_their_names() -> None:
    assert reverse("web:contribution") == "/me/contribution/"
    assert reverse("web:glossary") == "/glossary/"
    assert reverse("web:glossary_edit", args=["win_rate"]) == "/glossary/win_rate/edit/"
    assert reverse("web:participation") == "/participation/"


@pytest.mark.parametrize("url", PAGES)
def test_every_page_asks_to_sign_in_first(org: Org, url: str) -> None:
    response = org.client(None).get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("who", ["ada", "nora", "mo", "vic", "sam"])
def test_everyone_signed_in_sees_their_contribution_and_the_glossary(org: Org, who: str) -> None:
    client = org.client(getattr(org, who))
    for url in ("/me/contribution/", "/glossary/"):
        assert client.get(url).status_code == 200
        assert in_chinese(client).get(url).status_code == 200


@pytest.mark.parametrize(
    ("who", "status"), [("ada", 200), ("nora", 200), ("sam", 200), ("mo", 403), ("vic", 403)]
)
def test_only_managers_and_admins_see_participation(org: Org, who: str, status: int) -> None:
    assert org.client(getattr(org, who)).get("/participation/").status_code == status


def test_my_contribution_draws_the_line_from_my_rows_to_the_goals(owners: OwnerOrg) -> None:
    page = text_of(client_of(owners.mark).get("/me/contribution/"))
    # Mark's leads in March 2026 (4 of north's 6, see tests/participation) feed Conversion,
    # which weighs 2 of the 3 in "Convert more leads", part of "Grow".
    assert "Your leads 4 of 6 for North 66.7% March 2026 → feeds Conversion" in page
    assert "Your data feeds it" in page
    assert "Convert more leads weight 2 (66.7% of the goal) → part of Grow" in page
    assert "Your Calls made" not in page  # a KPI's own share reads "Your part"
    assert "Your part 3 of 5 for North 60.0% March 2026 → feeds Calls made" in page
    assert "Your part 2 of 5 for the organisation 40.0%" in page
    assert "Sales Above your team" in page
    assert "What moved, and why" in page


def test_my_contribution_reads_in_traditional_chinese(owners: OwnerOrg) -> None:
    page = text_of(in_chinese(client_of(owners.mark)).get("/me/contribution/"))
    assert "我的貢獻" in page
    assert "你的 leads North 共 6，你佔 4 66.7% 2026年3月 → 構成 Conversion" in page
    assert "權重 2 (佔目標的 66.7%)" in page


def test_the_glossary_offers_its_form_only_where_the_reader_may_edit(org: Org) -> None:
    nora = org.client(org.nora).get("/glossary/").content.decode()
    assert 'action="/glossary/win_rate/edit/"' in nora
    assert 'action="/glossary/deal_count/edit/"' in nora
    assert 'action="/glossary/revenue/edit/"' not in nora  # south's
    member = org.client(org.mo).get("/glossary/").content.decode()
    assert "/edit/" not in member.split("<main", 1)[1]
    assert "Win rate is won_deals divided by deals, worked out per month" in text_of(
        org.client(org.mo).get("/glossary/")
    )


def glossary_post(client: Client, key: str, version: int, **texts: str) -> object:
    """Posts the edit form of a KPI's entry as the page names its fields."""
    pk = Kpi.objects.get(key=key).pk
    data = {f"kpi{pk}-version": str(version)}
    for name in ("meaning_en", "meaning_zh", "why_en", "why_zh"):
        data[f"kpi{pk}-{name}"] = texts.get(name, "")
    return client.post(f"/glossary/{key}/edit/", data)


def test_a_manager_writes_a_glossary_entry_and_comes_back_to_it(org: Org) -> None:
    client = org.client(org.nora)
    response = glossary_post(
        client, "win_rate", 0, meaning_en="Deals won out of deals closed.", why_zh="看業務成交力。"
    )
    assert response.status_code == 302  # type: ignore[attr-defined]
    assert response["Location"] == "/glossary/#kpi-win_rate"  # type: ignore[index]
    page = client.get("/glossary/")
    assert "The glossary entry of “Win rate” was saved." in page.content.decode()
    assert "Deals won out of deals closed." in text_of(page)
    entry = GlossaryEntry.objects.get(kpi__key="win_rate")
    assert (entry.version, entry.updated_by) == (1, org.nora)
    assert AuditEntry.objects.filter(action="participation.glossary.update").count() == 1
    # A Chinese reader gets the Chinese "why" and, for now, the English meaning.
    chinese = text_of(in_chinese(client).get("/glossary/"))
    assert "看業務成交力。" in chinese
    assert "Deals won out of deals closed. （尚未以你的語言撰寫）" in chinese


@pytest.mark.parametrize(
    ("who", "key"),
    [("mo", "win_rate"), ("vic", "win_rate"), ("sam", "win_rate"), ("nora", "revenue")],
)
def test_nobody_else_may_write_an_entry(org: Org, who: str, key: str) -> None:
    response = glossary_post(org.client(getattr(org, who)), key, 0, meaning_en="Mine now.")
    assert response.status_code == 403  # type: ignore[attr-defined]
    assert not GlossaryEntry.objects.exists()


def test_an_entry_edited_meanwhile_is_not_overwritten(org: Org) -> None:
    # Nora opens the form at version 0; Ada saves first.
    glossary_post(org.client(org.ada), "win_rate", 0, meaning_en="Ada's words.")
    response = glossary_post(org.client(org.nora), "win_rate", 0, meaning_en="Nora's words.")
    assert response.status_code == 200  # type: ignore[attr-defined]
    html = response.content.decode()  # type: ignore[attr-defined]
    assert "Someone else changed this while you were editing it." in html
    assert "Nora&#x27;s words." in html  # what she typed is still in the form
    assert re.search(r'<details class="glossary-edit" open>', html)
    entry = GlossaryEntry.objects.get(kpi__key="win_rate")
    assert (entry.meaning_en, entry.version) == ("Ada's words.", 1)


def test_the_glossary_page_needs_no_query_per_kpi(org: Org) -> None:
    client = org.client(org.nora)
    client.get("/glossary/")  # the session and the organisation, read once
    with CaptureQueriesContext(connection) as three:
        client.get("/glossary/")
    for number in range(3):
        kpi_create(
            by=org.nora,
            key=f"extra_{number}",
            name=f"Extra {number}",
            formula="deals",
            unit="count",
            grain="month",
            team=Team.objects.get(key="north"),
            goals=[(Goal.objects.get(key="grow"), Decimal(1))],
        )
    with CaptureQueriesContext(connection) as six:
        page = client.get("/glossary/")
    assert page.content.decode().count('class="glossary-entry"') == 6
    assert len(six.captured_queries) == len(three.captured_queries)


def test_the_glossary_form_is_only_posted_to(org: Org) -> None:
    assert org.client(org.nora).get("/glossary/win_rate/edit/").status_code == 405


def test_participation_shows_the_organisation_and_each_team(org: Org) -> None:
    Proposal.objects.create(
        kind=ProposalKind.TARGET_CHANGE, title="Lower it", why="Too hard", author=org.mo
    )
    response = org.client(org.nora).get("/participation/")
    stats = response.context["stats"]
    assert [table.team.key for table in stats.teams] == ["sales", "north", "south"]
    assert stats.organisation.rows[-1].counts.proposals == 1
    north = next(table for table in stats.teams if table.team.key == "north")
    assert north.rows[-1].counts.proposals == 1
    assert len(north.rows) == 12
    page = text_of(response)
    assert "The whole organisation" in page
    assert "KPIs that came from proposals" in page
    assert "0 / 3" in page  # no KPI came from a proposal yet, of three


def test_participation_can_be_narrowed_to_a_team_and_a_span(org: Org) -> None:
    response = org.client(org.ada).get("/participation/?team=north&months=6")
    stats = response.context["stats"]
    assert stats.organisation is None
    assert [table.team.key for table in stats.teams] == ["north"]
    assert len(stats.months) == 6
    assert "The whole organisation" not in text_of(response)
    assert org.client(org.ada).get("/participation/?team=nowhere").status_code == 404
    # An unknown span falls back to a year.
    assert len(org.client(org.ada).get("/participation/?months=7").context["stats"].months) == 12


def test_participation_reads_in_traditional_chinese(org: Org) -> None:
    page = text_of(in_chinese(org.client(org.nora)).get("/participation/"))
    assert "參與情形" in page
    assert "來自提案的 KPI" in page
