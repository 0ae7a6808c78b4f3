"""The review services: who may call each one, from which status of the meeting, what each
kind of decision writes when it is applied, and that bad input is refused with the field
named and nothing written. Every call of a review service writes exactly one audit row of
its own (applying a decision also writes the rows of the KPI services it goes through)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest

from headway.audit.errors import ConflictError, NotAllowed
from headway.audit.models import AuditEntry
from headway.kpis.models import KpiGoal, TargetVersion
from headway.kpis.services import kpi_update
from headway.results.locks import period_lock, period_reopen
from headway.results.models import Result
from headway.reviews.choices import (
    ActionStatus,
    AgendaReason,
    DecisionKind,
    DecisionStatus,
    MeetingStatus,
)
from headway.reviews.models import Action, AgendaItem, Decision, Meeting, Participant
from headway.reviews.selectors import (
    agenda,
    attendance,
    kpi_reviews,
    latest_comments,
    missing_comments,
    target_changes,
    todo_for,
)
from headway.reviews.services import (
    action_close,
    agenda_item_add,
    agenda_item_move,
    agenda_item_remove,
    agenda_reorder,
    attendance_record,
    comment_add,
    cycle_create,
    decision_apply,
    decision_decide,
    decision_record,
    decision_withdraw,
    decisions_apply_all,
    item_notes_save,
    meeting_close,
    meeting_conclude,
    meeting_create,
    meeting_prepare,
    meeting_start,
    meeting_update,
    minutes_sent,
)
from tests.app.conftest import Organisation
from tests.reviews.conftest import (
    TODAY,
    at,
    audit_rows,
    decided,
    fingerprint,
    kpi,
    prepared,
    refused,
    started,
)


def result(key: str, period: str, group: str = "") -> Result:
    return Result.objects.get(kpi__key=key, period=period, group_value=group)


def keep(org: Organisation, meeting: Meeting, key: str = "conversion") -> Decision:
    return decision_record(
        meeting=meeting, by=org.manager, kind=DecisionKind.KEEP, reason="on track", kpi=kpi(key)
    )


# -- cycles ---------------------------------------------------------------------------------


def test_an_admin_opens_the_cycle_of_a_quarter_once(org: Organisation) -> None:
    with audit_rows() as written:
        cycle = cycle_create(by=org.admin, period=" 2026-Q2 ")
    assert written == ["review.cycle.create"]
    assert (cycle.period, cycle.grain, cycle.title) == ("2026-Q2", "quarter", "2026-Q2 review")
    assert (cycle.period_start, cycle.period_end) == (
        datetime.date(2026, 4, 1),
        datetime.date(2026, 6, 30),
    )
    refused(lambda: cycle_create(by=org.admin, period="2026-Q2"), "period")


@pytest.mark.parametrize("label", ["2026-Q5", "next quarter", "2026-W05", ""])
def test_a_cycle_reviews_a_month_a_quarter_or_a_year(org: Organisation, label: str) -> None:
    refused(lambda: cycle_create(by=org.admin, period=label), "period")


def test_only_an_admin_opens_a_cycle(org: Organisation) -> None:
    before = fingerprint()
    for person in (org.manager, org.member, org.viewer):
        with pytest.raises(NotAllowed):
            cycle_create(by=person, period="2026-Q2")
    assert fingerprint() == before


# -- meetings -------------------------------------------------------------------------------


def test_the_chair_is_always_a_participant_and_the_creation_is_audited(
    org: Organisation, meeting: Meeting
) -> None:
    people = [row.person for row in attendance(meeting)]
    assert people == [org.admin, org.manager, org.member, org.other_manager]
    assert meeting.status == MeetingStatus.PLANNED
    entry = AuditEntry.objects.get(action="review.meeting.create", object_id=str(meeting.pk))
    assert entry.after["participants"] == sorted(person.pk for person in people)


def test_a_manager_schedules_meetings_of_their_team_only(org: Organisation, cycle: Any) -> None:
    north = meeting_create(
        by=org.manager,
        cycle=cycle,
        title="North's review",
        scheduled_at=at(2026, 4, 16),
        chair=org.manager,
        team=org.north,
    )
    assert north.team == org.north
    before = fingerprint()
    for team in (None, org.south):
        with pytest.raises(NotAllowed):
            meeting_create(
                by=org.manager,
                cycle=cycle,
                title="Not hers",
                scheduled_at=at(2026, 4, 16),
                chair=org.manager,
                team=team,
            )
    with pytest.raises(NotAllowed):
        meeting_create(
            by=org.member, cycle=cycle, title="x", scheduled_at=at(2026, 4, 16), chair=org.member
        )
    assert fingerprint() == before


def test_a_meeting_needs_a_title_and_comments_due_before_it(org: Organisation, cycle: Any) -> None:
    def create(**fields: Any) -> Meeting:
        wanted: dict[str, Any] = {
            "title": "Q1",
            "scheduled_at": at(2026, 4, 15),
            "chair": org.admin,
        }
        wanted.update(fields)
        return meeting_create(by=org.admin, cycle=cycle, **wanted)

    refused(lambda: create(title="   "), "title")
    refused(lambda: create(comments_due=datetime.date(2026, 4, 16)), "comments_due")
    org.member.is_active = False
    org.member.save()
    refused(lambda: create(chair=org.member), "chair")


def test_an_organiser_changes_a_meeting_with_the_version_they_read(
    org: Organisation, meeting: Meeting
) -> None:
    with audit_rows() as written:
        changed = meeting_update(
            meeting=meeting,
            by=org.admin,
            expected_version=meeting.version,
            participants=[org.manager],
            location="Room 3",
        )
    assert written == ["review.meeting.update"]
    assert changed.location == "Room 3"
    assert changed.version == meeting.version + 1
    assert [row.person for row in attendance(changed)] == [org.admin, org.manager]
    before = fingerprint()
    with pytest.raises(ConflictError):
        meeting_update(
            meeting=meeting, by=org.admin, expected_version=meeting.version, location="Old"
        )
    with pytest.raises(NotAllowed):
        meeting_update(meeting=meeting, by=org.manager, location="Mine")
    assert fingerprint() == before


def test_a_meeting_change_is_checked_like_a_new_meeting(
    org: Organisation, meeting: Meeting
) -> None:
    refused(
        lambda: meeting_update(
            meeting=meeting, by=org.admin, comments_due=datetime.date(2026, 4, 20)
        ),
        "comments_due",
    )
    org.member.is_active = False
    org.member.save()
    refused(lambda: meeting_update(meeting=meeting, by=org.admin, chair=org.member), "chair")


# -- who may do what --------------------------------------------------------------------


def test_only_organisers_prepare_start_conclude_and_close(
    org: Organisation, meeting: Meeting
) -> None:
    """In the organisation's meeting, a manager who is a participant does not organise."""
    for person in (org.manager, org.member, org.viewer):
        before = fingerprint()
        with pytest.raises(NotAllowed):
            meeting_prepare(meeting=meeting, by=person, today=TODAY)
        assert fingerprint() == before
    meeting = prepared(org, meeting)
    with pytest.raises(NotAllowed):
        meeting_start(meeting=meeting, by=org.manager)
    meeting = meeting_start(meeting=meeting, by=org.admin)
    with pytest.raises(NotAllowed):
        meeting_conclude(meeting=meeting, by=org.member)
    meeting = meeting_conclude(meeting=meeting, by=org.admin)
    with pytest.raises(NotAllowed):
        meeting_close(meeting=meeting, by=org.other_manager)
    assert meeting_close(meeting=meeting, by=org.admin).status == MeetingStatus.CLOSED


