"""申诉 appeals (domain §5.4, trustworthy evaluation): after a re-handled reply, a proposer still 不满意
asks the committee to look again.

A first reply rated 不满意 goes back to the unit by itself (``ratings``). From the second round on, a
round rated 不满意 closes ``appealable`` with ``appeal_due`` (rule ``appeal_window`` after it closed)
and the diagram waits for ``appeal_lodged`` or that time. Each proposer who rated the round 不满意
(either score) may appeal it once per reply, with reasons (RPC ``appeal``); a second appeal of the
same reply, an appeal after the window, of a reply not rated 不满意 or by someone who is not its
proposer is refused, naming why, and nothing is kept. The committee decides in the diagram's
``decide_appeal`` task and ``evaluation.decide_appeal`` records it: ``upheld`` (the handling stands,
the round's outcome becomes ``upheld`` and its ratings stay) or ``rehandle`` (the diagram sends the
proposal back for another round, rule ``rehandling_reply``).

Both steps are ``handling.*`` events: intake keeps them in the proposal's history (its case thread)
and tells the proposers; the assignment service tells the answering units of a decision on their
queues. A lodged appeal is also a notice to the committee and its staff.
"""

from __future__ import annotations

from shared import clock
from shared.contracts.jobs.evaluation import DecideAppeal as DecideAppealParams
from shared.contracts.messages import APPEAL_LODGED
from shared.errors import BusinessError, Conflict, Forbidden, InvalidInput, NotFound, TooLate
from shared.validation import load

from . import cancellation, merged
from .access import principal_of
from .models import Appeal
from .ratings import SCORES, UNSATISFIED, appeal_view
from .repository import Duplicate
from .unit_of_work import EvaluationUnitOfWork

APPEALED, DECIDED = "handling.appealed", "handling.appeal_decided"


def appeal(uow: EvaluationUnitOfWork, number, reason, principal) -> dict:
    """The caller appeals the latest rated reply of ``number`` (see the module docstring)."""
    caller = principal_of(principal)
    text = (reason or "").strip() if isinstance(reason, str) else ""
    if not text or len(text) > 4000:
        raise InvalidInput(
            "an appeal says why the handling should be looked at again", {"reason": ["1 to 4000 characters"]}
        )
    if "member" not in caller["roles"]:
        raise Forbidden(f"only a proposer of {number} appeals the rating of its reply")
    answering = merged.answering(uow, str(number))
    rating_round = uow.ratings.latest_round(answering, lock=True)
    if rating_round is None or caller["user"] not in rating_round.proposers:
        # Another member hears what they would of a proposal never rated: not that it was.
        raise NotFound(f"{number} has no rated reply to appeal")
    cancelled = cancellation.refusal(rating_round)  # the proposal's process was cancelled (cancellation.py)
    if cancelled is not None:
        raise Conflict(cancelled, cancellation.refusal_details(rating_round))
    if rating_round.appeal_due is None:
        raise Conflict(
            f"round {rating_round.round} of {answering} cannot be appealed: an appeal comes after a "
            "re-handled reply rated 不满意 (a first reply rated 不满意 goes back to the unit by itself)",
            {"round": rating_round.round, "outcome": rating_round.outcome},
        )
    own = [r for r in rating_round.ratings if r.rater == caller["user"]]
    if not any(getattr(r, score) == UNSATISFIED for r in own for score in SCORES):
        raise Conflict(
            f"{caller['user']} did not rate round {rating_round.round} of {answering} 不满意; "
            "only a proposer still not satisfied appeals"
        )
    due, now = rating_round.appeal_due, clock.now()
    if now >= due:
        raise TooLate(
            f"the appeal window of round {rating_round.round} of {answering} ended at {due.isoformat()}",
            {"appeal_due": due.isoformat(), "asked_at": now.isoformat()},
        )
    if uow.ratings.appeal_of(answering, rating_round.round, lock=True) is not None:
        raise Conflict(
            f"the reply of round {rating_round.round} of {answering} has been appealed already; one appeal per reply"
        )
    row = Appeal(number=answering, round=rating_round.round, appellant=caller["user"], reason=text, lodged_at=now)
    try:
        uow.ratings.add_appeal(row)
    except Duplicate:  # another proposer's appeal committed first
        raise Conflict(
            f"the reply of round {rating_round.round} of {answering} has been appealed already; one appeal per reply"
        ) from None
    shown = appeal_view(uow, rating_round)
    uow.send_message(
        APPEAL_LODGED,
        answering,
        f"appeal-{answering}-{rating_round.round}",
        {"round": row.round, "appellant": row.appellant, "reason": row.reason, "lodged_at": shown["lodged_at"]},
    )
    uow.publish_event(
        APPEALED,
        f"{APPEALED}:{answering}:{row.round}",
        answering,
        payload={"number": answering, "round": row.round, "appellant": row.appellant, "reason": row.reason},
    )
    uow.notify(
        "appeal_lodged",
        f"evaluation.appeal:{row.id}",
        answering,
        ["role:committee", "role:staff"],
        title=f"提案 {answering} 的提案人对第 {row.round} 轮办理结果提出申诉",
        text=f"Proposal {answering}: {row.appellant} appeals the re-handled reply of round {row.round}: {row.reason}",
    )
    return shown


def decide(uow: EvaluationUnitOfWork, params: dict, principal: dict | None) -> dict:
    """``evaluation.decide_appeal {number, round, decision, reason, decided_by}``: record the
    committee's decision on the round's appeal (``BusinessError("no_appeal")`` when there is none).
    Deciding again changes nothing (a job delivered twice)."""
    data = load(DecideAppealParams, params, "evaluation.decide_appeal parameters")
    row = uow.ratings.appeal_of(data["number"], data["round"], lock=True)
    if row is None:
        raise BusinessError("no_appeal", f"round {data['round']} of {data['number']} has no appeal to decide")
    if row.decision is None:
        row.decision, row.decision_reason = data["decision"], data["reason"]
        row.decided_by, row.decided_at = data["decided_by"], clock.now()
        rating_round = uow.ratings.round_of(row.number, row.round)
        assert rating_round is not None  # an appeal is of a round
        rating_round.outcome = "upheld" if row.decision == "upheld" else "rehandle"
        uow.flush()
        uow.publish_event(
            DECIDED,
            f"{DECIDED}:{row.number}:{row.round}",
            row.number,
            payload={
                "number": row.number,
                "round": row.round,
                "decision": row.decision,
                "reason": row.decision_reason,
                "decided_by": row.decided_by,
                "appellant": row.appellant,
            },
        )
    return {"round": row.round, "decision": row.decision, "reason": row.decision_reason}
