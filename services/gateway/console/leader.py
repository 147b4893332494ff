"""A leader's pages: the year's key proposals (重点提案) with each one's supervision log, to which
the supervising leader adds visits, meetings, instructions and notes; and the opinion items
awaiting a leader's instruction (领导批示) with a form for each adopted report.

The API decides who may (a key proposal's log is written by its supervising leader only; an
instruction needs an adopted report on its channel); these pages show what it answers."""

from __future__ import annotations


from shared.rulebook import rules_as_written

from ..http import http
from .views import page, page_number, pager_of, redirect, year_asked

LOG_KINDS = ("visit", "meeting", "instruction", "note")  # the API's supervision log kinds
WAITING_PER_PAGE = 20  # items awaiting an instruction shown at once, a form for each adopted report


def opinion_labels() -> dict:
    """The opinion rulebook's recipient channels and instruction levels (code, zh, en), for the
    form's choices and names, read again when the file changes; intake checks the one chosen
    against the same file."""
    rules = opinion_rulebook()
    return {section: rules.get(section) or [] for section in ("channels", "instruction_levels")}


def opinion_rulebook() -> dict:
    """``bpmn/rules/opinion.yaml`` as the console reads it (what its pages show, not what intake
    checks), read again when the file changes."""
    return rules_as_written("opinion")


def awaiting_instruction(items: list[dict]) -> list[dict]:
    """Each adopted report of ``items`` with no instruction recorded on its channel yet:
    ``{number, title, channel, issue, adopted_at}``, in the items' order (the API's, newest
    first), an item's channels by when they adopted it."""
    waiting = []
    for item in items:
        instructed = {i.get("channel") for i in item.get("instructions") or ()}
        adopted = [
            report
            for report in item.get("reports") or ()
            if report.get("adoption") == "adopted" and report.get("channel") not in instructed
        ]
        for report in sorted(adopted, key=lambda r: (r.get("adoption_at") or "", r["channel"])):
            waiting.append(
                {
                    "number": item["number"],
                    "title": item.get("title", ""),
                    "channel": report["channel"],
                    "issue": report.get("issue"),
                    "adopted_at": report.get("adoption_at") or "",
                }
            )
    return waiting


def titles_of(year_view: dict) -> dict:
    """The titles the year's lists give their proposals (the key proposals' own rows carry none)."""
    return {i["number"]: i.get("title") for lst in year_view.get("lists") or () for i in lst.get("items") or ()}


class ConsoleLeaderRoutes:
    """Mixed into :class:`~services.gateway.service.GatewayService`."""

    @http("GET", "/console/leader/key-proposals")
    @page
    def console_key_proposals(self, visit):
        year = year_asked(visit.request.args.get("year"))
        answer = visit.api("key_proposals_of_year", year=year)
        if not answer.ok:
            return visit.refusal(answer)
        return visit.render("leader_key_proposals.html", year=year, view=answer.body, titles=titles_of(answer.body))

    @http("GET", "/console/leader/supervision/<string:number>")
    @page
    def console_supervision_log(self, visit, number):
        return self._supervision_page(visit, number)

    def _supervision_page(self, visit, number, typed=None, refused=None, status=200):
        answer = visit.api("key_supervision_log", number=number)
        if not answer.ok:
            return visit.refusal(answer)
        return visit.render(
            "leader_supervision.html",
            status=status,
            log=answer.body,
            kinds=LOG_KINDS,
            typed=typed or {},
            refused=refused,
        )

    @http("POST", "/console/leader/supervision/<string:number>")
    @page
    def console_add_supervision_entry(self, visit, number):
        form = visit.request.form
        body = {"kind": form.get("kind", ""), "text": form.get("text", "")}
        answer = visit.api("log_key_supervision", method="POST", number=number, body=body)
        if answer.status == 400:
            return self._supervision_page(visit, number, body, answer, 400)
        return redirect(f"/console/leader/supervision/{number}") if answer.ok else visit.refusal(answer)

    @http("GET", "/console/leader/opinions")
    @page
    def console_opinions_to_instruct(self, visit):
        return self._instructions_page(visit, page_number(visit.request.args.get("page")))

    def _instructions_page(self, visit, asked, typed=None, refused=None, status=200):
        """Page ``asked`` of the items awaiting an instruction; ``typed``: the form refused, shown
        again on its page (the form says which) with what is wrong."""
        if not visit.may("record_instruction"):  # the list is for those who may instruct
            return visit.forbidden("record_instruction")
        query = {"awaiting": "instruction", "page": str(asked), "per_page": str(WAITING_PER_PAGE)}
        answer = visit.api("list_opinions", query=query)
        pages = pager_of(answer.body)["pages"] if answer.ok else 1
        if answer.ok and asked > pages:  # the last one instructed on the last page: the page before
            answer = visit.api("list_opinions", query=query | {"page": str(pages)})
        if not answer.ok:
            return visit.refusal(answer)
        return visit.render(
            "leader_opinions.html",
            status=status,
            waiting=awaiting_instruction(answer.body["items"]),
            labels=opinion_labels(),
            typed=typed or {},
            refused=refused,
            **pager_of(answer.body),
        )

    @http("POST", "/console/leader/opinions/<string:number>/instructions")
    @page
    def console_record_instruction(self, visit, number):
        form = visit.request.form
        body = {key: form.get(key, "") for key in ("channel", "level", "leader", "text")}
        answer = visit.api("record_instruction", method="POST", number=number, body=body)
        asked = page_number(form.get("page"))  # the page the form was on: shown again, or gone back to
        if answer.status == 400:
            return self._instructions_page(visit, asked, {"number": number, **body}, answer, 400)
        if not answer.ok:
            return visit.refusal(answer)
        return redirect("/console/leader/opinions" + (f"?page={asked}" if asked > 1 else ""))