def test_the_manager_of_the_team_organises_the_team_meeting(org: Organisation, cycle: Any) -> None:
    north = meeting_create(
        by=org.admin,
        cycle=cycle,
        title="North",
        scheduled_at=at(2026, 4, 16),
        chair=org.admin,
        team=org.north,
        participants=[org.manager],
    )
    north = meeting_prepare(meeting=north, by=org.manager, today=TODAY)
    items = agenda(north)
    with pytest.raises(NotAllowed):
        agenda_reorder(meeting=north, by=org.other_manager, order=[item.pk for item in items])
    with pytest.raises(NotAllowed):
        meeting_start(meeting=north, by=org.other_manager)
    assert meeting_start(meeting=north, by=org.manager).status == MeetingStatus.IN_MEETING


def test_a_member_records_only_in_a_meeting_they_are_invited_to(
    org: Organisation, cycle: Any
) -> None:
    invited = started(
        org,
        meeting_create(
            by=org.admin,
            cycle=cycle,
            title="With Mark",
            scheduled_at=at(2026, 4, 16),
            chair=org.admin,
            participants=[org.member],
        ),
    )
    other = started(
        org,
        meeting_create(
            by=org.admin,
            cycle=cycle,
            title="Without Mark",
            scheduled_at=at(2026, 4, 17),
            chair=org.admin,
            participants=[org.manager],
        ),
    )

    def record(meeting: Meeting) -> Decision:
        return decision_record(
            meeting=meeting, by=org.member, kind="keep", reason="fine", kpi=kpi("conversion")
        )

    with audit_rows() as written:
        decision = record(invited)
    assert written == ["review.decision.record"]
    assert (decision.status, decision.recorded_by) == (DecisionStatus.PROPOSED, org.member)
    before = fingerprint()
    with pytest.raises(NotAllowed):
        record(other)
    assert fingerprint() == before


def test_an_invited_viewer_records_nothing(org: Organisation, meeting: Meeting) -> None:
    meeting = meeting_update(meeting=meeting, by=org.admin, participants=[org.viewer])
    meeting = started(org, meeting)
    item = agenda(meeting)[0]
    before = fingerprint()
    with pytest.raises(NotAllowed):
        decision_record(
            meeting=meeting, by=org.viewer, kind="keep", reason="fine", kpi=kpi("conversion")
        )
    with pytest.raises(NotAllowed):
        item_notes_save(item=item, by=org.viewer, notes="mine")
    with pytest.raises(NotAllowed):
        attendance_record(meeting=meeting, by=org.viewer, present=[org.viewer.pk])
    assert fingerprint() == before


def test_a_participant_cannot_approve_only_the_chair_can_not_even_an_admin(
    org: Organisation, cycle: Any
) -> None:
    chaired_by_nora = started(
        org,
        meeting_create(
            by=org.admin,
            cycle=cycle,
            title="Nora chairs",
            scheduled_at=at(2026, 4, 16),
            chair=org.manager,
            participants=[org.admin, org.member],
        ),
    )
    decision = decision_record(
        meeting=chaired_by_nora,
        by=org.member,
        kind=DecisionKind.CHANGE_TARGET,
        reason="too high",
        kpi=kpi("conversion"),
        details={"value": "0.4", "effective_from": "2026-03"},
    )
    before = fingerprint()
    for person in (org.member, org.admin, org.other_manager):
        for approve in (True, False):
            with pytest.raises(NotAllowed):
                decision_decide(decision=decision, by=person, approve=approve, note="no")
    assert fingerprint() == before
    with audit_rows() as written:
        approved = decision_decide(decision=decision, by=org.manager, approve=True)
    assert written == ["review.decision.approve"]
    assert (approved.status, approved.decided_by) == (DecisionStatus.APPROVED, org.manager)


def test_a_chair_approves_only_what_they_may_then_apply(org: Organisation, cycle: Any) -> None:
    """Nora manages north; the revenue KPI is south's: an admin must chair that decision."""
    meeting = started(
        org,
        meeting_create(
            by=org.admin,
            cycle=cycle,
            title="Nora chairs",
            scheduled_at=at(2026, 4, 16),
            chair=org.manager,
        ),
    )
    decision = decision_record(
        meeting=meeting,
        by=org.manager,
        kind=DecisionKind.CHANGE_TARGET,
        reason="too high",
        kpi=kpi("revenue"),
        details={"value": "80", "effective_from": "2026-03"},
    )
    before = fingerprint()
    with pytest.raises(NotAllowed):
        decision_decide(decision=decision, by=org.manager, approve=True)
    assert fingerprint() == before
    rejected = decision_decide(decision=decision, by=org.manager, approve=False, note="not ours")
    assert rejected.status == DecisionStatus.REJECTED


