"""The pages of staff and the committee beyond the task list's first steps: the forms of the
proposal's remaining staff tasks (an objection, an extension request, an appeal) with what each
decides on, the near-duplicates a filing decision weighs, the overdue board per unit, and the
year's reports as print-ready pages.

Every page calls the API's own route functions (:mod:`.api`): a person the API refuses is refused
here too, and what the API does not give a page does not show."""

from __future__ import annotations

from werkzeug.datastructures import MultiDict

from shared.contracts.rpc import proposals as proposal_contracts


from ..http import http
from ..reports import every_page
from .views import page, page_number, pager_of, year_asked

# The proposal tasks whose forms live here; they post to /console/tasks/<id> like the others.
FORMS = ("reassign", "approve_extension", "decide_appeal")
# The near-duplicates shown side by side with the proposal being filed (the best first).
DUPLICATES_SHOWN = 3
REPORTS = {
    "notice": "proposal_notice",
    "bulletin": "proposal_bulletin",
    "opinions": "adopted_opinions",
}


def reassign_fields(form) -> MultiDict:
    """The reassign form as the assign form it is (the diagram's schema is ``proposal.assign``):
    ``keep`` assigns the units the proposal has now again (the objection is overruled: ``kept``),
    ``move`` the units typed."""
    if form.get("choice") != "keep":
        return form
    kept = MultiDict({name: form.get(f"keep_{name}", "") for name in ("mode", "units", "lead", "co_units")})
    return kept


def task_data(name: str, form) -> dict:
    """The data of an objection's, an extension's or an appeal's form (the engine checks it with
    the diagram's form schema: a choice left out is refused by name, nothing is assumed)."""
    if name == "approve_extension":
        choice = form.get("decision")
        return {
            "approved": {"approve": True, "refuse": False}.get(choice),
            "until": (form.get("until") or "").strip() or None,
            "extension_comment": form.get("extension_comment", ""),
        }
    if name == "decide_appeal":
        return {"appeal_decision": form.get("appeal_decision", ""), "appeal_reason": form.get("appeal_reason", "")}
    return {}


def _live(assignments: list[dict]) -> list[dict]:
    return [a for a in assignments if a.get("status") != "cancelled"]


def kept_assignment(assignments: list[dict]) -> dict:
    """The assign form's fields that give the proposal to the units it has now (its live
    assignments: one unit, several, or a lead with co-units)."""
    live = _live(assignments)
    lead = next((a["unit"] for a in live if a.get("role") == "lead"), None)
    if lead:
        co = [a["unit"] for a in live if a.get("role") == "co"]
        return {"mode": "lead_co", "units": "", "lead": lead, "co_units": ", ".join(co)}
    units = [a["unit"] for a in live]
    return {"mode": "several" if len(units) > 1 else "single", "units": ", ".join(units), "lead": "", "co_units": ""}


def proposal_assignments(visit, number: str) -> list[dict]:
    """Every assignment of proposal ``number``, oldest first (a proposal has a few: one page of the
    newest-first list holds them all); none if the caller may not see them."""
    found = visit.api("list_assignments", query={"number": number, "per_page": "200"})
    return list(reversed(found.body["items"])) if found.ok else []


def _objection(visit, number: str) -> dict:
    rows = proposal_assignments(visit, number)
    return {
        "objections": [a for a in rows if a.get("objection") and not (a["objection"].get("decision"))],
        "keep": kept_assignment(rows),
    }


def _extension(visit, number: str) -> dict:
    """The unit's request still waiting for a decision (the latest), with its unit."""
    asked = []
    for row in _live(proposal_assignments(visit, number)):
        full = visit.api("get_assignment", assignment_id=row["id"])
        for request in full.body.get("extension_requests", []) if full.ok else []:
            if not request.get("decision"):
                asked.append({**request, "unit": row["unit"]})
    return {"request": asked[-1] if asked else None}


def _appeal(visit, number: str) -> dict:
    found = visit.api("ratings", number=number)
    rounds = found.body.get("rounds", []) if found.ok else []
    appealed = [r for r in rounds if r.get("appeal")]
    return {"round": appealed[-1] if appealed else None}


