"""提 submit: what members do with their proposals over RPC, and what anyone may read.

Each function takes the unit of work (``repository.IntakeUnitOfWork``), the rules where it needs
them (``rules.IntakeRules``) and the caller's principal, authorises the caller itself, and leaves
committing to the caller: the proposal, its history and its messages to the engine are one
transaction.
"""

from __future__ import annotations

import heapq
import logging

from shared.contracts import field_types as fields

from shared import clock
from shared.calendar import local_date
from shared.errors import Conflict, Forbidden, InvalidInput
from shared.validation import PageQuery, load, made, page_answer, page_window
from shared.contracts import messages

from shared.masking import mask_text
from shared.names import member_called
from .access import MEMBER, acting_user, not_found, proposes, reads_all, require_member, require_reader
from .areas import check_area
from .models import Cosigner, Proposal, Publication
from .numbering import format_number, next_sequence
from .records import by_number, directory_names, names_masked, notify, proposers, record_event, refuse_if_cancelled
from .unit_of_work import IntakeUnitOfWork
from .rules import IntakeRules
from .similarity import overlap_needed, score, title_grams
from .schemas import CONTENT, ContentSchema, DraftSchema, ProposalSchema, PublicationSchema, SimilarTitlesQuery

log = logging.getLogger(__name__)

PROCESS_ID = "proposal"


_PROPOSAL = ProposalSchema()  # made once: a schema keeps nothing of a dump


def dump(proposal: Proposal) -> dict:
    return _PROPOSAL.dump(proposal)


def check_cosigners(rules: IntakeRules, cosigners: list[str], directory) -> None:
    """At most the rulebook's ``cosigning.max_cosigners``, each a member of the committee:
    ``directory(users)`` answers those of ``users`` the members directory does not know (the
    evaluation service keeps the directory). A list that cannot be checked is refused."""
    cap = rules.max_cosigners()
    if len(cosigners) > cap:
        raise InvalidInput(
            "too many co-signers",
            {"cosigners": [f"at most {cap} co-signers (the proposal rulebook's cosigning.max_cosigners)"]},
        )
    if not cosigners:
        return
    if directory is None:
        raise InvalidInput(
            "co-signers cannot be checked against the members directory here", {"cosigners": ["not taken on this path"]}
        )
    unknown = list(directory(list(cosigners)) or [])
    if unknown:
        raise InvalidInput(
            "every co-signer must be a committee member",
            {"cosigners": [f"not in the members directory: {', '.join(sorted(unknown))}"]},
        )


def check_format(rules: IntakeRules, data: dict, what: str) -> None:
    """One matter, one proposal: the title and the whole text within the rulebook's ``format``."""
    limits = rules.format_limits()
    problems = {}
    if len(data["title"]) > limits["max_title"]:
        problems["title"] = [
            f"the title has {len(data['title'])} characters; at most {limits['max_title']} are allowed"
        ]
    total = sum(len(data.get(part) or "") for part in CONTENT)
    if total > limits["max_total"]:
        problems["_schema"] = [
            f"title, situation, analysis and suggestions have {total} characters "
            f"together; at most {limits['max_total']} are allowed"
        ]
    if problems:
        raise InvalidInput(f"{what} is not valid", problems)


def is_proposer_of(uow: IntakeUnitOfWork, number: str, principal: dict) -> bool:
    """Whether the caller, acting as a member, is a proposer of ``number`` (for supervision, which
    shows a proposal's deadlines to its proposers)."""
    user, roles = acting_user(principal)
    proposal = by_number(uow, str(number))
    return proposal is not None and proposes(proposal, user, roles)


def invited_by(initiator: str, names) -> str:
    """The initiator as the invitation names them: by the members directory (``names``), and when
    it cannot be asked, by its seed (a notice's wording never fails a submission)."""
    known: dict[str, str] = {}
    if names is not None:
        try:
            known = dict(names([initiator]) or {})
        except Exception as exc:  # noqa: BLE001 - the directory away or slow: the seed's name
            log.warning("the members directory did not name %s (%s); the seed's name is used", initiator, exc)
    return member_called(initiator, known)