def test_only_the_owner_or_an_admin_comments_on_a_kpi(org: Organisation, meeting: Meeting) -> None:
    meeting = prepared(org, meeting)
    conversion = kpi("conversion")
    before = fingerprint()
    for person in (org.member, org.other_manager, org.viewer):
        with pytest.raises(NotAllowed):
            comment_add(meeting=meeting, kpi=conversion, by=person, text="mine")
    assert fingerprint() == before
    with audit_rows() as written:
        comment_add(meeting=meeting, kpi=conversion, by=org.manager, text="  Leads were late  ")
    assert written == ["review.comment.add"]
    comment_add(meeting=meeting, kpi=conversion, by=org.admin, text="Seen")
    comment_add(meeting=meeting, kpi=conversion, by=org.manager, text="Better in March")
    latest = latest_comments(meeting)[conversion.pk]
    assert (latest.text, latest.author) == ("Better in March", org.manager)
    assert [missing.kpi.key for missing in missing_comments(meeting)] == ["revenue"]


def test_a_comment_is_about_a_kpi_on_the_agenda_and_says_something(
    org: Organisation, meeting: Meeting
) -> None:
    refused(
        lambda: comment_add(meeting=meeting, kpi=kpi("conversion"), by=org.manager, text="x"),
        "status",
    )
    meeting = prepared(org, meeting)
    refused(
        lambda: comment_add(meeting=meeting, kpi=kpi("conversion"), by=org.manager, text="  "),
        "text",
    )
    refused(
        lambda: comment_add(
            meeting=meeting, kpi=kpi("conversion"), by=org.manager, text="x" * 5001
        ),
        "text",
    )
    item = AgendaItem.objects.get(meeting=meeting, kpi__key="conversion")
    agenda_item_remove(item=item, by=org.admin)
    refused(
        lambda: comment_add(meeting=meeting, kpi=kpi("conversion"), by=org.manager, text="x"),
        "kpi",
    )


def test_the_chair_or_an_admin_applies_decisions(org: Organisation, meeting: Meeting) -> None:
    meeting, decision = decided(org, meeting, DecisionKind.KEEP, kpi_key="conversion")
    before = fingerprint()
    for person in (org.manager, org.member, org.other_manager):
        with pytest.raises(NotAllowed):
            decision_apply(decision=decision, by=person)
    assert fingerprint() == before
    applied, problems = decision_apply(decision=decision, by=org.admin)
    assert (applied.status, applied.applied_by, problems) == (
        DecisionStatus.APPLIED,
        org.admin,
        [],
    )


# -- the order of things ----------------------------------------------------------------


def test_each_step_of_a_meeting_is_taken_only_from_its_status(
    org: Organisation, meeting: Meeting
) -> None:
    admin = org.admin
    conversion = kpi("conversion")

    def start() -> Meeting:
        return meeting_start(meeting=meeting, by=admin)

    def conclude() -> Meeting:
        return meeting_conclude(meeting=meeting, by=admin)

    def close() -> Meeting:
        return meeting_close(meeting=meeting, by=admin)

    def prepare() -> Meeting:
        return meeting_prepare(meeting=meeting, by=admin, today=TODAY)

    def comment() -> object:
        return comment_add(meeting=meeting, kpi=conversion, by=admin, text="x")

    def record() -> object:
        return keep(org, meeting)

    def minutes() -> object:
        return minutes_sent(meeting=meeting, by=admin, recipients=["a@example.com"])

    def present() -> None:
        attendance_record(meeting=meeting, by=admin, present=[admin.pk])

    # planned
    for wrong in (start, conclude, close, comment, record, minutes, present):
        refused(wrong, "status")
    meeting = prepare()
    assert meeting.status == MeetingStatus.PREPARING
    for wrong in (conclude, close, record, minutes, present):
        refused(wrong, "status")
    meeting = prepare()  # a refresh of the agenda is allowed while preparing
    meeting = start()
    assert meeting.status == MeetingStatus.IN_MEETING
    for wrong in (prepare, start, close, minutes):
        refused(wrong, "status")
    decision = record()
    assert isinstance(decision, Decision)
    refused(lambda: decision_apply(decision=decision, by=admin), "status")
    decision_decide(decision=decision, by=admin, approve=True)
    meeting = conclude()
    assert meeting.status == MeetingStatus.DECIDED
    for wrong in (prepare, start, conclude, comment, record):
        refused(wrong, "status")
    refused(lambda: decision_decide(decision=decision, by=admin, approve=True), "status")
    refused(
        lambda: agenda_item_add(meeting=meeting, by=admin, title="Late point"),
        "status",
    )
    present()  # attendance may still be put right after the meeting
    decision_apply(decision=decision, by=admin)
    meeting = close()
    assert meeting.status == MeetingStatus.CLOSED
    for wrong in (prepare, start, conclude, close, comment, record, present):
        refused(wrong, "status")
    refused(lambda: meeting_update(meeting=meeting, by=admin, location="x"), "status")
    minutes()  # the minutes go out after the meeting, closed or not


def test_every_step_of_a_review_writes_exactly_one_audit_row(org: Organisation, cycle: Any) -> None:
    admin = org.admin
    with audit_rows() as written:
        meeting = meeting_create(
            by=admin, cycle=cycle, title="Q1", scheduled_at=at(2026, 4, 15), chair=admin
        )
    assert written == ["review.meeting.create"]
    steps: list[tuple[str, Any]] = [
        ("review.meeting.prepare", lambda: meeting_prepare(meeting=meeting, by=admin, today=TODAY)),
        ("review.meeting.prepare", lambda: meeting_prepare(meeting=meeting, by=admin, today=TODAY)),
        ("review.meeting.start", lambda: meeting_start(meeting=meeting, by=admin)),
        (
            "review.meeting.attendance",
            lambda: attendance_record(meeting=meeting, by=admin, present=[]),
        ),
        ("review.meeting.conclude", lambda: meeting_conclude(meeting=meeting, by=admin)),
        ("review.meeting.close", lambda: meeting_close(meeting=meeting, by=admin)),
        ("review.minutes.send", lambda: minutes_sent(meeting=meeting, by=admin, recipients=[])),
    ]
    for action, step in steps:
        with audit_rows() as written:
            step()
        assert written == [action]


