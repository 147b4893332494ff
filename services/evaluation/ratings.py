"""Rating rounds (评): each proposer rates the reply with two scores, the handling work and the result.

Only a proposer of the open round rates, and only for themselves: the rater is the caller's
principal, never a parameter, so nobody (staff included) rates on a member's behalf. When the last
proposer has rated, the round closes and ``ratings_complete`` goes to the engine through the outbox
in the same transaction: one message per round, however the raters' calls interleave (the round
row is locked while a rating is added, and only the transaction that closes it sends).

A re-handled reply (round 2 on) rated 不满意 is not sent back again by itself: the round closes
``appealable`` and its proposers may appeal within the rulebook's ``appeal_window`` (``appeals.py``).

A round is open for the rulebook's ``rating_window``: ``open_rating`` answers when it ends (``due``)
and the diagram's timer then asks ``evaluation.close_rating`` to close the round. Each proposer who
has not rated by then is recorded as ``not_given`` (a rating row with that code in both scores,
never counted as a level), the round closes on the ratings given, and the same single
``ratings_complete`` message goes out, naming the proposers who gave none. If the last rating won
the race, closing finds the round closed and sends nothing more.
"""

from __future__ import annotations

import functools
from datetime import datetime

from marshmallow import Schema, validate

from shared.contracts import field_types as fields

from shared import clock
from shared.errors import BusinessError, Conflict, Forbidden, NotFound
from shared.rulebook import RuleNotFound
from shared.contracts.jobs.evaluation import CloseRating as CloseRatingParams
from shared.contracts.jobs.evaluation import OpenRating as OpenRatingParams
from shared.validation import load

from . import cancellation, merged
from .access import oversees, principal_of
from .models import Rating, RatingRound
from .repository import Duplicate
from .rules import EvaluationRules
from .unit_of_work import EvaluationUnitOfWork

from shared.contracts.messages import RATINGS_COMPLETE  # noqa: E402

UNSATISFIED = "unsatisfied"  # the level that sends a reply back for re-handling
NOT_GIVEN = "not_given"  # recorded for a proposer silent when the rating window ends
SCORES = ("handling", "result")


def given(ratings) -> list:
    """The ratings proposers gave, without the ``not_given`` records of the silent ones."""
    return [r for r in ratings if r.handling != NOT_GIVEN]


def window_ends(opened_at: datetime, rules: EvaluationRules) -> str:
    """When a round opened at ``opened_at`` stops taking ratings (rule ``rating_window``)."""
    return rules.rating_window_ends(opened_at).isoformat()


def level_codes(rules: EvaluationRules) -> list[str]:
    codes = [level.code for level in rules.satisfaction_levels()]
    if UNSATISFIED not in codes:
        raise RuleNotFound(
            f"rulebook {rules.name} {rules.version} has no satisfaction level "
            f"{UNSATISFIED!r}, which sends a reply back; it has: {', '.join(codes)}"
        )
    return codes


# Made once for each set of satisfaction levels (a changed rulebook gets its own): a rating's
# schema class and instance cost more to make than the rating costs to load.
@functools.lru_cache(maxsize=16)
def _rating_schema(levels: tuple[str, ...]) -> Schema:
    return Schema.from_dict(
        {
            "number": fields.String(required=True, validate=validate.Length(min=1, max=50)),
            "handling": fields.String(required=True, validate=validate.OneOf(levels)),
            "result": fields.String(required=True, validate=validate.OneOf(levels)),
            "comment": fields.String(allow_none=True, load_default=None, validate=validate.Length(max=4000)),
        },
        name="RatingInput",
    )()


