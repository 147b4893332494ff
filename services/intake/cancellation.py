"""An operator cancelled a process instance (``process.cancelled``, published by the engine): the
proposal or opinion item it ran for is closed too, and the people concerned are told.

| process | business key | status | history | told (``notify.<kind>``) |
|---|---|---|---|---|
| ``proposal`` | the proposal's number | ``cancelled`` | a ``handling`` line (``event: process.cancelled``, reason, by) | its proposers: ``proposal_cancelled``; co-signers still invited: ``cosign_cancelled``; the proposers of proposals merged into it, and the committee and staff (``role:committee``, ``role:staff``), for each of those: ``merged_main_cancelled`` (each is unmerged and back to the filing decision); a published proposal whose category B follow-up was awaited: ``followup_stopped`` (its public record says ``followup_status: stopped``) |
| ``opinion`` | the opinion item's number | ``cancelled`` | a ``cancelled`` line (reason, by) | its submitter: ``opinion.cancelled``; each department with a forward still open (``unit:<code>``): ``opinion.cancelled`` |
| ``micro_consultation`` | the case's number (the thread of what was opened from it) | unchanged: the items and proposals opened from the case carry on in their own processes | an ``origin_case_cancelled`` line (case, reason, by) on each without its outcome yet | an item's submitter: ``opinion.origin_case_cancelled``; a proposal's proposers: ``origin_case_cancelled`` |

A proposal cancelled while co-signing closes its open invitations: each co-signer still ``invited``
becomes ``cancelled`` (not among its proposers; still able to read it) and is told; a later confirmation is
refused naming the cancellation. An opinion item cancelled while forwarded closes the forwards not
answered yet (``forwarded`` or ``overdue`` become ``cancelled``): each of those departments is told
it need not answer. A cancelled item takes no more commands nor jobs
(``opinion_records.refuse_if_cancelled``).

A proposal merged into the cancelled one is unmerged: it is ``pre_review`` again, without a
decision, and its process hears ``merge_main_cancelled``, which leads it back to the committee's
filing decision (``bpmn/proposal.bpmn``). Its proposers are told the committee will decide on it
again, and the committee and staff get a notice naming it, the proposal it was merged into and the
reason.

An item or proposal whose case was cancelled no longer sends its outcome to that case (nothing
waits for it there: ``case_outcome.case_was_cancelled``).

A proposal or item opened from a micro-consultation case also tells the case (``converted_outcome``
with ``outcome: cancelled`` and the reason), which would otherwise wait out the rulebook's
``conversion_outcome`` for an outcome that will never come.

A record already final keeps its status (a proposal published, merged, not filed or cancelled; an
item not adopted, handled, turned into a proposal, cancelled, or whose tracking closed). Another
process, an instance without a business key, or a number intake does not know changes nothing
(logged). Heard twice, the second changes nothing. Cancelling is final whatever the order the events
arrive in: a ``handling.*`` event heard before the cancellation, even a later one, does not keep it
from applying, and one heard after moves nothing (``progress.IN_HANDLING`` has no ``cancelled``) and
tells nobody. A payload that is not :class:`contracts.ProcessCancelledSchema` is refused
(``InvalidInput``: the message is dead-lettered with the reason).
"""

from __future__ import annotations

import logging
from typing import Any

from shared import clock, contracts
from shared.contracts import messages
from shared.validation import load
from shared.names import member_called

from . import case_outcome
from .models import OpinionItem, Proposal
from .opinion_records import by_number as opinion_by_number
from .opinion_records import events_of as opinion_events_of
from .opinion_records import record as record_opinion
from .opinion_records import tell as tell_submitter
from .records import by_number, notice, notify, proposers, record_event, tell
from .unit_of_work import IntakeUnitOfWork

log = logging.getLogger(__name__)