def test_a_meeting_concludes_once_the_chair_answered_every_decision(
    org: Organisation, meeting: Meeting
) -> None:
    meeting = started(org, meeting)
    first = keep(org, meeting)
    second = keep(org, meeting, "revenue")
    decision_decide(decision=first, by=org.admin, approve=True)
    refused(lambda: meeting_conclude(meeting=meeting, by=org.admin), "decisions")
    refused(lambda: decision_decide(decision=second, by=org.admin, approve=False), "note")
    with audit_rows() as written:
        decision_decide(decision=second, by=org.admin, approve=False, note="not discussed")
    assert written == ["review.decision.reject"]
    refused(lambda: decision_decide(decision=second, by=org.admin, approve=True), "status")
    assert todo_for(org.admin).approvals == []
    with audit_rows() as written:
        meeting = meeting_conclude(meeting=meeting, by=org.admin)
    assert written == ["review.meeting.conclude"]
    refused(
        lambda: decision_apply(decision=Decision.objects.get(pk=second.pk), by=org.admin),
        "status",
    )


def test_a_meeting_closes_only_when_every_approved_decision_is_applied(
    org: Organisation, meeting: Meeting
) -> None:
    meeting = started(org, meeting)
    for key in ("conversion", "revenue"):
        decision_decide(decision=keep(org, meeting, key), by=org.admin, approve=True)
    meeting = meeting_conclude(meeting=meeting, by=org.admin)
    refused(lambda: meeting_close(meeting=meeting, by=org.admin), "decisions")
    assert decisions_apply_all(meeting=meeting, by=org.admin) == (2, [], [])
    assert meeting_close(meeting=meeting, by=org.admin).status == MeetingStatus.CLOSED


def test_a_decision_is_applied_once(org: Organisation, meeting: Meeting) -> None:
    meeting, decision = decided(
        org,
        meeting,
        DecisionKind.CHANGE_TARGET,
        kpi_key="revenue",
        details={"value": "50", "effective_from": "2026-02"},
    )
    decision_apply(decision=decision, by=org.admin)
    refused(lambda: decision_apply(decision=decision, by=org.admin), "status")
    assert decisions_apply_all(meeting=meeting, by=org.admin) == (0, [], [])
    assert TargetVersion.objects.filter(origin_reference=decision.reference).count() == 1
    assert AuditEntry.objects.filter(action="review.decision.apply").count() == 1


# -- each kind of decision, applied ----------------------------------------------------------


def test_keep_writes_nothing_but_its_own_audit_row(org: Organisation, meeting: Meeting) -> None:
    meeting, decision = decided(org, meeting, DecisionKind.KEEP, kpi_key="conversion")
    before = (
        TargetVersion.objects.count(),
        list(Result.objects.values_list("pk", "computed_at")),
        kpi("conversion").version,
        Action.objects.count(),
    )
    with audit_rows() as written:
        applied, _ = decision_apply(decision=decision, by=org.admin)
    assert written == ["review.decision.apply"]
    assert applied.outcome == {}
    assert before == (
        TargetVersion.objects.count(),
        list(Result.objects.values_list("pk", "computed_at")),
        kpi("conversion").version,
        Action.objects.count(),
    )


def test_changing_a_target_adds_a_version_from_its_period_and_recomputes(
    org: Organisation, meeting: Meeting
) -> None:
    """Revenue was 50 against 100 in February (red); the meeting halves the target from
    February on: January keeps 100, February is measured against 50 and turns green."""
    old = TargetVersion.objects.get(kpi__key="revenue")
    old_row = TargetVersion.objects.filter(pk=old.pk).values().get()
    assert (result("revenue", "2026-02").status, result("revenue", "2026-01").status) == (
        "red",
        "green",
    )
    meeting, decision = decided(
        org,
        meeting,
        DecisionKind.CHANGE_TARGET,
        kpi_key="revenue",
        details={"value": " 50 ", "effective_from": "2026-02"},
        reason="The south lost its biggest customer",
    )
    assert decision.details["previous"] == "100.0000000000"
    with audit_rows() as written:
        applied, problems = decision_apply(decision=decision, by=org.admin)
    assert problems == []
    assert written == ["target.create", "review.decision.apply", "results.recompute"]
    new = TargetVersion.objects.get(pk=applied.outcome["target_version"])
    assert (new.effective_from, new.value, new.origin) == ("2026-02", Decimal(50), "review")
    assert new.origin_reference == f"review-decision:{decision.pk}"
    assert (new.reason, new.decided_by) == ("The south lost its biggest customer", org.admin)
    assert TargetVersion.objects.filter(pk=old.pk).values().get() == old_row
    january, february = result("revenue", "2026-01"), result("revenue", "2026-02")
    assert (january.target, january.status) == (Decimal(100), "green")
    assert (february.target, february.attainment, february.status) == (
        Decimal(50),
        Decimal(1),
        "green",
    )
    history = list(TargetVersion.objects.filter(kpi__key="revenue").order_by("effective_start"))
    changes = target_changes(history)
    assert [change.version for change in changes] == [new, old]
    assert changes[0].previous == Decimal(100)
    assert changes[0].meeting == meeting
    assert changes[1].decision is None


def test_a_group_target_is_changed_for_that_group_only(org: Organisation, meeting: Meeting) -> None:
    meeting, decision = decided(
        org,
        meeting,
        DecisionKind.CHANGE_TARGET,
        kpi_key="conversion",
        details={
            "value": "0.8",
            "effective_from": "2026-02",
            "where_dimension": "team",
            "where_value": "north",
        },
    )
    assert decision.details["previous"] == "0.6000000000"
    decision_apply(decision=decision, by=org.admin)
    assert result("conversion", "2026-02", "north").target == Decimal("0.8")
    assert result("conversion", "2026-01", "north").target == Decimal("0.6")
    assert result("conversion", "2026-02").target == Decimal("0.5")


