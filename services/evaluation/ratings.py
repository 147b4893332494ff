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

from marshmallow import Schema, fields, validate
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from shared import clock
from shared.errors import BusinessError, Conflict, Forbidden, NotFound
from shared.messaging.outbox import publish_event, send_message
from shared.rulebook import RuleNotFound, load_rulebook
from shared.calendar import WorkingCalendar
from shared.contracts.jobs.evaluation import CloseRating as CloseRatingParams
from shared.contracts.jobs.evaluation import OpenRating as OpenRatingParams
from shared.rulebook import deadline
from shared.validation import load

from . import merged
from .access import oversees, principal_of
from .models import Appeal, Outbox, Rating, RatingRound

from shared.contracts.messages import RATINGS_COMPLETE  # noqa: E402

UNSATISFIED = "unsatisfied"  # the level that sends a reply back for re-handling
NOT_GIVEN = "not_given"  # recorded for a proposer silent when the rating window ends
SCORES = ("handling", "result")


def given(ratings) -> list:
    """The ratings proposers gave, without the ``not_given`` records of the silent ones."""
    return [r for r in ratings if r.handling != NOT_GIVEN]


def window_ends(opened_at, rulebook) -> str:
    """When a round opened at ``opened_at`` stops taking ratings (rule ``rating_window``)."""
    return deadline(rulebook, "rating_window", opened_at, WorkingCalendar()).ends_at.isoformat()


def level_codes(rulebook) -> list[str]:
    codes = [level.code for level in rulebook.satisfaction_levels()]
    if UNSATISFIED not in codes:
        raise RuleNotFound(
            f"rulebook {rulebook.name} {rulebook.version} has no satisfaction level "
            f"{UNSATISFIED!r}, which sends a reply back; it has: {', '.join(codes)}"
        )
    return codes


def _rating_schema(levels):
    return Schema.from_dict(
        {
            "number": fields.String(required=True, validate=validate.Length(min=1, max=50)),
            "handling": fields.String(required=True, validate=validate.OneOf(levels)),
            "result": fields.String(required=True, validate=validate.OneOf(levels)),
            "comment": fields.String(allow_none=True, load_default=None, validate=validate.Length(max=4000)),
        },
        name="RatingInput",
    )


def _latest_round(session, number, lock=False):
    query = select(RatingRound).where(RatingRound.number == number).order_by(RatingRound.round.desc()).limit(1)
    if lock:  # wait for other raters of the round, then read it as they left it
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.scalars(query).first()


def _close(session, rating_round, outcome) -> bool:
    """Close the round unless another transaction already did; True if this one closed it."""
    closed = session.execute(
        update(RatingRound)
        .where(RatingRound.id == rating_round.id, RatingRound.closed_at.is_(None))
        .values(closed_at=clock.now(), outcome=outcome)
        .execution_options(synchronize_session="fetch")
    )
    return closed.rowcount == 1


def open_round(session, params: dict, principal: dict | None = None, rulebook=None) -> dict:
    """Open a rating round for the proposal's proposers (job ``evaluation.open_rating``).

    ``round`` defaults to the next one. Opening a round that exists with the same proposers is a
    repeat and changes nothing. A round still open when a newer one opens is closed as superseded
    (its proposers did not all rate before the process moved on); it sends no message."""
    data = load(OpenRatingParams, params, "evaluation.open_rating parameters")
    rulebook = rulebook or load_rulebook("proposal")
    number = data["number"]
    # The proposers of proposals merged into this one rate its answer too (merged.py).
    proposers = list(dict.fromkeys([*data["proposers"], *merged.proposers_merged_into(session, number)]))
    latest = _latest_round(session, number, lock=True)
    wanted = data["round"] or (latest.round + 1 if latest else 1)
    existing = session.scalars(
        select(RatingRound).where(RatingRound.number == number, RatingRound.round == wanted)
    ).first()
    if existing is not None:
        if not set(data["proposers"]) <= set(existing.proposers):
            raise BusinessError("rating_round_exists", f"round {wanted} of {number} exists for {existing.proposers}")
        return {"round": existing.round, "due": window_ends(existing.opened_at, rulebook)}
    if latest is not None and latest.round > wanted:
        raise BusinessError("rating_round_outdated", f"{number} is already in round {latest.round}")
    if latest is not None and latest.closed_at is None:
        _close(session, latest, "superseded")
    opened_at = clock.now()
    session.add(RatingRound(number=number, round=wanted, proposers=proposers, opened_at=opened_at))
    session.flush()
    # Staff accepted the reply and the proposers are asked to rate it: intake tells them.
    publish_event(
        session,
        Outbox,
        "handling.rating_opened",
        f"handling.rating_opened:{number}:{wanted}",
        number,
        payload={"number": number, "round": wanted, "proposers": proposers},
    )
    return {"round": wanted, "due": window_ends(opened_at, rulebook)}


def _rating_view(rating: Rating) -> dict:
    return {
        "rater": rating.rater,
        "handling": rating.handling,
        "result": rating.result,
        "comment": rating.comment,
        "rated_at": rating.rated_at.isoformat(),
    }