CANCELLED = "cancelled"
# A proposal in one of these has its outcome: a cancelled process leaves it as it is.
PROPOSAL_FINAL = ("published", "merged", "not_filed", CANCELLED)
# An opinion item in one of these has its outcome (so has one whose tracking closed: ``closed`` line).
OPINION_FINAL = ("not_adopted", "handled", "converted", CANCELLED)
# A forward a department has still to answer: closed (``cancelled``) with its item.
OPEN_FORWARD = ("forwarded", "overdue")
# The micro-consultation's process; its business key is the case's number, which is also the
# thread of every item and proposal opened from the case.
CASE_PROCESS = "micro_consultation"
CASE_CANCELLED = case_outcome.CASE_CANCELLED


def hear(uow: IntakeUnitOfWork, event: dict[str, Any]) -> dict[str, Any]:
    """Apply one ``process.cancelled`` event (``event``: loaded :class:`contracts.EventSchema`)."""
    data = load(contracts.ProcessCancelledSchema, event["payload"], "the process.cancelled payload")
    number = data["business_key"]
    if data["process_id"] == CASE_PROCESS and number:
        return _case_cancelled(uow, event["event_id"], clock.as_utc(event["occurred_at"]).isoformat(), number, data)
    if data["process_id"] not in ("proposal", "opinion") or not number:
        log.info("process.cancelled of %s (%s): nothing of intake's", data["instance_id"], data["process_id"])
        return {"applied": False, "reason": "not intake's"}
    at = clock.as_utc(event["occurred_at"]).isoformat()
    if data["process_id"] == "proposal":
        return _cancel_proposal(uow, event["event_id"], at, number, data)
    return _cancel_opinion(uow, event["event_id"], at, number, data)


def _ignored(kind: str, number: str, reason: str) -> dict[str, Any]:
    log.info("process.cancelled of %s %s: %s, nothing changed", kind, number, reason)
    return {"applied": False, "reason": reason}


def _cancel_proposal(
    uow: IntakeUnitOfWork, event_id: str, at: str, number: str, data: dict[str, Any]
) -> dict[str, Any]:
    proposal = by_number(uow, number, lock=True)
    if proposal is None:
        return _ignored("proposal", number, "no such proposal")
    heard = uow.proposals.lines_of(proposal, "handling")
    if any(line.get("event_id") == event_id for line in heard):
        return _ignored("proposal", number, "heard before")
    if proposal.status == "published":
        return _stop_followup(uow, proposal, event_id, at, data)
    if proposal.status in PROPOSAL_FINAL:
        return _ignored("proposal", number, f"already {proposal.status}")
    was = proposal.status
    proposal.status = CANCELLED
    invited = [c for c in proposal.cosigners if c.status == "invited"]
    for signer in invited:
        signer.status = CANCELLED
    _line(
        uow,
        proposal,
        event_id,
        at,
        data,
        status=CANCELLED,
        was=was,
        instance_id=data["instance_id"],
        invitations_closed=[c.user for c in invited],
    )
    title = f"{proposal.number}《{proposal.title}》"
    tell(
        uow,
        [
            notice(
                uow,
                proposal,
                proposers(proposal),
                f"您的提案 {title}的办理流程已被撤销，提案不再继续办理。原因：{data['reason']}",
                kind="proposal_cancelled",
            ),
            notice(
                uow,
                proposal,
                [c.user for c in invited],
                f"{member_called(proposal.initiator)} 邀请您联名的提案 {title}的办理流程已被撤销，联名邀请随之关闭，无需再确认。"
                f"原因：{data['reason']}",
                kind="cosign_cancelled",
            ),
        ],
    )
    _tell_merged(uow, proposal, event_id, at, data)
    case_outcome.cancelled(uow, proposal, f"办理流程已撤销：{data['reason']}")
    uow.flush()
    return {"applied": True, "status": proposal.status}


def _line(
    uow: IntakeUnitOfWork, proposal: Proposal, event_id: str, at: str, data: dict[str, Any], **facts: Any
) -> None:
    """The ``handling`` line a cancellation leaves in ``proposal``'s history (the case thread shows
    it, and a redelivery finds it by ``event_id``): the event, when, who and why, and ``facts``."""
    record_event(
        uow,
        proposal,
        data["by"],
        "handling",
        {
            "event_id": event_id,
            "event": contracts.PROCESS_CANCELLED,
            "occurred_at": at,
            **facts,
            "reason": data["reason"],
            "by": data["by"],
        },
    )