def test_changing_a_kpi_goes_through_kpi_update_and_recomputes(
    org: Organisation, meeting: Meeting
) -> None:
    revenue = kpi("revenue")
    meeting, decision = decided(
        org,
        meeting,
        DecisionKind.CHANGE_KPI,
        kpi_key="revenue",
        details={
            "changes": {
                "formula": "won",
                "threshold_green": "0.5",
                "threshold_amber": "0.25",
                "owner": org.member.pk,
            }
        },
    )
    assert decision.details["kpi_version"] == revenue.version
    with audit_rows() as written:
        applied, problems = decision_apply(decision=decision, by=org.admin)
    assert problems == []
    assert written == ["kpi.update", "review.decision.apply", "results.recompute"]
    changed = kpi("revenue")
    assert (changed.formula, changed.threshold_green, changed.threshold_amber) == (
        "won",
        Decimal("0.5"),
        Decimal("0.25"),
    )
    assert changed.owner == org.member
    assert changed.version == revenue.version + 1
    assert applied.outcome == {"kpi": "revenue", "kpi_version": changed.version}
    entry = AuditEntry.objects.get(action="kpi.update", object_id=str(revenue.pk))
    assert (entry.before["formula"], entry.after["formula"]) == ("revenue", "won")
    # One won deal a month now, against the target of 100.
    assert result("revenue", "2026-01").value == Decimal(1)


def test_new_thresholds_change_the_status_of_the_results(
    org: Organisation, meeting: Meeting
) -> None:
    meeting, decision = decided(
        org,
        meeting,
        DecisionKind.CHANGE_KPI,
        kpi_key="revenue",
        details={"changes": {"threshold_green": "0.5", "threshold_amber": "0.25"}},
    )
    assert result("revenue", "2026-02").status == "red"
    decision_apply(decision=decision, by=org.admin)
    assert result("revenue", "2026-02").status == "green"


def test_a_kpi_changed_since_the_decision_is_a_clear_conflict(
    org: Organisation, meeting: Meeting
) -> None:
    meeting, decision = decided(
        org,
        meeting,
        DecisionKind.CHANGE_KPI,
        kpi_key="conversion",
        details={"changes": {"threshold_amber": "0.8"}},
    )
    kpi_update(kpi=kpi("conversion"), by=org.manager, name="Lead conversion")
    before = fingerprint()
    with pytest.raises(ConflictError) as caught:
        decision_apply(decision=decision, by=org.admin)
    message = str(caught.value)
    assert "conversion" in message
    assert "after the decision was recorded" in message
    assert fingerprint() == before
    assert kpi("conversion").threshold_amber == Decimal("0.9")
    # The chair takes the approval back, saying why, and the meeting can close.
    refused(lambda: meeting_close(meeting=meeting, by=org.admin), "decisions")
    with pytest.raises(NotAllowed):
        decision_withdraw(decision=decision, by=org.manager, note="stale")
    refused(lambda: decision_withdraw(decision=decision, by=org.admin, note=" "), "note")
    with audit_rows() as written:
        withdrawn = decision_withdraw(decision=decision, by=org.admin, note="KPI renamed since")
    assert written == ["review.decision.withdraw"]
    assert (withdrawn.status, withdrawn.decision_note) == (
        DecisionStatus.REJECTED,
        "KPI renamed since",
    )
    assert meeting_close(meeting=meeting, by=org.admin).status == MeetingStatus.CLOSED


def test_only_an_approved_unapplied_decision_of_a_decided_meeting_is_withdrawn(
    org: Organisation, meeting: Meeting
) -> None:
    meeting, decision = decided(org, meeting, DecisionKind.KEEP, kpi_key="conversion")
    decision_apply(decision=decision, by=org.admin)
    refused(lambda: decision_withdraw(decision=decision, by=org.admin, note="no"), "status")


def test_retiring_a_kpi_keeps_its_results_and_takes_it_off_later_agendas(
    org: Organisation, meeting: Meeting
) -> None:
    results = Result.objects.filter(kpi__key="revenue").count()
    meeting, decision = decided(org, meeting, DecisionKind.RETIRE_KPI, kpi_key="revenue")
    with audit_rows() as written:
        applied, problems = decision_apply(decision=decision, by=org.admin)
    assert (written, problems) == (["kpi.retire", "review.decision.apply"], [])
    assert applied.outcome == {"kpi": "revenue", "retired": True}
    assert not kpi("revenue").is_active
    assert Result.objects.filter(kpi__key="revenue").count() == results
    entry = AuditEntry.objects.get(action="kpi.retire")
    assert entry.after["decided_by_reference"] == decision.reference
    next_one = meeting_create(
        by=org.admin,
        cycle=cycle_create(by=org.admin, period="2026-Q2"),
        title="Q2",
        scheduled_at=at(2026, 7, 15),
        chair=org.admin,
    )
    next_one = prepared(org, next_one, datetime.date(2026, 7, 10))
    assert "revenue" not in [item.kpi.key for item in agenda(next_one) if item.kpi]


def test_adding_a_kpi_creates_it_with_its_first_target_and_computes_it(
    org: Organisation, meeting: Meeting
) -> None:
    meeting, decision = decided(
        org,
        meeting,
        DecisionKind.ADD_KPI,
        details={
            "key": "won_deals",
            "name": "Won deals",
            "formula": "won",
            "unit": "count",
            "grain": "month",
            "direction": "up",
            "team": "north",
            "owner": org.manager.pk,
            "goal": "convert",
            "target": "2",
            "target_from": "2026-01",
        },
        reason="Count what we win",
    )
    assert decision.kpi is None
    with audit_rows() as written:
        applied, problems = decision_apply(decision=decision, by=org.admin)
    assert problems == []
    assert written == ["kpi.create", "target.create", "review.decision.apply", "results.recompute"]
    created = kpi("won_deals")
    assert (created.name, created.team, created.owner, created.unit) == (
        "Won deals",
        org.north,
        org.manager,
        "count",
    )
    assert KpiGoal.objects.filter(kpi=created, goal__key="convert").exists()
    target = TargetVersion.objects.get(kpi=created)
    assert (target.value, target.effective_from, target.origin, target.origin_reference) == (
        Decimal(2),
        "2026-01",
        "review",
        decision.reference,
    )
    assert applied.outcome == {"kpi": "won_deals", "target_version": target.pk}
    january = result("won_deals", "2026-01")
    assert (january.value, january.target, january.status) == (Decimal(1), Decimal(2), "red")


