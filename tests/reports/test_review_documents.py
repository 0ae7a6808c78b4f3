"""A review meeting's documents: the pre-read pack (numbers, chart, forecast, realism check
and the owner's comment per agenda item) and the minutes (attendance, decisions in words,
actions), as HTML and PDF in either language, and the minutes mailed to the participants.

The meeting goes through the real review services; the numbers the documents must show
are worked out here from the stored Result rows."""

from __future__ import annotations

import email
import email.policy
import shutil
import socket
import statistics
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from headway.audit.errors import NotAllowed
from headway.audit.models import AuditEntry
from headway.kpis.models import Kpi
from headway.reports.reviews import (
    Minutes,
    MinutesNotReady,
    PreRead,
    minutes,
    minutes_pdf,
    minutes_send,
    pre_read,
    pre_read_pdf,
    render_minutes_html,
    render_pre_read_html,
)
from headway.results.models import Result
from headway.results.services import results_recompute
from headway.reviews.choices import DecisionKind
from headway.reviews.models import AgendaItem, Meeting
from headway.reviews.services import (
    attendance_record,
    comment_add,
    cycle_create,
    decision_decide,
    decision_record,
    decisions_apply_all,
    item_notes_save,
    meeting_conclude,
    meeting_create,
    meeting_prepare,
    meeting_start,
)
from tests.app.conftest import Organisation, build_organisation
from tests.conftest import MailServer
from tests.reviews.conftest import TODAY, at


@pytest.fixture
def org(db: None, tmp_path: Path, settings: Any) -> Organisation:
    """The reviews' small organisation (tests/app/conftest.py), of this test's own: some
    tests here rewrite its data files. (It stands in for this folder's `org`, the monthly
    report's organisation.)"""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    built = build_organisation(tmp_path)
    results_recompute(by=None)
    return built


@pytest.fixture
def meeting(org: Organisation) -> Meeting:
    """The review of 2026-Q1 (as tests/reviews/conftest.py's), chaired by the admin, with
    Nora (Conversion's owner), Mark and Sam (Revenue's owner)."""
    return meeting_create(
        by=org.admin,
        cycle=cycle_create(by=org.admin, period="2026-Q1"),
        title="2026-Q1 review",
        scheduled_at=at(2026, 4, 15),
        chair=org.admin,
        participants=[org.manager, org.member, org.other_manager],
    )


POPPLER = all(shutil.which(tool) for tool in ("pdftotext", "pdffonts"))
needs_poppler = pytest.mark.skipif(
    not POPPLER, reason="poppler-utils is not installed (apt-get install poppler-utils)"
)


# -- the numbers, worked out from the stored results ----------------------------------------


def latest_total(kpi: Kpi, meeting: Meeting) -> Result:
    """The KPI's latest organisation total up to the end of the period under review."""
    row = (
        Result.objects.filter(
            kpi=kpi, group_dimension="", period_start__lte=meeting.cycle.period_end
        )
        .order_by("period_start")
        .last()
    )
    assert row is not None
    return row


def shown(value: Decimal | None, unit: str) -> str:
    """How a value reads: a percentage to one decimal, an amount in TWD (cents below 100)."""
    assert value is not None
    if unit == "percent":
        return f"{value * 100:.1f}%"
    if unit == "currency":
        return f"TWD {value:,.0f}" if abs(value) >= 100 else f"TWD {value:,.2f}"
    raise AssertionError(unit)


def numbers_of(kpi: Kpi, meeting: Meeting) -> list[str]:
    row = latest_total(kpi, meeting)
    assert row.attainment is not None
    return [
        shown(row.value, kpi.unit),
        shown(row.target, kpi.unit),
        f"{row.attainment * 100:.1f}%",
    ]


def agenda_kpis(meeting: Meeting) -> list[Kpi]:
    items = AgendaItem.objects.filter(meeting=meeting, kpi__isnull=False)
    return [item.kpi for item in items.order_by("position", "pk") if item.kpi is not None]


