"""Reviews driven at random by hypothesis: meetings prepared, started, concluded and
closed by the right person or the wrong one, decisions of every kind recorded with random
values, approved or rejected by the chair or someone else, applied, withdrawn; periods
closed and reopened; results recomputed. Whatever the order, the history holds:

- target versions are only ever added (earlier rows keep their ids and values);
- every applied decision has exactly one "review.decision.apply" audit entry, and none is
  applied twice;
- the Results of a closed period never change while it is closed;
- a meeting's status only moves forward (planned → preparing → in meeting → decided →
  closed), and so does a decision's.

Each example runs inside a transaction rolled back at its end, on the organisation the
module builds once (tests/reviews/conftest.py)."""

from __future__ import annotations

import datetime
from collections import Counter
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from headway.audit.errors import ConflictError, NotAllowed
from headway.audit.models import AuditEntry
from headway.kpis.models import TargetVersion
from headway.results.locks import period_lock, period_reopen
from headway.results.models import PeriodLock, Result
from headway.results.services import results_recompute
from headway.reviews.choices import DecisionKind, DecisionStatus, MeetingStatus
from headway.reviews.models import Decision, Meeting
from headway.reviews.services import (
    comment_add,
    cycle_create,
    decision_apply,
    decision_decide,
    decision_record,
    decision_withdraw,
    decisions_apply_all,
    meeting_close,
    meeting_conclude,
    meeting_create,
    meeting_prepare,
    meeting_start,
)
from tests.app.conftest import Organisation
from tests.reviews.conftest import TODAY, at, kpi

MEETING_ORDER = [status.value for status in MeetingStatus]
# A decision moves proposed → approved → applied, or ends rejected (by the chair, or
# withdrawn once approved when it cannot be applied).
DECISION_NEXT = {
    DecisionStatus.PROPOSED: {DecisionStatus.APPROVED, DecisionStatus.REJECTED},
    DecisionStatus.APPROVED: {DecisionStatus.APPLIED, DecisionStatus.REJECTED},
    DecisionStatus.APPLIED: set(),
    DecisionStatus.REJECTED: set(),
}
EXPECTED = (ValidationError, NotAllowed, ConflictError)

# The chair (the admin) acts most often, so that meetings get somewhere; the others are
# there to be refused (or, for the participants, to record).
people = st.sampled_from(["admin", "admin", "admin", "nora", "mark", "sam", "vera"])
kpis = st.sampled_from(["conversion", "revenue"])
months = st.sampled_from(["2026-02", "2026-01", "2026-03", "2026-04", "2026-Q2", "2026-13"])
values = st.decimals(min_value=0, max_value=200, places=2).map(str)
picks = st.integers(min_value=0, max_value=5)
chairs_mostly = st.sampled_from(["admin", "admin", "admin", "nora", "mark"])
# Hypothesis starts from the first value of a list: the one that gets somewhere.
yes_mostly = st.sampled_from([True, True, False])
participants_mostly = st.sampled_from(["admin", "nora", "mark", "nora", "sam", "vera"])
decisions_of_every_kind = st.one_of(
    st.tuples(
        st.just(DecisionKind.CHANGE_TARGET),
        kpis,
        st.fixed_dictionaries({"value": values, "effective_from": months}),
    ),
    st.tuples(st.just(DecisionKind.KEEP), kpis, st.just({})),
    st.tuples(
        st.just(DecisionKind.CHANGE_KPI),
        kpis,
        st.fixed_dictionaries(
            {
                "changes": st.fixed_dictionaries(
                    {
                        "threshold_green": st.sampled_from(["1", "0.8", "0.5"]),
                        "threshold_amber": st.sampled_from(["0.9", "0.7", "0.95"]),
                    },
                    optional={"formula": st.sampled_from(["won / leads", "won", "won / x"])},
                )
            }
        ),
    ),
    st.tuples(st.just(DecisionKind.RETIRE_KPI), kpis, st.just({})),
    st.tuples(
        st.just(DecisionKind.ADD_KPI),
        st.none(),
        st.fixed_dictionaries(
            {
                "formula": st.just("won"),
                "unit": st.just("count"),
                "grain": st.just("month"),
                "direction": st.just("up"),
                "team": st.just("north"),
                "target": values,
                "target_from": months,
            }
        ),
    ),
    st.tuples(
        st.just(DecisionKind.ASSIGN_ACTION),
        st.one_of(st.none(), kpis),
        st.fixed_dictionaries(
            {"title": st.just("Look into it"), "due": st.sampled_from(["2026-05-31", "soon"])}
        ),
    ),
)


