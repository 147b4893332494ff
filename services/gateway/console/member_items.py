"""A member's (and an informant's) opinion items (我的社情民意信息): the list, one item's page
(status, its timeline with the deadlines explained, reports, adoptions, instructions, forwards and
answers as the API gives them to its submitter), submitting or saving a new item and submitting a
saved one; and a member's performance file (我的履职档案): every point with the event behind it,
per period, and the totals.

Intake and evaluation decide who may read what; these pages show what the API answers."""

from __future__ import annotations

from ..http import http
from .leader import opinion_labels
from .views import page, page_number, pager_of, redirect

# The opinion process's main stages in order (docs/opinion-process.md, "States"): the timeline
# marks those passed. Side paths (saved, not adopted, not handled, converted) are shown as the status.
STAGES = ("submitted", "reviewed", "sent", "adopted", "forwarded", "handled")
FIELDS = ("title", "situation", "analysis", "suggestion")
# History entries that carry a deadline (its rule, start, length and rulebook version).
DEADLINE_DATA = {"sent": "adoption_wait", "forwarded": "answer_due"}


def _draft(form) -> dict:
    draft = {key: form.get(key, "") for key in FIELDS}
    draft["urgent"] = form.get("urgent") == "yes"
    draft["submit"] = form.get("action") != "save"
    return draft


def deadlines_of(item: dict) -> list[dict]:
    """The deadlines the item's history recorded (the recipients' adoption wait, the departments'
    answers), each with its rule, start, length, due date and rulebook version, oldest first."""
    found = []
    for entry in item.get("history") or ():
        key = DEADLINE_DATA.get(entry.get("action"))
        data = (entry.get("data") or {}).get(key) if key else None
        if isinstance(data, dict) and data.get("due"):
            found.append(data)
    return found


def by_period(entries: list[dict]) -> list[tuple[str, list[dict], int]]:
    """The file's entries grouped by the quarter they count in: ``(period, entries, points)``."""
    groups: dict[str, list[dict]] = {}
    for entry in entries:
        groups.setdefault(entry.get("period") or "", []).append(entry)
    return [(period, rows, sum(e.get("points") or 0 for e in rows)) for period, rows in groups.items()]


class ConsoleMemberItemRoutes:
    """Mixed into :class:`~services.gateway.service.GatewayService`."""

    @http("GET", "/console/opinions")
    @page
    def console_my_opinions(self, visit):
        """A page of the caller's own items, newest first (``?page=``), the drafts among them apart."""
        query = {"mine": "true", "page": str(page_number(visit.request.args.get("page")))}
        answer = visit.api("list_opinions", query=query)
        if not answer.ok:
            return visit.refusal(answer)
        return visit.render("member_opinions.html", items=answer.body["items"], **pager_of(answer.body))

    @http("GET", "/console/opinions/new")
    @page
    def console_new_opinion(self, visit):
        if not visit.may("submit_opinion"):
            return visit.forbidden("submit_opinion")
        return self._opinion_form(visit, {key: "" for key in FIELDS} | {"urgent": False})

    def _opinion_form(self, visit, draft, errors=None, status=200):
        return visit.render("member_opinion_new.html", status=status, draft=draft, errors=errors or {})

    @http("POST", "/console/opinions")
    @page
    def console_submit_opinion(self, visit):
        draft = _draft(visit.request.form)
        answer = visit.api("submit_opinion", method="POST", body=draft)
        if answer.status == 400:  # shown again with every field as typed, and what is wrong with each
            return self._opinion_form(visit, draft, answer.details or {"_": [answer.message]}, answer.status)
        if not answer.ok:
            return visit.refusal(answer)
        return redirect(f"/console/opinions/{answer.body['number']}")

    @http("GET", "/console/opinions/<string:number>")
    @page
    def console_opinion(self, visit, number):
        answer = visit.api("get_opinion", number=number)
        if not answer.ok:
            return visit.refusal(answer)
        item = answer.body
        status = item.get("status", "")
        cancelled = status == "cancelled"
        if cancelled:  # the stages it had reached stay done; its deadlines no longer run
            lines = [e for e in item.get("history") or () if e.get("action") == "cancelled"]
            status = ((lines[-1].get("data") or {}).get("was") or "") if lines else ""
        return visit.render(
            "member_opinion.html",
            item=item,
            stages=STAGES,
            reached=STAGES.index(status) if status in STAGES else -1,
            deadlines=[] if cancelled else deadlines_of(item),
            labels=opinion_labels(),
            mine=item.get("submitter") == visit.principal["user"],
        )

    @http("POST", "/console/opinions/<string:number>/submit")
    @page
    def console_submit_saved_opinion(self, visit, number):
        answer = visit.api("submit_saved_opinion", method="POST", number=number)
        return redirect(f"/console/opinions/{number}") if answer.ok else visit.refusal(answer)

    @http("GET", "/console/performance")
    @page
    def console_my_performance(self, visit):
        period = visit.request.args.get("period", "").strip()
        query = {"period": period} if period else None
        answer = visit.api("performance_file", member=visit.principal["user"], query=query)
        if not answer.ok:
            return visit.refusal(answer)
        file = answer.body
        return visit.render(
            "member_performance.html", file=file, period=period, periods=by_period(file.get("entries") or [])
        )