def _stop_followup(
    uow: IntakeUnitOfWork, proposal: Proposal, event_id: str, at: str, data: dict[str, Any]
) -> dict[str, Any]:
    """A published proposal stays published; if its category B reply still waited for the unit's
    follow-up, the public record says the follow-up was stopped (``followup_status: stopped``), a
    ``handling`` line says why, and its proposers are told (``followup_stopped``)."""
    row = uow.proposals.publication_of(proposal)
    if row is None or row.followup_status != "pending":
        return _ignored("proposal", proposal.number, "already published, no follow-up awaited")
    row.followup_status = "stopped"
    _line(uow, proposal, event_id, at, data, status=None, followup="stopped", instance_id=data["instance_id"])
    notify(
        uow,
        proposal,
        proposers(proposal),
        f"您的提案 {proposal.number}《{proposal.title}》的办理流程已被撤销：已公开的答复保留，"
        f"承办单位不再报送后续办理情况。原因：{data['reason']}",
        kind="followup_stopped",
    )
    uow.flush()
    return {"applied": True, "status": proposal.status, "followup_status": "stopped"}


def _tell_merged(uow: IntakeUnitOfWork, proposal: Proposal, event_id: str, at: str, data: dict[str, Any]) -> None:
    """Proposals merged into ``proposal`` were to be answered with it. Each is unmerged and goes
    back to the committee's filing decision: its status is ``pre_review`` again (no decision, not
    merged), a line in its history says why, its process hears ``merge_main_cancelled`` (the
    diagram leads it back to ``filing_decision``), its proposers learn the committee will decide
    on it again, and the committee and staff that it waits for their decision."""
    for other in uow.proposals.merged_into(proposal.number):
        other.status, other.decision, other.merged_into = "pre_review", None, None
        other.decided_by, other.decided_at = None, None
        _line(uow, other, event_id, at, data, status="pre_review", main=proposal.number, unmerged=True)
        uow.send_message(
            messages.MERGE_MAIN_CANCELLED,
            other.number,
            f"merge-main-cancelled-{other.number}",
            {"main": proposal.number, "reason": data["reason"]},
        )
        tell(
            uow,
            [
                notice(
                    uow,
                    other,
                    proposers(other),
                    f"与您的提案 {other.number}《{other.title}》并案办理的提案 {proposal.number} 的办理流程已被撤销，"
                    f"您的提案已撤销并案，重新交提案委员会作出立案决定，结果将另行告知。原因：{data['reason']}",
                    kind="merged_main_cancelled",
                ),
                notice(
                    uow,
                    other,
                    ["role:committee", "role:staff"],
                    f"提案 {other.number}《{other.title}》原并入提案 {proposal.number} 办理，"
                    f"而提案 {proposal.number} 的办理流程已被撤销（原因：{data['reason']}）。"
                    f"提案 {other.number} 已撤销并案，重新回到立案审查，请提案委员会重新作出立案决定。",
                    kind="merged_main_cancelled",
                ),
            ],
        )