def test_an_assigned_action_shows_on_the_next_meetings_agenda(
    org: Organisation, meeting: Meeting
) -> None:
    meeting = started(org, meeting)
    about_kpi = decision_record(
        meeting=meeting,
        by=org.manager,
        kind=DecisionKind.ASSIGN_ACTION,
        reason="find out why",
        kpi=kpi("conversion"),
        details={"title": "Call the lost leads", "owner": org.member.pk, "due": "2026-05-31"},
    )
    general = decision_record(
        meeting=meeting,
        by=org.manager,
        kind=DecisionKind.ASSIGN_ACTION,
        reason="the data is late",
        details={"title": "Export the CRM weekly", "owner": org.manager.pk, "due": "2026-05-01"},
    )
    for decision in (about_kpi, general):
        decision_decide(decision=decision, by=org.admin, approve=True)
    meeting = meeting_conclude(meeting=meeting, by=org.admin)
    with audit_rows() as written:
        applied, _ = decision_apply(decision=about_kpi, by=org.admin)
    assert written == ["review.decision.apply"]
    action = Action.objects.get(pk=applied.outcome["action"])
    assert (action.title, action.owner, action.due, action.kpi, action.decision) == (
        "Call the lost leads",
        org.member,
        datetime.date(2026, 5, 31),
        kpi("conversion"),
        about_kpi,
    )
    decision_apply(decision=general, by=org.admin)
    meeting_close(meeting=meeting, by=org.admin)
    assert [item.title for item in todo_for(org.member).actions] == ["Call the lost leads"]

    next_one = meeting_create(
        by=org.admin,
        cycle=cycle_create(by=org.admin, period="2026-Q2"),
        title="Q2",
        scheduled_at=at(2026, 7, 15),
        chair=org.admin,
    )
    items = agenda(prepared(org, next_one, datetime.date(2026, 7, 10)))
    conversion = next(item for item in items if item.kpi and item.kpi.key == "conversion")
    assert AgendaReason.OPEN_ACTION in conversion.reasons
    assert conversion.facts["open_actions"] == [action.pk]
    assert conversion.facts["last_reviewed"] == "2026-Q1 review"
    own = next(item for item in items if item.action is not None)
    assert (own.title, own.reason) == ("Export the CRM weekly", AgendaReason.OPEN_ACTION)


# -- bad input ------------------------------------------------------------------------------

ADD_KPI = {
    "key": "won_deals",
    "name": "Won deals",
    "formula": "won",
    "unit": "count",
    "grain": "month",
    "direction": "up",
}
ACTION = {"title": "Call them", "owner": "owner-id", "due": "2026-05-31"}

BAD_DECISIONS: list[tuple[str, str | None, dict[str, Any], str]] = [
    ("promote", "conversion", {}, "kind"),
    ("keep", None, {}, "kpi"),
    ("change_target", "conversion", {"value": "1", "effective_from": "2026-13"}, "effective_from"),
    ("change_target", "conversion", {"value": "1", "effective_from": "2026-Q2"}, "effective_from"),
    ("change_target", "conversion", {"value": "0.4"}, "effective_from"),
    ("change_target", "conversion", {"value": "lots", "effective_from": "2026-03"}, "value"),
    ("change_target", "conversion", {"value": "NaN", "effective_from": "2026-03"}, "value"),
    (
        "change_target",
        "conversion",
        {"value": "0.4", "effective_from": "2026-03", "where_dimension": "team"},
        "where_value",
    ),
    ("change_kpi", "conversion", {}, "changes"),
    ("change_kpi", "conversion", {"changes": {"unit": "count"}}, "changes"),
    ("change_kpi", "conversion", {"changes": {"formula": "won / nothing"}}, "formula"),
    ("change_kpi", "conversion", {"changes": {"formula": "won /"}}, "formula"),
    ("change_kpi", "conversion", {"changes": {"threshold_amber": "1.2"}}, "threshold_amber"),
    (
        "change_kpi",
        "conversion",
        {"changes": {"threshold_green": "0.5", "threshold_amber": "0.7"}},
        "threshold_amber",
    ),
    ("change_kpi", "conversion", {"changes": {"threshold_green": "high"}}, "threshold_green"),
    ("change_kpi", "conversion", {"changes": {"owner": 999999}}, "owner"),
    ("change_kpi", "conversion", {"changes": {"owner": "nora"}}, "owner"),
    ("add_kpi", None, {**ADD_KPI, "key": "conversion"}, "key"),
    ("add_kpi", None, {**ADD_KPI, "key": "won deals!"}, "key"),
    ("add_kpi", None, {**ADD_KPI, "formula": "won * nothing"}, "formula"),
    ("add_kpi", None, {**ADD_KPI, "unit": "litres"}, "unit"),
    ("add_kpi", None, {**ADD_KPI, "grain": "fortnight"}, "grain"),
    ("add_kpi", None, {**ADD_KPI, "team": "east"}, "team"),
    ("add_kpi", None, {**ADD_KPI, "goal": "nowhere"}, "goal"),
    ("add_kpi", None, {**ADD_KPI, "owner": 999999}, "owner"),
    ("add_kpi", None, {**ADD_KPI, "target": "2"}, "target_from"),
    ("add_kpi", None, {**ADD_KPI, "target": "2", "target_from": "2026-Q1"}, "target_from"),
    ("add_kpi", None, {key: value for key, value in ADD_KPI.items() if key != "name"}, "name"),
    ("assign_action", None, {**ACTION, "due": "31/05/2026"}, "due"),
    ("assign_action", None, {**ACTION, "owner": None}, "owner"),
    ("assign_action", None, {**ACTION, "owner": 999999}, "owner"),
    ("assign_action", None, {**ACTION, "title": "  "}, "title"),
]


@pytest.mark.parametrize(("kind", "key", "details", "field"), BAD_DECISIONS)
def test_a_bad_decision_is_refused_naming_the_field_and_nothing_is_written(
    org: Organisation,
    meeting: Meeting,
    kind: str,
    key: str | None,
    details: dict[str, Any],
    field: str,
) -> None:
    meeting = started(org, meeting)
    details = {
        name: org.member.pk if value == "owner-id" else value for name, value in details.items()
    }
    refused(
        lambda: decision_record(
            meeting=meeting,
            by=org.manager,
            kind=kind,
            reason="because",
            kpi=kpi(key) if key else None,
            details=details,
        ),
        field,
    )


def test_a_decision_without_a_reason_is_refused(org: Organisation, meeting: Meeting) -> None:
    meeting = started(org, meeting)
    refused(
        lambda: decision_record(
            meeting=meeting, by=org.manager, kind="keep", reason=" \n ", kpi=kpi("conversion")
        ),
        "reason",
    )