def _duplicates(visit, number: str) -> dict:
    """The near-duplicates intake found when the pre-review opened (the proposal's history), each
    with its text, beside the proposal's own; one that can no longer take a merge (cancelled, not
    filed, merged itself: not in handling now) is shown without the button. And why the decision
    is the committee's again, if it came back (``came_back``): the proposal it was merged into was
    cancelled (``unmerged``), or the decision could not be recorded (``filing_refused``)."""
    found = visit.api("thread", thread=number)
    history = [h for h in (found.body.get("history", []) if found.ok else []) if h.get("number") == number]
    opened = [h for h in history if h.get("action") == "pre_review_opened"]
    candidates = ((opened[-1].get("data") or {}).get("duplicates") or []) if opened else []
    shown = []
    for candidate in candidates[:DUPLICATES_SHOWN]:
        other = visit.api("get_proposal", number=candidate["number"])
        proposal = other.body if other.ok else None
        mergeable = bool(proposal) and proposal.get("status") in proposal_contracts.IN_HANDLING
        shown.append({**candidate, "proposal": proposal, "mergeable": mergeable})
    own = visit.api("get_proposal", number=number) if shown else None
    return {
        "duplicates": shown,
        "own": own.body if own is not None and own.ok else None,
        "came_back": _came_back(history),
    }


def _came_back(history: list[dict]) -> dict | None:
    """Why a proposal is at the filing decision again, from its history's last such line: the
    proposal it was merged into was cancelled, or the decision could not be recorded; None if
    neither (its first decision)."""
    for line in reversed(history):
        data = line.get("data") or {}
        if line.get("action") == "handling" and data.get("unmerged"):
            return {"why": "unmerged", "main": data.get("main"), "reason": data.get("reason") or ""}
        if line.get("action") == "filing_refused":
            return {"why": "filing_refused", "message": data.get("message") or data.get("code") or ""}
        if line.get("action") in ("filed", "not_filed", "returned", "merged"):
            return None  # a decision after it: not why it is here now
    return None


CONTEXT = {
    "reassign": _objection,
    "approve_extension": _extension,
    "decide_appeal": _appeal,
    "filing_decision": _duplicates,
}


def task_context(visit, tasks: list[dict]) -> dict:
    """What each task's form shows beside its fields, by task id: the objection and the units
    the proposal has now, the unit's extension request, the appeal, the near-duplicates."""
    return {
        task["task_id"]: CONTEXT[task["task"]](visit, task["business_key"])
        for task in tasks
        if task["task"] in CONTEXT and task.get("business_key")
    }


def overdue_board(answer: dict) -> list[dict]:
    """The API's overdue list per unit, each row with the provenance of its deadline (the API gives
    it with the row) as ``deadline``."""
    return [
        {**unit, "overdue": [{**row, "deadline": row.get("provenance")} for row in unit.get("overdue", [])]}
        for unit in answer.get("units", [])
    ]


class ConsoleStaffRoutes:
    """Mixed into :class:`~services.gateway.service.GatewayService`."""

    @http("GET", "/console/overdue")
    @page
    def console_overdue(self, visit):
        """The overdue board: the live list of overdue work, grouped by unit, each deadline
        explained, a page of the most overdue at a time (``?page=``) with every unit's count."""
        query = {"page": str(page_number(visit.request.args.get("page")))}
        answer = visit.api("overdue", query=query)
        if not answer.ok:
            return visit.refusal(answer)
        board = answer.body
        return visit.render(
            "staff_overdue.html",
            as_of=board.get("as_of"),
            units=overdue_board(board),
            **pager_of(board),
        )

    @http("GET", "/console/reports")
    @page
    def console_reports(self, visit):
        """The year's reports, to open as print-ready pages."""
        if not visit.may("proposal_notice"):
            return visit.forbidden("proposal_notice")
        return visit.render("staff_reports.html", year=year_asked(None), reports=REPORTS)

    @http("GET", "/console/reports/<string:kind>/<year:year>")
    @page
    def console_report(self, visit, kind, year):
        """One report as a print-ready page: the year-end notice, the bulletin to all members, or
        the adopted opinion items (members named, as the committee reads them)."""
        route = REPORTS.get(kind)
        if route is None:
            return visit.render("refused.html", status=404, answer=None)
        query = {"format": "json"} | ({"audience": "members"} if kind == "opinions" else {})
        if kind == "opinions":
            answer = visit.api(route, year=year, query=query)
            if not answer.ok:
                return visit.refusal(answer)
            return visit.render(f"staff_report_{kind}.html", report=answer.body, year=year, kind=kind)
        refused: list = []

        def fetch(page: dict) -> dict:  # a page of the list; a refusal ends the listing
            answer = visit.api(route, year=year, query=query | {k: str(v) for k, v in page.items()})
            if not answer.ok:
                refused.append(answer)
                return {"proposals": [], "listed": 0}
            return answer.body

        report = every_page(fetch)
        if refused:
            return visit.refusal(refused[0])
        return visit.render(f"staff_report_{kind}.html", report=report, year=year, kind=kind)