def session_year(asked: int | None, this_year: int) -> int:
    """The year a proposal is numbered in: the one asked for, which must be this year (in China),
    the last (a proposal of the session just closed) or the next (one for the coming plenary), or
    this year. A year further away is a mistake, not a session: refused, before a number is taken."""
    if asked is None:
        return this_year
    if not this_year - 1 <= asked <= this_year + 1:
        raise InvalidInput(
            f"the proposal is not valid: session year {asked} is not this session's",
            {"session_year": [f"a session year from {this_year - 1} to {this_year + 1} (this year is {this_year})"]},
        )
    return asked


def submit(
    uow: IntakeUnitOfWork,
    rules: IntakeRules,
    draft: dict,
    principal: dict,
    thread: str | None = None,
    key: str | None = None,
    directory=None,
    names=None,
) -> dict:
    """Record a member's proposal, number it and start its process.

    ``key``: the submission's idempotency key (stored as ``client_reference``). A second submit by
    the same initiator with the same key -- a client's retry, or the broker redelivering an RPC
    request whose worker died after committing -- answers the proposal already recorded, as it is
    now, and records and starts nothing. The body of the repeat is not compared: the first wins.

    ``thread``: the case thread it continues (an opinion item's or a micro-consultation case's);
    a proposal submitted fresh is its own thread (its number).

    ``directory``: ``users -> unknown users``, the members directory the co-signers are checked in
    (see :func:`check_cosigners`). ``names``: ``users -> {user: name}`` from the same directory, for
    naming the initiator in the co-signers' invitation (:func:`invited_by`).

    A joint proposal waits for its co-signers until the rulebook's ``cosign_window`` has passed
    (the end of its last day, Chinese time); the start command carries that moment as ``cosign_due``.
    """
    initiator = require_member(principal)
    if key is not None:
        if not isinstance(key, str) or not 1 <= len(key) <= 100:
            raise InvalidInput("the idempotency key", {"key": ["1 to 100 characters"]})
        existing = uow.proposals.by_reference(initiator, key)
        if existing is not None:
            return dump(existing)
    data = load(DraftSchema(initiator=initiator), draft, "the proposal")
    check_format(rules, data, "the proposal")
    check_area(rules, data["area"], "the proposal")
    check_cosigners(rules, data["cosigners"], directory)
    now = clock.now()
    year = session_year(data["session_year"], local_date(now).year)
    number = format_number(year, sequence := next_sequence(uow, year))
    cosigning = rules.proposal_deadline("cosign_window", now) if data["cosigners"] else None
    cosign_due = clock.as_utc(cosigning.ends_at) if cosigning else None
    proposal = Proposal(
        number=number,
        thread=thread or number,
        year=year,
        sequence=sequence,
        kind=data["kind"],
        title=data["title"],
        situation=data["situation"],
        analysis=data["analysis"],
        suggestions=data["suggestions"],
        initiator=initiator,
        sector=data["sector"],
        area=data["area"],
        publish_consent=data["publish_consent"],
        no_publish_reason=data["no_publish_reason"],
        publish_name=data["publish_name"],
        status="cosigning" if cosigning else "submitted",
        revision=1,
        cosign_due=cosign_due,
        created_at=now,
        client_reference=key,
        cosigners=[Cosigner(user=user, order=i, status="invited") for i, user in enumerate(data["cosigners"], start=1)],
    )
    uow.proposals.add(proposal)
    uow.flush()
    record_event(
        uow,
        proposal,
        initiator,
        "submitted",
        {
            "number": number,
            "thread": proposal.thread,
            "cosigners": data["cosigners"],
            "cosign_deadline": cosigning.as_dict() if cosigning else None,
        },
    )
    if cosigning:
        notify(
            uow,
            proposal,
            data["cosigners"],
            f"{invited_by(initiator, names)} 邀请您联名提案 {number}《{proposal.title}》，请在 {cosigning.due.isoformat()} 前确认。",
            kind="cosign_invited",
        )
    # The command id derives from the stored proposal: a repeat of this transaction cannot start twice.
    uow.start_process(
        command_id=f"proposal-{number}",
        process_id=PROCESS_ID,
        business_key=number,
        principal=principal,
        data={
            "proposal_id": proposal.id,
            "number": number,
            "title": proposal.title,
            "kind": proposal.kind,
            "proposer": initiator,
            "cosigners": data["cosigners"],
            "publish_consent": proposal.publish_consent,
            "cosign_due": cosign_due.isoformat() if cosign_due else None,
        },
    )
    return dump(proposal)


