"""The KPI glossary: every active KPI in plain words in the reader's language, how it is
computed read from its formula, and entries written by admins and the KPI team's managers."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from headway.accounts.models import User
from headway.audit.errors import ConflictError, NotAllowed
from headway.kpis.choices import EntryKind
from headway.kpis.models import Kpi
from headway.kpis.services import kpi_create, kpi_retire, kpi_update
from headway.participation.glossary import GlossaryItem, glossary, glossary_update
from headway.participation.models import GlossaryEntry
from tests.app.conftest import Organisation
from tests.participation.conftest import audit_rows

pytestmark = pytest.mark.django_db

TEXTS = {
    "meaning_en": "The share of leads that became won deals.",
    "meaning_zh": "成交的潛在客戶占比。",
    "why_en": "It tells whether sales follow up well.",
    "why_zh": "它顯示業務跟進是否到位。",
}


def item_of(items: list[GlossaryItem], key: str) -> GlossaryItem:
    return next(item for item in items if item.kpi.key == key)


def write(org: Organisation, by: User | None = None, version: int = 0, **texts: str) -> None:
    glossary_update(
        kpi=Kpi.objects.get(key="conversion"),
        by=by or org.manager,
        expected_version=version,
        **{**dict.fromkeys(TEXTS, ""), **texts},
    )


def test_every_active_kpi_is_in_the_glossary_with_its_facts(org: Organisation) -> None:
    items = glossary("en")
    assert [item.kpi.key for item in items] == ["conversion", "revenue"]
    conversion = item_of(items, "conversion")
    assert conversion.kpi.owner == org.manager
    assert conversion.kpi.team == org.north
    assert [goal.key for goal in conversion.goals] == ["convert"]
    assert conversion.version == 0  # nobody wrote an entry yet


def test_how_a_kpi_is_computed_is_read_from_its_formula_and_measures(org: Organisation) -> None:
    conversion = item_of(glossary("en"), "conversion")
    assert conversion.how == (
        "Conversion is won divided by leads, worked out per month from the totals of the period."
    )
    assert [(measure.name, measure.words) for measure in conversion.measures] == [
        ("won", "the number of rows of deals where stage = 'won'"),
        ("leads", "the number of rows of leads"),
    ]
    assert conversion.nature == "It is a percentage; higher is better."
    revenue = item_of(glossary("en"), "revenue")
    assert revenue.measures[0].words == "the sum of amount of deals where stage = 'won'"
    assert revenue.nature == "It is an amount in TWD; higher is better."


def test_how_it_is_computed_reads_in_traditional_chinese_too(org: Organisation) -> None:
    conversion = item_of(glossary("zh-hant"), "conversion")
    assert conversion.how == "Conversion ＝ won 除以 leads，每月依當期的總數計算。"
    assert conversion.measures[0].words == "deals 中符合 stage = 'won' 的筆數"
    assert conversion.nature == "這是一個百分比；越高越好。"


def test_brackets_show_which_part_of_a_formula_goes_first(org: Organisation) -> None:
    kpi = Kpi.objects.get(key="revenue")
    kpi_update(kpi=kpi, by=org.admin, formula="revenue / prev(revenue) - 1", unit="percent")
    growth = item_of(glossary("en"), "revenue")
    assert growth.how.startswith(
        "Revenue is (revenue divided by revenue of the period before) minus 1, "
    )
    kpi_update(kpi=Kpi.objects.get(key="revenue"), by=org.admin, formula="revenue - (won + leads)")
    assert item_of(glossary("en"), "revenue").how.startswith(
        "Revenue is revenue minus (won plus leads), "
    )


def test_a_kpi_entered_by_hand_says_so(org: Organisation) -> None:
    kpi_create(
        by=org.manager,
        key="mystery_shopper",
        name="Mystery shopper",
        formula="",
        entry=EntryKind.MANUAL,
        manual_approval=True,
        unit="score",
        grain="quarter",
        team=org.north,
    )
    item = item_of(glossary("en"), "mystery_shopper")
    assert (
        item.how == "Entered by hand per quarter; a value counts once the KPI's owner approves it."
    )
    assert item.measures == ()


def test_a_retired_kpi_leaves_the_glossary(org: Organisation) -> None:
    kpi_retire(kpi=Kpi.objects.get(key="revenue"), by=org.admin, reason="Replaced")
    assert [item.kpi.key for item in glossary("en")] == ["conversion"]


def test_the_reader_gets_their_language_then_the_other_then_the_description(
    org: Organisation,
) -> None:
    Kpi.objects.filter(key="conversion").update(description="Won deals over leads.")
    item = item_of(glossary("zh-hant"), "conversion")
    assert (item.meaning, item.meaning_source) == ("Won deals over leads.", "description")
    assert (item.why, item.why_source) == ("", "")

    write(org, meaning_en=TEXTS["meaning_en"], why_en=TEXTS["why_en"])
    item = item_of(glossary("zh-hant"), "conversion")
    assert (item.meaning, item.meaning_source) == (TEXTS["meaning_en"], "other")
    assert (item.why, item.why_source) == (TEXTS["why_en"], "other")

    write(org, version=1, **TEXTS)
    chinese = item_of(glossary("zh-hant"), "conversion")
    english = item_of(glossary("en"), "conversion")
    assert (chinese.meaning, chinese.why, chinese.meaning_source) == (
        TEXTS["meaning_zh"],
        TEXTS["why_zh"],
        "entry",
    )
    assert (english.meaning, english.why) == (TEXTS["meaning_en"], TEXTS["why_en"])


def test_a_manager_of_the_kpis_team_writes_its_entry_and_it_is_audited(org: Organisation) -> None:
    write(org, **TEXTS)
    entry = GlossaryEntry.objects.get(kpi__key="conversion")
    assert (entry.version, entry.updated_by, entry.meaning_zh) == (
        1,
        org.manager,
        TEXTS["meaning_zh"],
    )
    write(org, version=1, **{**TEXTS, "why_en": "It shows how well we follow up."})
    entry.refresh_from_db()
    assert entry.version == 2
    first, second = audit_rows("participation.glossary.")
    assert first.actor == second.actor == org.manager
    assert first.before is None
    assert first.after["meaning_en"] == TEXTS["meaning_en"]
    assert second.before["why_en"] == TEXTS["why_en"]
    assert second.after["why_en"] == "It shows how well we follow up."
    assert second.after["version"] == 2


@pytest.mark.parametrize("who", ["member", "viewer", "other_manager"])
def test_members_viewers_and_managers_of_other_teams_may_not_edit_it(
    org: Organisation, who: str
) -> None:
    with pytest.raises(NotAllowed):
        write(org, by=getattr(org, who), **TEXTS)
    assert not GlossaryEntry.objects.exists()
    assert audit_rows("participation.glossary.") == []


def test_an_admin_may_edit_any_kpis_entry(org: Organisation) -> None:
    write(org, by=org.admin, **TEXTS)
    assert GlossaryEntry.objects.get(kpi__key="conversion").updated_by == org.admin


def test_an_edit_made_from_an_old_version_is_refused(org: Organisation) -> None:
    # Both start from the empty entry (version 0); the admin saves first.
    write(org, by=org.admin, meaning_en="The admin's words.")
    with pytest.raises(ConflictError):
        write(org, by=org.manager, version=0, meaning_en="The manager's words.")
    entry = GlossaryEntry.objects.get(kpi__key="conversion")
    assert (entry.meaning_en, entry.version) == ("The admin's words.", 1)
    assert len(audit_rows("participation.glossary.")) == 1


def test_saving_the_same_words_again_changes_nothing(org: Organisation) -> None:
    write(org, **TEXTS)
    write(org, version=1, **{name: f"  {text} " for name, text in TEXTS.items()})
    assert GlossaryEntry.objects.get(kpi__key="conversion").version == 1
    assert len(audit_rows("participation.glossary.")) == 1


def test_an_overlong_text_is_refused_beside_its_field(org: Organisation) -> None:
    with pytest.raises(ValidationError) as raised:
        write(org, why_zh="長" * 4001)
    assert list(raised.value.message_dict) == ["why_zh"]
    assert not GlossaryEntry.objects.exists()