def open_round(uow: EvaluationUnitOfWork, rules: EvaluationRules, params: dict, principal: dict | None = None) -> dict:
    """Open a rating round for the proposal's proposers (job ``evaluation.open_rating``).

    ``round`` defaults to the next one. Opening a round that exists with the same proposers is a
    repeat and changes nothing. A round still open when a newer one opens is closed as superseded
    (its proposers did not all rate before the process moved on); it sends no message."""
    data = load(OpenRatingParams, params, "evaluation.open_rating parameters")
    number = data["number"]
    # The proposers of proposals merged into this one rate its answer too (merged.py).
    proposers = list(dict.fromkeys([*data["proposers"], *merged.proposers_merged_into(uow, number)]))
    # wait for other raters of the round, then read it as they left it
    latest = uow.ratings.latest_round(number, lock=True)
    wanted = data["round"] or (latest.round + 1 if latest else 1)
    existing = uow.ratings.round_of(number, wanted)
    if existing is not None:
        if not set(data["proposers"]) <= set(existing.proposers):
            raise BusinessError("rating_round_exists", f"round {wanted} of {number} exists for {existing.proposers}")
        return {"round": existing.round, "due": window_ends(existing.opened_at, rules)}
    if latest is not None and latest.round > wanted:
        raise BusinessError("rating_round_outdated", f"{number} is already in round {latest.round}")
    if latest is not None and latest.closed_at is None:
        uow.ratings.close_round(latest, "superseded", clock.now())
    opened_at = clock.now()
    uow.ratings.add_round(RatingRound(number=number, round=wanted, proposers=proposers, opened_at=opened_at))
    uow.flush()
    # Staff accepted the reply and the proposers are asked to rate it: intake tells them.
    uow.publish_event(
        "handling.rating_opened",
        f"handling.rating_opened:{number}:{wanted}",
        number,
        payload={"number": number, "round": wanted, "proposers": proposers},
    )
    return {"round": wanted, "due": window_ends(opened_at, rules)}


def _rating_view(rating: Rating) -> dict:
    return {
        "rater": rating.rater,
        "handling": rating.handling,
        "result": rating.result,
        "comment": rating.comment,
        "rated_at": rating.rated_at.isoformat(),
    }


def rate(uow: EvaluationUnitOfWork, rules: EvaluationRules, number, handling, result, comment, principal) -> dict:
    """The caller rates the reply of ``number`` in its open round (RPC ``rate``)."""
    caller = principal_of(principal)
    data = load(
        _rating_schema(tuple(level_codes(rules))),
        {"number": number, "handling": handling, "result": result, "comment": comment},
        "the rating",
    )
    # A merged proposal's proposers rate the answer of the one it joined, through their own number.
    if "member" not in caller["roles"]:
        raise Forbidden(f"only the proposers of {data['number']} rate its reply, each for themselves")
    rating_round = uow.ratings.latest_round(merged.answering(uow, data["number"]), lock=True)
    if rating_round is None or caller["user"] not in rating_round.proposers:
        # Another member hears what they would of a proposal with no round: not that it has one.
        raise NotFound(f"no rating round is open for {data['number']}")
    if rating_round.closed_at is not None:
        # A round its process's cancellation closed says so (cancellation.py).
        cancelled = cancellation.refusal(rating_round)
        if cancelled is not None:
            raise Conflict(cancelled, cancellation.refusal_details(rating_round))
        raise Conflict(f"round {rating_round.round} of {data['number']} is closed")
    if any(r.rater == caller["user"] for r in rating_round.ratings):
        raise Conflict(f"{caller['user']} has already rated round {rating_round.round} of {data['number']}")
    rating = Rating(
        rating_round=rating_round,
        rater=caller["user"],
        handling=data["handling"],
        result=data["result"],
        comment=data["comment"],
        rated_at=clock.now(),
    )
    try:
        uow.ratings.add_rating(rating)
    except Duplicate:  # the same rater's other call committed first
        raise Conflict(f"{caller['user']} has already rated round {rating_round.round} of {data['number']}") from None
    closed = _close_when_everyone_rated(uow, rules, rating_round)
    return {"number": rating_round.number, "round": rating_round.round, **_rating_view(rating), "round_closed": closed}


def _close_when_everyone_rated(uow: EvaluationUnitOfWork, rules: EvaluationRules, rating_round: RatingRound) -> bool:
    ratings = [r for r in uow.ratings.ratings_in(rating_round) if r.rater in rating_round.proposers]
    if {r.rater for r in ratings} != set(rating_round.proposers):
        return False
    return _close_and_report(uow, rules, rating_round, ratings, [])


