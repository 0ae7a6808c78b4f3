from __future__ import annotations

from decimal import Decimal

from headway.audit.models import AuditEntry
from headway.kpis.models import Kpi, TargetVersion
from headway.results.models import Result
from headway.reviews.choices import DecisionKind, DecisionStatus, MeetingStatus
from headway.reviews.models import AgendaItem, Meeting
from headway.reviews.services import (
    comment_add,
    decision_apply,
    decision_decide,
    decision_record,
    meeting_close,
    meeting_conclude,
    meeting_prepare,
    meeting_start,
)
from tests.app.conftest import Organisation
from tests.reviews.conftest import TODAY


def test_a_review_lowers_a_target_from_a_later_period(org: Organisation, meeting: Meeting) -> None:
    meeting = meeting_prepare(meeting=meeting, by=org.admin, today=TODAY)
    items = list(AgendaItem.objects.filter(meeting=meeting))
    assert {item.kpi.key for item in items if item.kpi} == {"conversion", "revenue"}
    conversion = Kpi.objects.get(key="conversion")
    comment_add(meeting=meeting, kpi=conversion, by=org.manager, text="Too high for us")
    meeting = meeting_start(meeting=meeting, by=org.admin)
    decision = decision_record(
        meeting=meeting,
        by=org.manager,
        kind=DecisionKind.CHANGE_TARGET,
        reason="out of reach",
        kpi=conversion,
        details={"value": "0.4", "effective_from": "2026-02"},
    )
    assert decision.details["previous"] == "0.5000000000"
    decision = decision_decide(decision=decision, by=org.admin, approve=True)
    meeting = meeting_conclude(meeting=meeting, by=org.admin)
    decision, problems = decision_apply(decision=decision, by=org.admin)
    assert problems == []
    assert decision.status == DecisionStatus.APPLIED
    version = TargetVersion.objects.get(pk=decision.outcome["target_version"])
    assert version.origin_reference == f"review-decision:{decision.pk}"
    february = Result.objects.get(kpi=conversion, period="2026-02", group_value="")
    assert february.target == Decimal("0.4")
    meeting = meeting_close(meeting=meeting, by=org.admin)
    assert meeting.status == MeetingStatus.CLOSED
    assert AuditEntry.objects.filter(action="review.decision.apply").count() == 1