def test_a_decision_is_about_an_item_of_its_own_meeting_and_that_items_kpi(
    org: Organisation, meeting: Meeting, cycle: Any
) -> None:
    meeting = started(org, meeting)
    other = prepared(
        org,
        meeting_create(
            by=org.admin, cycle=cycle, title="Other", scheduled_at=at(2026, 4, 20), chair=org.admin
        ),
    )
    foreign = AgendaItem.objects.get(meeting=other, kpi__key="conversion")
    refused(
        lambda: decision_record(
            meeting=meeting, by=org.manager, kind="keep", reason="x", item=foreign
        ),
        "item",
    )
    own = AgendaItem.objects.get(meeting=meeting, kpi__key="conversion")
    refused(
        lambda: decision_record(
            meeting=meeting, by=org.manager, kind="keep", reason="x", item=own, kpi=kpi("revenue")
        ),
        "kpi",
    )
    decision = decision_record(meeting=meeting, by=org.manager, kind="keep", reason="x", item=own)
    assert decision.kpi == kpi("conversion")
    assert [row["decisions"] for row in kpi_reviews(kpi("conversion"))] == [[], [decision]]


def test_a_target_is_not_changed_from_a_closed_period(org: Organisation, meeting: Meeting) -> None:
    meeting = started(org, meeting)
    period_lock(period="2026-01", by=org.admin, reason="January is audited")
    error = refused(
        lambda: decision_record(
            meeting=meeting,
            by=org.manager,
            kind=DecisionKind.CHANGE_TARGET,
            reason="too high",
            kpi=kpi("conversion"),
            details={"value": "0.4", "effective_from": "2026-01"},
        ),
        "effective_from",
    )
    assert "2026-01 is closed" in error.message_dict["effective_from"][0]


def test_a_period_closed_after_the_decision_stops_it_until_reopened(
    org: Organisation, meeting: Meeting
) -> None:
    meeting, decision = decided(
        org,
        meeting,
        DecisionKind.CHANGE_TARGET,
        kpi_key="revenue",
        details={"value": "50", "effective_from": "2026-02"},
    )
    lock = period_lock(period="2026-02", by=org.admin, reason="February is audited")
    february = (
        Result.objects.filter(kpi__key="revenue", period="2026-02").values().get(group_value="")
    )
    refused(lambda: decision_apply(decision=decision, by=org.admin), "effective_from")
    assert Decision.objects.get(pk=decision.pk).status == DecisionStatus.APPROVED
    refused(lambda: meeting_close(meeting=meeting, by=org.admin), "decisions")
    assert (
        Result.objects.filter(kpi__key="revenue", period="2026-02").values().get(group_value="")
        == february
    )
    period_reopen(lock=lock, by=org.admin, reason="the review changed its target")
    decision_apply(decision=decision, by=org.admin)
    assert result("revenue", "2026-02").target == Decimal(50)


def test_applying_all_goes_past_a_decision_that_can_no_longer_be_applied(
    org: Organisation, meeting: Meeting
) -> None:
    meeting = started(org, meeting)
    stopped = decision_record(
        meeting=meeting,
        by=org.manager,
        kind=DecisionKind.CHANGE_TARGET,
        reason="February was too hard",
        kpi=kpi("revenue"),
        details={"value": "50", "effective_from": "2026-02"},
    )
    going = decision_record(
        meeting=meeting,
        by=org.manager,
        kind=DecisionKind.CHANGE_TARGET,
        reason="January can do more",
        kpi=kpi("revenue"),
        details={"value": "70", "effective_from": "2026-01"},
    )
    for decision in (stopped, going):
        decision_decide(decision=decision, by=org.admin, approve=True)
    meeting = meeting_conclude(meeting=meeting, by=org.admin)
    period_lock(period="2026-02", by=org.admin, reason="February is audited")
    february = result("revenue", "2026-02").target

    applied, problems, refused = decisions_apply_all(meeting=meeting, by=org.admin)

    assert (applied, problems) == (1, [])
    assert len(refused) == 1
    assert refused[0].startswith(str(stopped))
    assert "2026-02 is closed" in refused[0]
    assert Decision.objects.get(pk=stopped.pk).status == DecisionStatus.APPROVED
    assert Decision.objects.get(pk=going.pk).status == DecisionStatus.APPLIED
    assert result("revenue", "2026-01").target == Decimal(70)
    assert result("revenue", "2026-02").target == february


def test_only_the_chair_or_an_admin_applies_all_and_only_once_decided(
    org: Organisation, meeting: Meeting
) -> None:
    meeting = started(org, meeting)
    decision_decide(decision=keep(org, meeting), by=org.admin, approve=True)
    refused(lambda: decisions_apply_all(meeting=meeting, by=org.admin), "status")
    meeting = meeting_conclude(meeting=meeting, by=org.admin)
    with pytest.raises(NotAllowed):
        decisions_apply_all(meeting=meeting, by=org.manager)
    assert decisions_apply_all(meeting=meeting, by=org.admin) == (1, [], [])


# -- the agenda by hand, notes and attendance ---------------------------------------------


def test_an_organiser_adds_points_and_kpis_to_the_agenda_at_its_end(
    org: Organisation, meeting: Meeting
) -> None:
    refused(lambda: agenda_item_add(meeting=meeting, by=org.admin, title="  "), "title")
    with pytest.raises(NotAllowed):
        agenda_item_add(meeting=meeting, by=org.member, title="Mine")
    with audit_rows() as written:
        point = agenda_item_add(meeting=meeting, by=org.admin, title=" Budget for Q2 ")
    assert written == ["review.agenda.add"]
    assert (point.title, point.reason, point.position, point.added_by) == (
        "Budget for Q2",
        AgendaReason.ADDED,
        0,
        org.admin,
    )
    item = agenda_item_add(meeting=meeting, by=org.admin, kpi=kpi("conversion"))
    assert item.position == 1
    refused(lambda: agenda_item_add(meeting=meeting, by=org.admin, kpi=kpi("conversion")), "kpi")