def _close_and_report(
    uow: EvaluationUnitOfWork, rules: EvaluationRules, rating_round: RatingRound, ratings: list, not_given: list
) -> bool:
    """Close the round and send its one ``ratings_complete``. Any 不满意 sends a first reply back for
    re-handling (``rehandle``); a re-handled reply (round 2 on) rated 不满意 is not sent back by
    itself: the round closes ``appealable`` and the proposers may appeal (``appeals``) until
    ``appeal_due`` (rule ``appeal_window``), the committee deciding whether it is handled again."""
    unsatisfied = any(getattr(r, score) == UNSATISFIED for r in ratings for score in SCORES)
    appealable = unsatisfied and rating_round.round >= 2
    rehandle = unsatisfied and not appealable
    outcome = "rehandle" if rehandle else "appealable" if appealable else "accepted"
    if not uow.ratings.close_round(rating_round, outcome, clock.now()):
        return False
    appeal_due = None
    if appealable:
        appeal_due = rules.appeal_window_ends(clock.now())
        rating_round.appeal_due = appeal_due
        uow.flush()
    due = appeal_due.isoformat() if appeal_due is not None else None
    uow.publish_event(
        "handling.rated",
        f"handling.rated:{rating_round.number}:{rating_round.round}",
        rating_round.number,
        payload={"number": rating_round.number, "round": rating_round.round, "outcome": outcome, "appeal_due": due},
    )
    uow.send_message(
        RATINGS_COMPLETE,
        rating_round.number,
        f"ratings-{rating_round.number}-{rating_round.round}",
        {
            "round": rating_round.round,
            "rehandle": rehandle,
            "appeal_due": due,
            "ratings": [_rating_view(r) for r in ratings],
            "not_given": list(not_given),
        },
    )
    return True


def close_window(
    uow: EvaluationUnitOfWork, rules: EvaluationRules, params: dict, principal: dict | None = None
) -> dict:
    """The rating window of a round ended (job ``evaluation.close_rating``): record a ``not_given``
    rating for each proposer who did not rate, close the round on the ratings given and send
    ``ratings_complete``. A round already closed (the last rating came first, or a newer round
    superseded it) is left as it is: ``closed`` is false and nothing is sent again."""
    data = load(CloseRatingParams, params, "evaluation.close_rating parameters")
    rating_round = uow.ratings.round_of(data["number"], data["round"], lock=True)
    if rating_round is None:
        raise NotFound(f"{data['number']} has no rating round {data['round']}")
    if rating_round.closed_at is not None:
        return {
            "round": rating_round.round,
            "closed": False,
            "outcome": rating_round.outcome,
            "not_given": [r.rater for r in rating_round.ratings if r.handling == NOT_GIVEN],
        }
    rated = {r.rater for r in rating_round.ratings}
    silent = [p for p in rating_round.proposers if p not in rated]
    now = clock.now()
    for rater in silent:
        uow.ratings.add_rating(
            Rating(
                rating_round=rating_round, rater=rater, handling=NOT_GIVEN, result=NOT_GIVEN, comment=None, rated_at=now
            )
        )
    ratings = [r for r in given(uow.ratings.ratings_in(rating_round)) if r.rater in rating_round.proposers]
    closed = _close_and_report(uow, rules, rating_round, ratings, silent)
    return {"round": rating_round.round, "closed": closed, "outcome": rating_round.outcome, "not_given": silent}


def ratings_of(uow: EvaluationUnitOfWork, number, principal) -> dict:
    """Every rating round of ``number``: all ratings for overseers, a proposer's own otherwise."""
    caller = principal_of(principal)
    everything = oversees(caller)
    if not everything and "member" not in caller["roles"]:
        raise Forbidden(f"only the proposers of {number}, staff, the committee and leaders see its ratings")
    rounds = uow.ratings.rounds_of(str(number))
    if not everything:
        rounds = [r for r in rounds if caller["user"] in r.proposers]
    if not rounds:
        # A member who did not propose it hears what they would of a proposal with no rounds: a
        # refusal would tell them the proposal exists and was rated (intake answers the same way).
        raise NotFound(f"{number} has no rating rounds")
    return {
        "number": str(number),
        "rounds": [
            {
                "round": r.round,
                "proposers": list(r.proposers),
                "opened_at": r.opened_at.isoformat(),
                "closed_at": r.closed_at.isoformat() if r.closed_at else None,
                "outcome": r.outcome,
                "appeal_due": r.appeal_due.isoformat() if r.appeal_due else None,
                "appeal": appeal_view(uow, r),
                "ratings": [_rating_view(x) for x in r.ratings if everything or x.rater == caller["user"]],
            }
            for r in rounds
        ],
    }


def appeal_view(uow: EvaluationUnitOfWork, rating_round: RatingRound) -> dict | None:
    row = uow.ratings.appeal_of(rating_round.number, rating_round.round)
    if row is None:
        return None
    return {
        "id": row.id,
        "round": row.round,
        "appellant": row.appellant,
        "reason": row.reason,
        "lodged_at": row.lodged_at.isoformat(),
        "decision": row.decision,
        "decision_reason": row.decision_reason,
        "decided_by": row.decided_by,
        "decided_at": row.decided_at.isoformat() if row.decided_at else None,
    }