def rate(session, number, handling, result, comment, principal, rulebook=None) -> dict:
    """The caller rates the reply of ``number`` in its open round (RPC ``rate``)."""
    caller = principal_of(principal)
    rulebook = rulebook or load_rulebook("proposal")
    data = load(
        _rating_schema(level_codes(rulebook)),
        {"number": number, "handling": handling, "result": result, "comment": comment},
        "the rating",
    )
    # A merged proposal's proposers rate the answer of the one it joined, through their own number.
    rating_round = _latest_round(session, merged.answering(session, data["number"]), lock=True)
    if rating_round is None:
        raise NotFound(f"no rating round is open for {data['number']}")
    if caller["user"] not in rating_round.proposers or "member" not in caller["roles"]:
        raise Forbidden(f"only the proposers of {data['number']} rate its reply, each for themselves")
    if rating_round.closed_at is not None:
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
    session.add(rating)
    try:
        session.flush()
    except IntegrityError:  # the same rater's other call committed first
        raise Conflict(f"{caller['user']} has already rated round {rating_round.round} of {data['number']}") from None
    closed = _close_when_everyone_rated(session, rating_round)
    return {"number": rating_round.number, "round": rating_round.round, **_rating_view(rating), "round_closed": closed}


def _close_when_everyone_rated(session, rating_round) -> bool:
    session.refresh(rating_round, ["ratings"])
    ratings = [r for r in rating_round.ratings if r.rater in rating_round.proposers]
    if {r.rater for r in ratings} != set(rating_round.proposers):
        return False
    return _close_and_report(session, rating_round, ratings, [])


def appeal_window_ends(closed_at, rulebook=None):
    """Until when a round closed at ``closed_at`` may be appealed (rule ``appeal_window``)."""
    rulebook = rulebook or load_rulebook("proposal")
    return deadline(rulebook, "appeal_window", closed_at, WorkingCalendar()).ends_at


def _close_and_report(session, rating_round, ratings, not_given) -> bool:
    """Close the round and send its one ``ratings_complete``. Any 不满意 sends a first reply back for
    re-handling (``rehandle``); a re-handled reply (round 2 on) rated 不满意 is not sent back by
    itself: the round closes ``appealable`` and the proposers may appeal (``appeals``) until
    ``appeal_due`` (rule ``appeal_window``), the committee deciding whether it is handled again."""
    unsatisfied = any(getattr(r, score) == UNSATISFIED for r in ratings for score in SCORES)
    appealable = unsatisfied and rating_round.round >= 2
    rehandle = unsatisfied and not appealable
    outcome = "rehandle" if rehandle else "appealable" if appealable else "accepted"
    if not _close(session, rating_round, outcome):
        return False
    appeal_due = None
    if appealable:
        appeal_due = appeal_window_ends(clock.now())
        rating_round.appeal_due = appeal_due
        session.flush()
    due = appeal_due.isoformat() if appeal_due is not None else None
    publish_event(
        session,
        Outbox,
        "handling.rated",
        f"handling.rated:{rating_round.number}:{rating_round.round}",
        rating_round.number,
        payload={"number": rating_round.number, "round": rating_round.round, "outcome": outcome, "appeal_due": due},
    )
    send_message(
        session,
        Outbox,
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


def close_window(session, params: dict, principal: dict | None = None) -> dict:
    """The rating window of a round ended (job ``evaluation.close_rating``): record a ``not_given``
    rating for each proposer who did not rate, close the round on the ratings given and send
    ``ratings_complete``. A round already closed (the last rating came first, or a newer round
    superseded it) is left as it is: ``closed`` is false and nothing is sent again."""
    data = load(CloseRatingParams, params, "evaluation.close_rating parameters")
    rating_round = session.scalars(
        select(RatingRound)
        .where(RatingRound.number == data["number"], RatingRound.round == data["round"])
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
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
        session.add(
            Rating(
                rating_round=rating_round, rater=rater, handling=NOT_GIVEN, result=NOT_GIVEN, comment=None, rated_at=now
            )
        )
    session.flush()
    session.refresh(rating_round, ["ratings"])
    ratings = [r for r in given(rating_round.ratings) if r.rater in rating_round.proposers]
    closed = _close_and_report(session, rating_round, ratings, silent)
    session.refresh(rating_round)
    return {"round": rating_round.round, "closed": closed, "outcome": rating_round.outcome, "not_given": silent}


def ratings_of(session, number, principal) -> dict:
    """Every rating round of ``number``: all ratings for overseers, a proposer's own otherwise."""
    caller = principal_of(principal)
    rounds = session.scalars(
        select(RatingRound).where(RatingRound.number == str(number)).order_by(RatingRound.round)
    ).all()
    if not rounds:
        raise NotFound(f"{number} has no rating rounds")
    everything = oversees(caller)
    if not everything:
        rounds = [r for r in rounds if caller["user"] in r.proposers]
        if not rounds:
            raise Forbidden(f"only the proposers of {number}, staff, the committee and leaders see its ratings")
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
                "appeal": appeal_view(session, r),
                "ratings": [_rating_view(x) for x in r.ratings if everything or x.rater == caller["user"]],
            }
            for r in rounds
        ],
    }


def appeal_view(session, rating_round: RatingRound) -> dict | None:
    row = session.scalars(
        select(Appeal).where(Appeal.number == rating_round.number, Appeal.round == rating_round.round)
    ).first()
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