def pdf_text(content: bytes, folder: Path) -> str:
    path = folder / "document.pdf"
    path.write_bytes(content)
    return subprocess.run(
        ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


# -- meetings at their steps ------------------------------------------------------------------


def prepared(org: Organisation, meeting: Meeting, comment: str = "Too high for us") -> Meeting:
    """The agenda built from the data, and Conversion's owner has commented."""
    meeting = meeting_prepare(meeting=meeting, by=org.admin, today=TODAY)
    conversion = Kpi.objects.get(key="conversion")
    comment_add(meeting=meeting, kpi=conversion, by=org.manager, text=comment)
    return meeting


def decided(org: Organisation, meeting: Meeting) -> Meeting:
    """A meeting that lowered Conversion's target from February, gave Mark an action,
    rejected retiring the KPI, and applied what it approved; Ada and Nora were there."""
    meeting = meeting_start(meeting=prepared(org, meeting), by=org.admin)
    item = AgendaItem.objects.get(meeting=meeting, kpi__key="conversion")
    item_notes_save(item=item, by=org.member, notes="Leads dried up in February.")
    lower = decision_record(
        meeting=meeting,
        by=org.manager,
        kind=DecisionKind.CHANGE_TARGET,
        reason="out of reach",
        item=item,
        details={"value": "0.4", "effective_from": "2026-02"},
    )
    decision_decide(decision=lower, by=org.admin, approve=True)
    call = decision_record(
        meeting=meeting,
        by=org.manager,
        kind=DecisionKind.ASSIGN_ACTION,
        reason="we need more leads",
        item=item,
        details={"title": "Call 20 old leads", "owner": org.member.pk, "due": "2026-05-31"},
    )
    decision_decide(decision=call, by=org.admin, approve=True)
    retire = decision_record(
        meeting=meeting,
        by=org.member,
        kind=DecisionKind.RETIRE_KPI,
        reason="nobody reads it",
        item=item,
    )
    decision_decide(decision=retire, by=org.admin, approve=False, note="We still steer by it")
    attendance_record(meeting=meeting, by=org.admin, present=[org.admin.pk, org.manager.pk])
    meeting = meeting_conclude(meeting=meeting, by=org.admin)
    decisions_apply_all(meeting=meeting, by=org.admin)
    meeting.refresh_from_db()
    return meeting


def with_a_year_of_history(org: Organisation) -> None:
    """Fifteen months of north's leads and deals (2025-01 to 2026-03), enough for a
    forecast and a realism check: 3, 4 or 5 of 10 leads won in turn."""
    leads = ["lead_id,created_at,team"]
    deals = ["deal_id,closed_at,team,stage,amount"]
    months = [f"2025-{month:02d}" for month in range(1, 13)] + ["2026-01", "2026-02", "2026-03"]
    number = 0
    for index, month in enumerate(months):
        for day in range(1, 11):
            number += 1
            leads.append(f"{number},{month}-{day:02d} 10:00:00,north")
        for day in range(1, 4 + index % 3):
            deals.append(f"{month}-{day},{month}-{day:02d},north,won,{100 + 10 * day}")
    (org.folder / "leads.csv").write_text("\n".join(leads) + "\n", encoding="utf-8")
    (org.folder / "deals.csv").write_text("\n".join(deals) + "\n", encoding="utf-8")
    results_recompute(by=None)


# -- the pre-read pack -------------------------------------------------------------------------


def test_the_pre_read_shows_every_agenda_kpi_with_its_numbers_and_chart_in_agenda_order(
    org: Organisation, meeting: Meeting
) -> None:
    meeting = prepared(org, meeting)

    pack = pre_read(meeting, "en", today=TODAY)
    html = render_pre_read_html(pack, standalone=True)

    kpis = agenda_kpis(meeting)
    assert [kpi.key for kpi in kpis] == ["revenue", "conversion"]  # the red one first
    assert [item.kpi_key for item in pack.items] == [kpi.key for kpi in kpis]
    for item, kpi in zip(pack.items, kpis, strict=True):
        assert [item.value_text, item.target_text, item.attainment_text] == numbers_of(kpi, meeting)
        for number in numbers_of(kpi, meeting):
            assert number in html
    assert numbers_of(Kpi.objects.get(key="revenue"), meeting) == ["TWD 50.00", "TWD 100", "50.0%"]
    assert html.startswith("<!doctype html>")
    assert html.count('<svg class="chart"') == 2
    assert "Off track, Never reviewed" in html
    assert "Revenue was below target in 2026-02." in html  # the insights of the agenda


def test_the_pre_read_has_the_owners_latest_comment_or_says_who_has_not_commented(
    org: Organisation, meeting: Meeting
) -> None:
    meeting = prepared(org, meeting, comment="First thoughts")
    conversion = Kpi.objects.get(key="conversion")
    comment_add(meeting=meeting, kpi=conversion, by=org.manager, text="We lost the big lead")

    html = render_pre_read_html(pre_read(meeting, "en", today=TODAY), standalone=True)

    assert "We lost the big lead" in html
    assert "First thoughts" not in html
    assert "No comment yet from Sam South." in html  # Revenue's owner


def test_a_comment_with_markup_is_shown_as_text(org: Organisation, meeting: Meeting) -> None:
    meeting = prepared(org, meeting, comment='<script>alert("x")</script> & <b>bold</b>')

    html = render_pre_read_html(pre_read(meeting, "en", today=TODAY), standalone=True)
    body = render_pre_read_html(pre_read(meeting, "en", today=TODAY), standalone=False)

    for text in (html, body):
        assert "<script>" not in text
        assert "<b>bold" not in text
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;bold" in text


@pytest.mark.slow
def test_the_forecast_and_the_realism_check_are_read_out_when_there_is_history(
    org: Organisation, meeting: Meeting
) -> None:
    with_a_year_of_history(org)
    meeting = prepared(org, meeting)
    conversion = Kpi.objects.get(key="conversion")
    facts = AgendaItem.objects.get(meeting=meeting, kpi=conversion).facts

    pack = pre_read(meeting, "en", today=TODAY)
    item = next(item for item in pack.items if item.kpi_key == "conversion")

    # The last twelve months against the target of 50%, from the stored totals.
    totals = list(
        Result.objects.filter(kpi=conversion, group_dimension="", period__gte="2025-04")
        .filter(period__lte="2026-03")
        .order_by("period_start")
    )
    assert len(totals) == 12
    values = [row.value for row in totals if row.value is not None]
    met = sum(1 for value in values if value >= Decimal("0.5"))
    half = statistics.median(values)
    assert item.realism == (
        f"Realism check: the target of 50.0% was met in {met} of the last 12 periods "
        f"(per month); a target of {half * 100:.1f}% would have been met half the time: "
        "the target looks realistic."
    )
    chance = round(facts["forecast"]["probability"] * 100)
    assert item.forecast.startswith("Forecast for 2026 Q2: ")
    assert item.forecast.endswith(f"the chance of meeting the target is {chance}%.")
    html = render_pre_read_html(pack, standalone=True)
    assert item.forecast in html
    assert item.realism in html
    # The chart shows the forecast's range, as on the KPI page.
    assert html.count('<g class="forecast-band">') >= 1


def test_an_item_added_by_hand_gets_its_numbers_read_now(
    org: Organisation, meeting: Meeting
) -> None:
    meeting = prepared(org, meeting)
    revenue = Kpi.objects.get(key="revenue")
    AgendaItem.objects.filter(meeting=meeting, kpi=revenue).update(facts={})

    pack = pre_read(meeting, "en", today=TODAY, analysis=False)

    item = next(item for item in pack.items if item.kpi_key == "revenue")
    assert [item.value_text, item.target_text, item.attainment_text] == numbers_of(revenue, meeting)


@pytest.mark.slow
@needs_poppler
def test_the_pre_read_pdf_carries_the_numbers_and_the_comment(
    org: Organisation, meeting: Meeting, tmp_path: Path
) -> None:
    meeting = prepared(org, meeting, comment="Too high for us <b>now</b>")

    content = pre_read_pdf(meeting, "en")

    assert content.startswith(b"%PDF")
    text = pdf_text(content, tmp_path)
    assert "Pre-read: 2026-Q1 review" in text
    for kpi in agenda_kpis(meeting):
        assert kpi.name in text
        for number in numbers_of(kpi, meeting):
            assert number in text
    assert "Too high for us <b>now</b>" in text
    assert "No comment yet from Sam South." in text


@pytest.mark.slow
@needs_poppler
def test_a_chinese_reader_gets_the_pre_read_pdf_in_traditional_chinese(
    org: Organisation, meeting: Meeting, tmp_path: Path
) -> None:
    meeting = prepared(org, meeting, comment="二月名單不足")

    content = pre_read_pdf(meeting, "zh-Hant")

    text = pdf_text(content, tmp_path)
    for words in (
        "會前資料",
        "議程",
        "列入議程原因",
        "落後",
        "從未檢討",
        "負責人的說明",
        "二月名單不足",
    ):
        assert words in text
    assert "尚未收到 Sam South 的說明。" in text
    assert "Revenue 2026-02 低於目標。" in text  # the analysis's own Chinese
    for number in ("TWD 50.00", "TWD 100", "50.0%", "100.0%"):
        assert number in text
    fonts = subprocess.run(
        ["pdffonts", str(tmp_path / "document.pdf")], capture_output=True, text=True, check=True
    ).stdout
    assert "Noto-Sans-CJK-TC" in fonts
    assert "CJK-JP" not in fonts


# -- the minutes ------------------------------------------------------------------------------


def test_the_minutes_list_attendance_decisions_in_words_and_actions(
    org: Organisation, meeting: Meeting
) -> None:
    meeting = decided(org, meeting)

    record = minutes(meeting, "en")
    html = render_minutes_html(record, standalone=True)

    assert record.present == ("Ada Admin", "Nora North")
    assert record.absent == ("Mark Member", "Sam South")
    assert record.not_recorded == ()
    conversion = next(item for item in record.items if item.title == "Conversion")
    assert conversion.notes == "Leads dried up in February."
    lower, call, retire = conversion.decisions
    assert lower.details == "Target 50.0% → 40.0% from 2026-02"
    assert lower.status_label == "Applied"
    assert lower.decided == "Approved by Ada Admin"
    assert lower.applied.endswith("by Ada Admin: a new target version was written.")
    assert call.details == "Call 20 old leads: Mark Member, due 2026-05-31"
    assert retire.status_label == "Rejected"
    assert retire.decided == "Rejected by Ada Admin"
    assert retire.note == "We still steer by it"
    (action,) = record.actions
    assert (action.title, action.owner, action.due) == (
        "Call 20 old leads",
        "Mark Member",
        "2026-05-31",
    )
    assert (record.approved, record.rejected) == (2, 1)
    for text in (
        "Minutes: 2026-Q1 review",
        "Ada Admin, Nora North",
        "Mark Member, Sam South",
        "Target 50.0% → 40.0% from 2026-02",
        "Leads dried up in February.",
        "We still steer by it",
        "Call 20 old leads",
        "2026-05-31",
    ):
        assert text in html


def test_a_target_change_for_a_group_and_a_first_target_read_as_such(
    org: Organisation, meeting: Meeting
) -> None:
    meeting = meeting_start(meeting=prepared(org, meeting), by=org.admin)
    item = AgendaItem.objects.get(meeting=meeting, kpi__key="revenue")
    decision_record(
        meeting=meeting,
        by=org.admin,
        kind=DecisionKind.CHANGE_TARGET,
        reason="north sells too",
        item=item,
        details={
            "value": "80",
            "effective_from": "2026-03",
            "where_dimension": "team",
            "where_value": "north",
        },
    )
    for decision in meeting.decisions.all():
        decision_decide(decision=decision, by=org.admin, approve=True)
    meeting = meeting_conclude(meeting=meeting, by=org.admin)

    (line,) = next(
        item for item in minutes(meeting, "en").items if item.title == "Revenue"
    ).decisions

    assert line.details == "Target for north TWD 80.00 from 2026-03"
    assert line.decided == "Approved by Ada Admin"
    assert line.applied == ""


def test_there_are_no_minutes_before_the_meeting_has_decided(
    org: Organisation, meeting: Meeting
) -> None:
    meeting = meeting_start(meeting=prepared(org, meeting), by=org.admin)

    with pytest.raises(MinutesNotReady):
        minutes(meeting, "en")


@pytest.mark.slow
@needs_poppler
def test_the_minutes_pdf_in_chinese_says_who_came_and_what_was_decided(
    org: Organisation, meeting: Meeting, tmp_path: Path
) -> None:
    meeting = decided(org, meeting)

    text = pdf_text(minutes_pdf(meeting, "zh-hant"), tmp_path)

    for words in (
        "會議紀錄：2026-Q1 review",
        "出席",
        "缺席",
        "Ada Admin, Nora North",
        "目標 50.0% → 40.0%，自 2026-02 起",
        "變更目標",
        "已執行",
        "拒絕",
        "We still steer by it",
        "Call 20 old leads",
        "2026-05-31",
    ):
        assert words in text


# -- the minutes by e-mail --------------------------------------------------------------------


def attachments(message: EmailMessage) -> list[Any]:
    return list(message.iter_attachments())


@pytest.mark.slow
def test_each_participant_gets_the_minutes_in_their_language_with_the_pdf(
    org: Organisation, meeting: Meeting, smtp_server: MailServer
) -> None:
    meeting = decided(org, meeting)
    org.manager.language = "zh-hant"
    org.manager.save()

    reached = minutes_send(meeting, org.admin)

    everyone = ["admin@example.com", "mark@example.com", "nora@example.com", "sam@example.com"]
    assert sorted(reached) == everyone
    by_address = {message["To"]: message for message in smtp_server.messages}
    assert sorted(by_address) == everyone
    for message in smtp_server.messages:
        (pdf,) = attachments(message)
        assert pdf.get_content_type() == "application/pdf"
        assert pdf.get_content().startswith(b"%PDF")
    english = by_address["sam@example.com"]
    assert english["Subject"] == "Headway: the minutes of 2026-Q1 review"
    text = english.get_body(preferencelist=("plain",)).get_content()
    assert "Present: Ada Admin, Nora North" in text
    assert "Target 50.0% → 40.0% from 2026-02" in text
    assert "Call 20 old leads: Mark Member, due 2026-05-31" in text
    chinese = by_address["nora@example.com"]
    assert chinese["Subject"] == "Headway：2026-Q1 review 會議紀錄"
    assert (
        "出席：Ada Admin, Nora North" in chinese.get_body(preferencelist=("plain",)).get_content()
    )
    assert attachments(chinese)[0].get_filename().endswith("-zh-hant.pdf")
    meeting.refresh_from_db()
    assert meeting.minutes_sent_at is not None
    entry = AuditEntry.objects.get(action="review.minutes.send")
    assert sorted(entry.after["recipients"]) == everyone


def test_a_member_who_does_not_organise_the_meeting_cannot_send_the_minutes(
    org: Organisation, meeting: Meeting, smtp_server: MailServer
) -> None:
    meeting = decided(org, meeting)

    with pytest.raises(NotAllowed):
        minutes_send(meeting, org.member)

    assert smtp_server.messages == []
    meeting.refresh_from_db()
    assert meeting.minutes_sent_at is None


def test_the_minutes_of_a_meeting_still_under_way_are_not_sent(
    org: Organisation, meeting: Meeting, smtp_server: MailServer
) -> None:
    meeting = meeting_start(meeting=prepared(org, meeting), by=org.admin)

    with pytest.raises(ValidationError) as refused:
        minutes_send(meeting, org.admin)

    assert "status" in refused.value.message_dict
    assert smtp_server.messages == []


@pytest.fixture
def picky_smtp_server(settings: Any) -> Iterator[MailServer]:
    """An SMTP server on 127.0.0.1 that refuses mail for sam@example.com."""
    from aiosmtpd.controller import Controller

    received: list[EmailMessage] = []

    class RefuseSam:
        async def handle_RCPT(
            self, server: Any, session: Any, envelope: Any, address: str, options: Any
        ) -> str:
            if address == "sam@example.com":
                return "550 No such mailbox here"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
            assert isinstance(parsed, EmailMessage)
            received.append(parsed)
            return "250 Message accepted for delivery"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(RefuseSam(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
        settings.EMAIL_USE_TLS = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        yield MailServer("127.0.0.1", port, received)
    finally:
        controller.stop()


@pytest.mark.slow
def test_an_address_that_is_refused_does_not_stop_the_others(
    org: Organisation, meeting: Meeting, picky_smtp_server: MailServer
) -> None:
    meeting = decided(org, meeting)

    reached = minutes_send(meeting, org.admin)

    assert sorted(reached) == ["admin@example.com", "mark@example.com", "nora@example.com"]
    assert sorted(message["To"] for message in picky_smtp_server.messages) == sorted(reached)
    entry = AuditEntry.objects.get(action="review.minutes.send")
    assert "sam@example.com" not in entry.after["recipients"]


def test_a_chinese_reader_gets_the_meeting_and_the_reasons_in_chinese(
    org: Organisation, meeting: Meeting
) -> None:
    meeting = decided(org, meeting)

    pack = pre_read(meeting, "zh-hant", today=TODAY, analysis=False)
    record = minutes(meeting, "zh-hant")

    assert isinstance(pack, PreRead)
    assert isinstance(record, Minutes)
    assert pack.language == record.language == "zh-hant"
    assert pack.meeting.scope == "整個組織"
    assert record.items[0].reasons == ("落後", "從未檢討")