def _visible(proposal: Proposal, user: str, roles: set[str]) -> bool:
    return reads_all(roles) or proposes(proposal, user, roles) or proposal.status == "published"


def cosign(uow: IntakeUnitOfWork, number: str, principal: dict, publish_name: bool = False) -> dict:
    """An invited co-signer confirms before the deadline; the last confirmation tells the engine.
    A proposal whose process was cancelled takes no confirmation (the refusal names the cancellation).
    ``publish_name``: the co-signer consents to being named where the proposal is published
    (default: not named, masked, as for an initiator who did not consent)."""
    user = require_member(principal)
    proposal = by_number(uow, number, lock=True)  # one confirmation at a time decides "all"
    if proposal is None:
        raise not_found(number)
    signer = next((c for c in proposal.cosigners if c.user == user), None)
    if signer is None:
        if proposal.initiator == user:
            raise Conflict(f"you initiated proposal {number}; only its co-signers confirm")
        if _visible(proposal, user, set(principal.get("roles") or ())):
            raise Forbidden(f"you are not invited to co-sign proposal {number}")
        raise not_found(number)
    if signer.status == "confirmed":
        return dump(proposal)
    refuse_if_cancelled(uow, proposal, "co-signing confirmations")
    due = proposal.cosign_due
    if proposal.status != "cosigning" or signer.status != "invited":
        raise Conflict(f"co-signing of proposal {number} is settled; confirmations are no longer accepted")
    if due is not None and clock.now() >= due:
        raise Conflict(
            f"the co-signing deadline of proposal {number} passed at {due.isoformat()}; "
            "confirmations are no longer accepted"
        )
    signer.status, signer.confirmed_at, signer.publish_name = "confirmed", clock.now(), bool(publish_name)
    uow.flush()
    record_event(uow, proposal, user, "cosign_confirmed", {"order": signer.order, "publish_name": bool(publish_name)})
    # The proposal is locked: its co-signers as loaded are all there are.
    if all(c.status == "confirmed" for c in proposal.cosigners):
        uow.send_message(
            name=messages.COSIGN_SETTLED,
            correlation_key=number,
            message_id=f"cosign-settled-{number}",
            payload={"proposers": proposers(proposal)},
        )
    return dump(proposal)


PUBLISHED_TEXT = ("title", "situation", "analysis", "suggestions", "reply_summary")


def published(row: Publication, names: list[str] | None = None) -> dict:
    """A publication as anyone reads it, masked again on the way out (a row published before the
    masking learned a form of number is masked by today's rules too), and of ``names`` where the
    caller has them (``public.names_masked``)."""
    data = made(PublicationSchema).dump(row)
    names = names or ()
    followup = {"followup_text": mask_text(data["followup_text"], names)} if data.get("followup_text") else {}
    return {**data, **{key: mask_text(data.get(key) or "", names) for key in PUBLISHED_TEXT}, **followup}


def _publication(uow: IntakeUnitOfWork, proposal: Proposal, names=None) -> dict:
    row = uow.proposals.publication_of(proposal)
    if row is None:
        raise not_found(proposal.number)
    return published(row, names_masked(proposal, directory_names([proposal], names)))