def test_the_agenda_is_reordered_with_every_item_once(org: Organisation, meeting: Meeting) -> None:
    meeting = prepared(org, meeting)
    point = agenda_item_add(meeting=meeting, by=org.admin, title="Budget")
    items = [item.pk for item in agenda(meeting)]
    assert len(items) == 3
    wanted = [items[2], items[0], items[1]]
    with audit_rows() as written:
        agenda_reorder(meeting=meeting, by=org.admin, order=wanted)
    assert written == ["review.agenda.reorder"]
    assert [item.pk for item in agenda(meeting)] == wanted
    assert agenda(meeting)[0] == point
    entry = AuditEntry.objects.get(action="review.agenda.reorder")
    assert (entry.before["order"], entry.after["order"]) == (items, wanted)
    for bad in ([items[0], items[1]], [*wanted, wanted[0]], [items[0], items[0], items[1]]):
        refused(lambda bad=bad: agenda_reorder(meeting=meeting, by=org.admin, order=bad), "order")
    with pytest.raises(NotAllowed):
        agenda_reorder(meeting=meeting, by=org.manager, order=items)


def test_an_item_moves_up_and_down_and_stops_at_the_ends(
    org: Organisation, meeting: Meeting
) -> None:
    meeting = prepared(org, meeting)
    agenda_item_add(meeting=meeting, by=org.admin, title="Budget")
    first, second, third = agenda(meeting)
    with audit_rows() as written:
        agenda_item_move(item=third, by=org.admin, offset=-1)
    assert written == ["review.agenda.reorder"]
    assert agenda(meeting) == [first, third, second]
    agenda_item_move(item=first, by=org.admin, offset=-5)
    assert agenda(meeting) == [first, third, second]
    agenda_item_move(item=first, by=org.admin, offset=10)
    assert agenda(meeting) == [third, second, first]
    with pytest.raises(NotAllowed):
        agenda_item_move(item=first, by=org.member, offset=-1)


def test_items_are_taken_off_the_agenda_only_before_the_meeting(
    org: Organisation, meeting: Meeting
) -> None:
    meeting = prepared(org, meeting)
    first, second = agenda(meeting)
    with pytest.raises(NotAllowed):
        agenda_item_remove(item=first, by=org.manager)
    with audit_rows() as written:
        agenda_item_remove(item=first, by=org.admin)
    assert written == ["review.agenda.remove"]
    assert agenda(meeting) == [second]
    meeting = meeting_start(meeting=meeting, by=org.admin)
    refused(lambda: agenda_item_remove(item=second, by=org.admin), "status")


def test_notes_are_saved_against_the_version_read(org: Organisation, meeting: Meeting) -> None:
    meeting = prepared(org, meeting)
    item = agenda(meeting)[0]
    with audit_rows() as written:
        saved = item_notes_save(
            item=item, by=org.member, notes=" Leads from the fair ", expected_version=item.version
        )
    assert written == ["review.agenda.notes"]
    assert (saved.notes, saved.version) == ("Leads from the fair", item.version + 1)
    before = fingerprint()
    with pytest.raises(ConflictError):
        item_notes_save(item=item, by=org.manager, notes="Mine", expected_version=item.version)
    assert fingerprint() == before
    saved = item_notes_save(item=item, by=org.manager, notes="Both", expected_version=saved.version)
    assert saved.notes == "Both"
    meeting = meeting_conclude(meeting=meeting_start(meeting=meeting, by=org.admin), by=org.admin)
    refused(lambda: item_notes_save(item=item, by=org.admin, notes="late"), "status")


def test_attendance_lists_who_came_among_the_invited(org: Organisation, meeting: Meeting) -> None:
    meeting = started(org, meeting)
    refused(
        lambda: attendance_record(meeting=meeting, by=org.admin, present=[org.viewer.pk]),
        "present",
    )
    with audit_rows() as written:
        attendance_record(meeting=meeting, by=org.member, present=[org.admin.pk, org.member.pk])
    assert written == ["review.meeting.attendance"]
    came = {row.person: row.attended for row in attendance(meeting)}
    assert came == {org.admin: True, org.manager: False, org.member: True, org.other_manager: False}
    attendance_record(meeting=meeting, by=org.admin, present=[org.manager.pk])
    assert Participant.objects.get(meeting=meeting, person=org.member).attended is False


# -- actions and minutes -----------------------------------------------------------------


def action_of(org: Organisation, meeting: Meeting) -> Action:
    meeting, decision = decided(
        org,
        meeting,
        DecisionKind.ASSIGN_ACTION,
        kpi_key="conversion",
        details={"title": "Call the lost leads", "owner": org.member.pk, "due": "2026-05-31"},
    )
    applied, _ = decision_apply(decision=decision, by=org.admin)
    return Action.objects.get(pk=applied.outcome["action"])


def test_the_owner_closes_an_action_once(org: Organisation, meeting: Meeting) -> None:
    action = action_of(org, meeting)
    with pytest.raises(NotAllowed):
        action_close(action=action, by=org.other_manager)
    refused(lambda: action_close(action=action, by=org.member, status="open"), "status")
    refused(lambda: action_close(action=action, by=org.member, status="dropped"), "note")
    with audit_rows() as written:
        closed = action_close(action=action, by=org.member, note=" called all 12 ")
    assert written == ["review.action.close"]
    assert (closed.status, closed.closed_by, closed.closing_note) == (
        ActionStatus.DONE,
        org.member,
        "called all 12",
    )
    refused(lambda: action_close(action=action, by=org.admin), "status")


def test_the_chair_drops_an_action_saying_why(org: Organisation, meeting: Meeting) -> None:
    action = action_of(org, meeting)
    closed = action_close(action=action, by=org.admin, status="dropped", note="not needed")
    assert closed.status == ActionStatus.DROPPED


def test_sending_the_minutes_is_recorded(org: Organisation, meeting: Meeting) -> None:
    meeting, _ = decided(org, meeting, DecisionKind.KEEP, kpi_key="conversion")
    with pytest.raises(NotAllowed):
        minutes_sent(meeting=meeting, by=org.member, recipients=[])
    with audit_rows() as written:
        sent = minutes_sent(meeting=meeting, by=org.admin, recipients=["nora@example.com"])
    assert written == ["review.minutes.send"]
    assert sent.minutes_sent_at is not None


def test_a_meeting_reminds_owners_zero_or_more_days_before(
    org: Organisation, meeting: Meeting
) -> None:
    refused(
        lambda: meeting_update(meeting=meeting, by=org.admin, remind_days_before=-1),
        "remind_days_before",
    )