def status_in(*statuses: str) -> Any:
    """A rule's precondition: the current meeting is in one of `statuses`."""
    return precondition(lambda machine: machine.meeting.status in statuses)


def result_rows(start: datetime.date, end: datetime.date) -> dict[int, tuple[Any, ...]]:
    return {
        row[0]: row[1:]
        for row in Result.objects.filter(period_start__gte=start, period_start__lte=end)
        .filter(period__regex=r"^\d{4}-\d{2}$")
        .values_list("pk", "kpi_id", "period", "group_value", "value", "target", "computed_at")
    }


class ReviewMachine(RuleBasedStateMachine):
    org: Organisation
    decisions = Bundle("decisions")

    def __init__(self) -> None:
        super().__init__()
        self.outer = transaction.atomic()
        self.outer.__enter__()
        org = self.org
        self.people = {
            "admin": org.admin,
            "nora": org.manager,
            "mark": org.member,
            "sam": org.other_manager,
            "vera": org.viewer,
        }
        self.cycle = cycle_create(by=org.admin, period="2026-Q1")
        self.meetings = 0
        self.added = 0
        self.meeting = self.new_meeting()
        self.targets = self.target_rows()
        self.closed: dict[int, dict[int, tuple[Any, ...]]] = {}
        self.meeting_status: dict[int, int] = {}
        self.decision_status: dict[int, str] = {}

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self.outer.__exit__(None, None, None)

    # -- helpers -----------------------------------------------------------------------

    def new_meeting(self) -> Meeting:
        self.meetings += 1
        return meeting_create(
            by=self.org.admin,
            cycle=self.cycle,
            title=f"Review {self.meetings}",
            scheduled_at=at(2026, 4, 10 + self.meetings),
            chair=self.org.admin,
            participants=[self.org.manager, self.org.member, self.org.viewer],
        )

    def attempt(self, call: Any, **arguments: Any) -> Any:
        """Calls a service; the refusals it is allowed to answer with are expected."""
        try:
            return call(**arguments)
        except EXPECTED:
            return None
        finally:
            self.meeting.refresh_from_db()

    @staticmethod
    def target_rows() -> dict[int, tuple[Any, ...]]:
        return {
            row[0]: row[1:]
            for row in TargetVersion.objects.values_list(
                "pk",
                "kpi_id",
                "effective_from",
                "value",
                "where_dimension",
                "where_value",
                "reason",
                "origin_reference",
            )
        }

    # -- the meeting ----------------------------------------------------------------

    @initialize(
        target=decisions,
        batch=st.lists(st.tuples(decisions_of_every_kind, yes_mostly), min_size=1, max_size=4),
    )
    def begin(self, batch: list[tuple[tuple[str, str | None, dict[str, Any]], bool]]) -> Any:
        """The first meeting starts in session with a few decisions recorded, most of
        them approved by the chair; the meetings after it start planned."""
        meeting_prepare(meeting=self.meeting, by=self.org.admin, today=TODAY)
        meeting_start(meeting=self.meeting, by=self.org.admin)
        self.meeting.refresh_from_db()
        recorded = []
        for what, approve in batch:
            decision = self.record_one("nora", what)
            if decision is not None:
                self.attempt(
                    decision_decide,
                    decision=decision,
                    by=self.org.admin,
                    approve=approve,
                    note="Not now",
                )
                recorded.append(decision)
        return multiple(*recorded)

    def record_one(self, who: str, what: tuple[str, str | None, dict[str, Any]]) -> Any:
        kind, key, details = what
        if kind == DecisionKind.ADD_KPI:
            self.added += 1
            details = {**details, "key": f"added_{self.added}", "name": f"Added {self.added}"}
        if kind == DecisionKind.ASSIGN_ACTION:
            details = {**details, "owner": self.org.member.pk}
        return self.attempt(
            decision_record,
            meeting=self.meeting,
            by=self.people[who],
            kind=kind,
            reason=f"{kind} because the numbers say so",
            kpi=kpi(key) if key else None,
            details=details,
        )

    @status_in(MeetingStatus.PLANNED, MeetingStatus.PREPARING)
    @rule(who=chairs_mostly, today=st.sampled_from([TODAY, datetime.date(2026, 4, 14)]))
    def prepare(self, who: str, today: datetime.date) -> None:
        self.attempt(meeting_prepare, meeting=self.meeting, by=self.people[who], today=today)

    @status_in(MeetingStatus.PREPARING, MeetingStatus.IN_MEETING)
    @rule(who=people, key=kpis)
    def comment(self, who: str, key: str) -> None:
        self.attempt(
            comment_add, meeting=self.meeting, kpi=kpi(key), by=self.people[who], text="Noted"
        )

    @status_in(MeetingStatus.PREPARING)
    @rule(who=chairs_mostly)
    def start(self, who: str) -> None:
        self.attempt(meeting_start, meeting=self.meeting, by=self.people[who])

    @status_in(MeetingStatus.IN_MEETING)
    @rule(who=chairs_mostly, approve_the_rest=yes_mostly)
    def conclude(self, who: str, approve_the_rest: bool) -> None:
        """The chair answers what still waits, then someone concludes."""
        for decision in Decision.objects.filter(
            meeting=self.meeting, status=DecisionStatus.PROPOSED
        ):
            self.attempt(
                decision_decide,
                decision=decision,
                by=self.org.admin,
                approve=approve_the_rest,
                note="Out of time",
            )
        self.attempt(meeting_conclude, meeting=self.meeting, by=self.people[who])

    @status_in(MeetingStatus.DECIDED)
    @rule(who=chairs_mostly, clicks=st.sampled_from([1, 2, 0]))
    def close(self, who: str, clicks: int) -> None:
        """The chair applies the approved decisions one by one (clicking twice, or not at
        all), then someone closes the meeting."""
        for decision in Decision.objects.filter(
            meeting=self.meeting, status=DecisionStatus.APPROVED
        ).order_by("pk"):
            for _ in range(clicks):
                self.attempt(decision_apply, decision=decision, by=self.org.admin)
        self.attempt(meeting_close, meeting=self.meeting, by=self.people[who])

    @status_in(MeetingStatus.CLOSED)
    @rule()
    def next_meeting(self) -> None:
        self.meeting = self.new_meeting()

    @rule(
        who=people,
        step=st.sampled_from(["prepare", "start", "conclude", "close", "apply all"]),
    )
    def out_of_turn(self, who: str, step: str) -> None:
        """Anyone tries any step, whatever the meeting's status: refused, or taken."""
        by, meeting = self.people[who], self.meeting
        if step == "prepare":
            self.attempt(meeting_prepare, meeting=meeting, by=by, today=TODAY)
        elif step == "start":
            self.attempt(meeting_start, meeting=meeting, by=by)
        elif step == "conclude":
            self.attempt(meeting_conclude, meeting=meeting, by=by)
        elif step == "close":
            self.attempt(meeting_close, meeting=meeting, by=by)
        else:
            self.attempt(decisions_apply_all, meeting=meeting, by=by)

    # -- decisions -----------------------------------------------------------------------

    @status_in(MeetingStatus.IN_MEETING)
    @rule(target=decisions, who=participants_mostly, what=decisions_of_every_kind)
    def record(self, who: str, what: tuple[str, str | None, dict[str, Any]]) -> Any:
        decision = self.record_one(who, what)
        return multiple(decision) if decision is not None else multiple()

    @rule(decision=decisions, approve=yes_mostly, who=chairs_mostly)
    def decide(self, decision: Decision, approve: bool, who: str) -> None:
        self.attempt(
            decision_decide,
            decision=decision,
            by=self.people[who],
            approve=approve,
            note="" if approve else "Not now",
        )

    @rule(decision=decisions, who=chairs_mostly)
    def apply(self, decision: Decision, who: str) -> None:
        self.attempt(decision_apply, decision=decision, by=self.people[who])

    @rule(decision=decisions)
    def withdraw(self, decision: Decision) -> None:
        self.attempt(
            decision_withdraw, decision=decision, by=self.org.admin, note="Cannot be applied"
        )

    # -- closed periods and recomputes ---------------------------------------------------

    @rule(month=st.sampled_from(["2026-01", "2026-02", "2026-03"]))
    def close_period(self, month: str) -> None:
        lock = self.attempt(period_lock, period=month, by=self.org.admin, reason="audited")
        if lock is not None:
            self.closed[lock.pk] = result_rows(lock.start, lock.end)

    @rule(pick=picks)
    def reopen_period(self, pick: int) -> None:
        locks = list(PeriodLock.objects.filter(reopened_at__isnull=True).order_by("pk"))
        if locks:
            lock = locks[pick % len(locks)]
            self.attempt(period_reopen, lock=lock, by=self.org.admin, reason="the review")
            self.closed.pop(lock.pk, None)

    @precondition(lambda self: bool(self.closed))
    @rule()
    def recompute(self) -> None:
        """A full recompute while periods are closed (applying a decision recomputes the
        KPI it changed in any case)."""
        results_recompute(by=None)

    # -- what always holds -----------------------------------------------------------------

    @invariant()
    def target_versions_are_only_added(self) -> None:
        now = self.target_rows()
        for pk, row in self.targets.items():
            assert now.get(pk) == row, f"target version {pk} changed or went"
        self.targets = now

    @invariant()
    def each_applied_decision_has_one_apply_entry(self) -> None:
        applied = set(
            Decision.objects.filter(status=DecisionStatus.APPLIED).values_list("pk", flat=True)
        )
        entries = Counter(
            AuditEntry.objects.filter(action="review.decision.apply").values_list(
                "object_id", flat=True
            )
        )
        assert {int(pk) for pk in entries} == applied
        assert set(entries.values()) <= {1}

    @invariant()
    def nothing_is_written_twice_for_a_decision(self) -> None:
        references = Counter(
            TargetVersion.objects.filter(
                origin_reference__startswith="review-decision:"
            ).values_list("origin_reference", flat=True)
        )
        assert set(references.values()) <= {1}

    @invariant()
    def closed_periods_keep_their_results(self) -> None:
        for pk, rows in self.closed.items():
            lock = PeriodLock.objects.get(pk=pk)
            assert result_rows(lock.start, lock.end) == rows, f"{lock.period} changed"

    @invariant()
    def meetings_only_move_forward(self) -> None:
        for pk, status in Meeting.objects.values_list("pk", "status"):
            step = MEETING_ORDER.index(status)
            assert step >= self.meeting_status.get(pk, 0), f"meeting {pk} went back to {status}"
            self.meeting_status[pk] = step

    @invariant()
    def decisions_only_move_forward(self) -> None:
        for pk, status in Decision.objects.values_list("pk", "status"):
            before = self.decision_status.get(pk, DecisionStatus.PROPOSED)
            assert status == before or status in DECISION_NEXT[DecisionStatus(before)]
            self.decision_status[pk] = status


def test_reviews_keep_their_history_whatever_the_order(org: Organisation) -> None:
    ReviewMachine.org = org
    run_state_machine_as_test(
        ReviewMachine,
        settings=settings(
            max_examples=30,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