def get(uow: IntakeUnitOfWork, number: str, principal: dict, names=None) -> dict:
    """A proposal in full for its proposers, staff, the committee and leaders; a published one
    as published (personal data masked, and the directory's names of the proposers who did not
    consent to being named: ``names``, users -> their names) for other members. Hidden ones are
    not found."""
    user, roles = require_reader(principal)
    proposal = by_number(uow, number)
    if proposal is None or not _visible(proposal, user, roles):
        raise not_found(number)
    if reads_all(roles) or proposes(proposal, user, roles):
        return dump(proposal)
    return _publication(uow, proposal, names)


def list_proposals(uow: IntakeUnitOfWork, principal: dict, mine: bool = True, names=None) -> list[dict]:
    """``mine``: the proposals the caller initiated or co-signs (and has not dropped off).
    Otherwise every proposal the caller may read: all of them for staff, the committee and leaders;
    for a member their own in full and the published ones as published."""
    user, roles = require_reader(principal)
    proposer = user if MEMBER in roles else None  # the public: published proposals only
    if mine or not reads_all(roles):
        result = [dump(p) for p in uow.proposals.of_proposer(proposer)] if proposer else []
        if not mine:
            rows = uow.proposals.published_not_of(proposer)
            theirs = {row.proposal_id: uow.proposals.get(row.proposal_id) for row in rows}
            known = directory_names([p for p in theirs.values() if p is not None], names)
            result += [published(row, names_masked(theirs[row.proposal_id], known)) for row in rows]
            result.sort(key=lambda item: tuple(map(int, item["number"].split("-"))))
        return result
    return [dump(p) for p in uow.proposals.every()]


class ProposalQuery(PageQuery):
    """What a page of the proposals list asks: which page, how long, the caller's own only."""

    mine = fields.Boolean(load_default=False)


def proposal_page(uow: IntakeUnitOfWork, principal: dict, query: dict | None = None, names=None) -> dict:
    """A page of what :func:`list_proposals` lists, newest first (by year and number), with how
    many there are in all: ``query`` holds ``page`` (from 1), ``per_page`` (1-200, default 50) and
    ``mine``. Every proposal of every year stays readable, so the list is read a page at a time."""
    user, roles = require_reader(principal)
    data = load(ProposalQuery, dict(query or {}), "the proposals list's query")
    proposer = user if MEMBER in roles else None  # the public: published proposals only
    if data["mine"]:
        scope = "own"
    elif reads_all(roles):
        scope = "every"
    else:
        scope = "visible"
    if scope == "own" and proposer is None:
        total, rows = 0, []
    else:
        total, rows = uow.proposals.proposal_page(*page_window(data), scope, proposer)

    def whole(proposal: Proposal) -> bool:  # read in full; others' as published
        return scope != "visible" or (proposer is not None and proposes(proposal, proposer, roles))

    items = []
    known = directory_names([p for p in rows if not whole(p)], names)
    for proposal in rows:
        if whole(proposal):
            items.append(dump(proposal))
        elif (publication := uow.proposals.publication_of(proposal)) is not None:
            items.append(published(publication, names_masked(proposal, known)))
    return page_answer(data, total, items)


def _single(grams: frozenset[str]) -> bool:
    """A title's grams are its remaining characters, each itself: it had no bigram left."""
    return any(len(gram) == 1 for gram in grams)