def _cancel_opinion(uow: IntakeUnitOfWork, event_id: str, at: str, number: str, data: dict[str, Any]) -> dict[str, Any]:
    item = opinion_by_number(uow, number, lock=True)
    if item is None:
        return _ignored("opinion item", number, "no such opinion item")
    lines = opinion_events_of(uow, item)
    if any((line.data or {}).get("event_id") == event_id for line in lines):
        return _ignored("opinion item", number, "heard before")
    if item.status in OPINION_FINAL or any(line.action == "closed" for line in lines):
        return _ignored("opinion item", number, f"already {item.status}")
    was = item.status
    item.status = CANCELLED
    open_forwards = [f for f in uow.opinions.forwards_of(item) if f.status in OPEN_FORWARD]
    for row in open_forwards:
        row.status = CANCELLED
    record_opinion(
        uow,
        item,
        data["by"],
        CANCELLED,
        {
            "event_id": event_id,
            "event": contracts.PROCESS_CANCELLED,
            "occurred_at": at,
            "was": was,
            "instance_id": data["instance_id"],
            "reason": data["reason"],
            "by": data["by"],
            "forwards_closed": [f.unit for f in open_forwards],
        },
    )
    tell_submitter(
        uow,
        item,
        CANCELLED,
        data["instance_id"],
        f"社情民意信息 {item.number} 的办理流程已撤销",
        f"该信息不再继续处理。原因：{data['reason']}",
    )
    _tell_units(uow, item, [f.unit for f in open_forwards], data)
    case_outcome.cancelled(uow, item, f"办理流程已撤销：{data['reason']}")
    uow.flush()
    return {"applied": True, "status": item.status}


def _tell_units(uow: IntakeUnitOfWork, item: OpinionItem, units: list[str], data: dict[str, Any]) -> None:
    """Each department whose forward of ``item`` was still open learns it need not answer
    (``notify.opinion.cancelled`` to ``unit:<code>``, one each)."""
    for unit in units:
        tell_submitter(
            uow,
            item,
            CANCELLED,
            f"{data['instance_id']}:unit:{unit}",
            f"社情民意信息 {item.number}《{item.title}》的办理流程已撤销",
            f"转贵单位办理的该信息已撤销转办，无需再答复。原因：{data['reason']}",
            recipients=[f"unit:{unit}"],
        )


def _case_cancelled(uow: IntakeUnitOfWork, event_id: str, at: str, case: str, data: dict[str, Any]) -> dict[str, Any]:
    """The micro-consultation case ``case`` was cancelled. The opinion items and proposals opened
    from it (on its thread, naming it) carry on: they are the member's, in their own processes. Each one without
    its outcome yet keeps a line saying so (:data:`CASE_CANCELLED`), so its outcome is not sent to the
    cancelled case (:func:`case_outcome.case_was_cancelled`), and its submitter or proposers are
    told that it goes on without the case."""
    reason = data["reason"]
    facts = {"event_id": event_id, "occurred_at": at, "case_number": case, "reason": reason, "by": data["by"]}
    touched: list[str] = []
    for item in uow.opinions.of_thread(case):
        if item.origin_case != case:
            continue
        lines = opinion_events_of(uow, item)
        if any((line.data or {}).get("event_id") == event_id for line in lines):
            continue  # heard before
        if item.status in OPINION_FINAL or any(line.action == "closed" for line in lines):
            continue  # its outcome went to the case already (or its own process was cancelled)
        record_opinion(uow, item, data["by"], CASE_CANCELLED, facts)
        tell_submitter(
            uow,
            item,
            CASE_CANCELLED,
            data["instance_id"],
            f"社情民意信息 {item.number} 所来自的微协商诉求 {case} 已撤销",
            f"该信息继续按程序处理，处理结果不再反馈到该微协商诉求。撤销原因：{reason}",
        )
        touched.append(item.number)
    for proposal in uow.proposals.of_thread(case):
        if case_outcome.case_of(uow, proposal) != case:
            continue
        lines = uow.proposals.lines_of(proposal, CASE_CANCELLED)
        if any(line.get("event_id") == event_id for line in lines) or proposal.status in PROPOSAL_FINAL:
            continue
        record_event(uow, proposal, data["by"], CASE_CANCELLED, facts)
        notify(
            uow,
            proposal,
            proposers(proposal),
            f"您的提案 {proposal.number}《{proposal.title}》所来自的微协商诉求 {case} 已撤销；"
            f"提案继续按程序办理，办理结果不再反馈到该微协商诉求。撤销原因：{reason}",
            kind=CASE_CANCELLED,
        )
        touched.append(proposal.number)
    if not touched:
        return _ignored("case", case, "nothing of intake's still open came from it")
    uow.flush()
    return {"applied": True, "case": case, "told": touched}