def similar_titles(uow: IntakeUnitOfWork, query: dict, principal: dict) -> list[dict]:
    """For each of ``query['titles']`` (``{number, title}``, at most 100), how many other
    proposals have a title alike by the routing rulebook's measure (``ignore``, ``threshold``: the
    bigram Jaccard index of the titles with the boilerplate cut out, ``similarity.title_grams``)
    and the ``nearest`` of them, most similar first (then by number): routing suggestions count
    where those went. For those who read every proposal (staff, the committee, leaders).

    The title index hands over only the proposals sharing enough of a title's bigrams to reach the
    threshold (a title's cut bigrams are among its whole title's, which the index holds, so none is
    missed); they are scored here. A title that is only boilerplate and single characters has no
    bigram to look up: it is compared with every title left likewise (no other can be alike to it)."""
    _, roles = require_reader(principal)
    if not reads_all(roles):
        raise Forbidden("similar titles are for the committee's staff")
    data = load(SimilarTitlesQuery, query, "the titles to compare")
    ignore, threshold, nearest = data["ignore"], data["threshold"], data["nearest"]
    grams_of: dict[str, frozenset[str]] = {}  # candidates' titles recur across the asked ones

    def grams(title: str) -> frozenset[str]:
        if (found := grams_of.get(title)) is None:
            found = grams_of[title] = title_grams(title, ignore)
        return found

    # The candidates of each asked title from the index, then the titles of them all read once.
    owns = [title_grams(asked["title"], ignore) for asked in data["titles"]]
    candidates_of: list[list[int] | None] = []
    for own in owns:
        if not own:  # no letter or digit: alike to none (a Jaccard index over nothing is 0)
            candidates_of.append([])
        elif not _single(own):
            candidates_of.append(uow.proposals.title_candidates(sorted(own), overlap_needed(len(own), threshold)))
        else:
            candidates_of.append(None)  # every title
    wanted = sorted({pid for ids in candidates_of if ids for pid in ids})
    titles = uow.proposals.titles_by_id(wanted) if wanted else {}
    # A title left with single characters only is alike to such titles alone (no bigram is one
    # character): those are found among every title, once for all the titles asked.
    every = [(n, t) for n, t in uow.proposals.titles() if _single(grams(t))] if None in candidates_of else []
    answers = []
    for asked, own, ids in zip(data["titles"], owns, candidates_of, strict=True):
        pairs = every if ids is None else [titles[pid] for pid in ids]
        scored = [(number, score(own, grams(title))) for number, title in pairs if number != asked["number"]]
        alike = [(-s, n) for n, s in scored if s >= threshold]
        answers.append(
            {
                "number": asked["number"],
                "total": len(alike),
                "similar": [{"number": n, "similarity": -s} for s, n in heapq.nsmallest(nearest, alike)],
            }
        )
    return answers


def resubmit(uow: IntakeUnitOfWork, rules: IntakeRules, number: str, draft: dict, principal: dict) -> dict:
    """The initiator revises a returned proposal; the engine takes it back to pre-review."""
    user = require_member(principal)
    proposal = by_number(uow, number, lock=True)
    if proposal is None or not _visible(proposal, user, acting_user(principal)[1]):
        raise not_found(number)
    if proposal.initiator != user:
        raise Forbidden(f"only the initiator of proposal {number} revises it")
    if proposal.status != "returned":
        raise Conflict(f"proposal {number} is {proposal.status}; only a returned proposal is resubmitted")
    data = load(ContentSchema, draft, "the revised proposal")
    check_format(rules, data, "the revised proposal")
    check_area(rules, data["area"], "the revised proposal")
    if data["area"] is None:
        data.pop("area")  # a revision without an area keeps the one staff or the member gave
    changed = [key for key, value in data.items() if getattr(proposal, key) != value]
    for key, value in data.items():
        setattr(proposal, key, value)
    returned_because = proposal.reason_text
    proposal.status, proposal.revision = "pre_review", proposal.revision + 1
    proposal.decision = proposal.reason_code = proposal.reason_text = None
    proposal.decided_by = proposal.decided_at = None
    record_event(
        uow,
        proposal,
        user,
        "resubmitted",
        {"revision": proposal.revision, "changed": changed, "returned_because": returned_because},
    )
    uow.send_message(
        name=messages.RESUBMITTED,
        correlation_key=number,
        message_id=f"resubmitted-{number}-{proposal.revision}",
        payload={"revision": proposal.revision},
    )
    uow.flush()
    return dump(proposal)
