"""The operators' pages: the queues (problem queues first), dead letters (show, replay, discard with
a reason), incidents (retry, resolve with a note), instances (search by business key, suspend,
resume, cancel with a reason) and one instance drawn on the diagram of its deployed version.

Every page and action calls the operators' API routes (``routes/operators.py``), so it is refused
as the API refuses: a person without the operator role gets the refusal page, on a post too."""

from __future__ import annotations

import json

from lxml import etree
from werkzeug.wrappers import Response

from shared import contracts
from shared.workflow.problems import BPMN_NS

from ..http import http
from .views import HEADERS, page, page_number, pager_of, redirect

# What an instance's list of variables shows of one value (the whole value is in the API's answer).
VALUE_SHOWN = 300
# The statuses of an instance that waits for nothing any more.
ENDED = ("completed", "cancelled")


def _safe_back(value: str | None, default: str) -> str:
    """Where an action goes back to: one of the operators' pages only."""
    return value if value and value.startswith("/console/ops/") and not value.startswith("//") else default


def queue_problems(queue: dict) -> list[str]:
    """Why a queue needs an operator's look (message keys), none for a healthy one: dead letters,
    work waiting with nobody consuming it. No threshold is invented here: age and depth order
    the rest (the alert rules are Prometheus's, docs/deployment.md)."""
    found = []
    if queue["name"] == contracts.DEAD_QUEUE and queue.get("messages"):
        found.append("ops.queue.problem.dead_queue")
    if queue.get("dead_letters"):
        found.append("ops.queue.problem.dead_letters")
    if queue.get("messages") and not queue.get("consumers") and queue["name"] != contracts.DEAD_QUEUE:
        found.append("ops.queue.problem.no_consumers")
    return found


def ordered_queues(queues: list[dict]) -> list[dict]:
    """The queues with their problems, problem queues first, then the oldest message, then depth."""
    rows = [dict(q, problems=queue_problems(q)) for q in queues]
    return sorted(
        rows,
        key=lambda q: (not q["problems"], -(q.get("oldest_age_seconds") or 0), -(q.get("messages") or 0), q["name"]),
    )


def element_names(xml: str) -> dict:
    """Each element's label in a BPMN file (its name, else its id)."""
    root = etree.fromstring(xml.encode(), etree.XMLParser(resolve_entities=False, no_network=True))
    return {
        el.get("id"): el.get("name") or el.get("id")
        for el in root.iter()
        if isinstance(el.tag, str) and el.tag.startswith(f"{{{BPMN_NS}}}") and el.get("id")
    }


def job_queue_of(operation: str | None) -> str | None:
    """The queue a job's operation is served from (``ztc.jobs.<service>``)."""
    return contracts.job_queue(operation.split(".", 1)[0]) if operation and "." in operation else None


def instance_view(where: dict, queues: list[dict] | None, names: dict, t, stood_at=()) -> dict:
    """What the instance page shows, the same on the diagram (marks) and in the list beside it:
    for each element with something to say, its state (token, incident, done; ``stopped`` where a
    cancelled instance's tokens stood when it was cancelled, ``stood_at``), the incidents on it,
    the open job and the broker state of the queue that serves it."""
    inst, by_name = where["instance"], {q["name"]: q for q in queues or ()}
    elements: dict[str, dict] = {}

    def element(element_id):
        return elements.setdefault(
            element_id,
            {
                "id": element_id,
                "name": names.get(element_id, element_id),
                "state": "done",
                "incidents": [],
                "jobs": [],
                "queue": None,
            },
        )

    # An instance that ended (completed, or cancelled by an operator) is nowhere now: nothing of it
    # is drawn as where it waits, even if a stale token is still reported.
    ended = inst.get("status") in ENDED
    for element_id in where.get("completed") or ():
        element(element_id)
    for element_id in () if ended else inst.get("waiting_tasks") or ():
        element(element_id)["state"] = "token"
    for token in () if ended else where.get("tokens") or ():
        if token["kind"] == "job":
            row = element(token["task"])
            row["state"] = "token" if row["state"] == "done" else row["state"]
            row["jobs"].append(token)
            name = job_queue_of(token.get("operation"))
            if name:
                row["queue"] = by_name.get(name, {"name": name, "missing": True})
    for element_id in stood_at if inst.get("status") == "cancelled" else ():
        element(element_id)["state"] = "stopped"
    for incident in inst.get("incidents") or ():
        row = element(incident["task"])
        row["state"] = "incident"
        row["incidents"].append(incident)
    markers, overlays = {}, []
    for row in elements.values():
        markers[row["id"]] = [row["state"]]
        if row["incidents"]:
            overlays.append(
                {
                    "element": row["id"],
                    "text": t("ops.badge.incident"),
                    "class": "incident",
                    "position": "top-right",
                    "title": row["incidents"][0]["error"][:200],
                }
            )
        if row["state"] == "stopped":
            overlays.append(
                {"element": row["id"], "text": t("ops.badge.stopped"), "class": "stopped", "position": "top-right"}
            )
        queue = row["queue"]
        if queue and not queue.get("missing") and row["state"] not in ("done", "stopped"):
            overlays.append(
                {
                    "element": row["id"],
                    "position": "bottom-right",
                    "text": t("ops.badge.queue", depth=queue.get("messages", 0), consumers=queue.get("consumers", 0)),
                }
            )
    order = {"incident": 0, "stopped": 1, "token": 2, "done": 3}
    rows = sorted(elements.values(), key=lambda r: order[r["state"]])
    return {"elements": rows, "marks": {"markers": markers, "overlays": overlays}}


def cancellation_of(history: list) -> dict | None:
    """The operator's cancellation of an instance (its history's last ``cancelled`` entry, data
    ``{reason, closed, stood_at}``): when, who, why and the elements its tokens stood at (none
    recorded for a cancellation before 2026-12-02); None when it was not cancelled."""
    entries = [h for h in history or () if h.get("action") == "cancelled"]
    if not entries:
        return None
    data = entries[-1].get("data") if isinstance(entries[-1].get("data"), dict) else {}
    stood_at = data.get("stood_at") if isinstance(data.get("stood_at"), list) else []
    return {
        "at": entries[-1].get("at"),
        "by": entries[-1].get("actor"),
        "reason": data.get("reason") or "",
        "stood_at": [str(element) for element in stood_at],
    }


def shown_value(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= VALUE_SHOWN else text[:VALUE_SHOWN] + "…"


class ConsoleOperatorRoutes:
    """Mixed into :class:`~services.gateway.service.GatewayService`."""

    # -- the bus -------------------------------------------------------------------------------
    @http("GET", "/console/ops/queues")
    @page
    def console_ops_queues(self, visit):
        answer = visit.api("ops_queues")
        if not answer.ok:
            return visit.refusal(answer)
        return visit.render("ops_queues.html", overview=answer.body, queues=ordered_queues(answer.body["queues"]))

    @http("GET", "/console/ops/dead-letters")
    @page
    def console_ops_dead_letters(self, visit):
        answer = visit.api("ops_dead_letters")
        if not answer.ok:
            return visit.refusal(answer)
        return visit.render(
            "ops_dead_letters.html",
            letters=answer.body,
            done=visit.request.args.get("done"),
            done_id=visit.request.args.get("id"),
        )

    @http("GET", "/console/ops/dead-letters/<string:letter_id>")
    @page
    def console_ops_dead_letter(self, visit, letter_id):
        answer = visit.api("ops_dead_letter", letter_id=letter_id)
        if not answer.ok:
            return visit.refusal(answer)
        letter = answer.body
        body = (
            letter["body"]
            if isinstance(letter["body"], str)
            else json.dumps(letter["body"], ensure_ascii=False, indent=2, default=str)
        )
        return visit.render(
            "ops_dead_letter.html",
            letter=letter,
            body=body,
            letter_headers=json.dumps(letter.get("headers") or {}, ensure_ascii=False, indent=2, default=str),
        )

    @http("POST", "/console/ops/dead-letters/<string:letter_id>/<string:action>")
    @page
    def console_ops_dead_letter_action(self, visit, letter_id, action):
        """replay (sent back where it came from) or discard (for good, with the reason given)."""
        if action == "replay":
            answer = visit.api("ops_replay_dead_letters", method="POST", body={"ids": [letter_id]})
            done = "replayed"
        elif action == "discard":
            answer = visit.api(
                "ops_discard_dead_letters",
                method="POST",
                body={"ids": [letter_id], "reason": visit.request.form.get("reason", "")},
            )
            done = "discarded"
        else:
            return visit.render("refused.html", status=404, answer=None)
        if answer.ok and not answer.body.get(done):
            # Nothing matched (already replayed or discarded by someone else) or it failed: say so.
            failed = answer.body.get("failed") or []
            message = failed[0].get("error", "") if failed else visit.t("ops.dead.gone", id=letter_id)
            return visit.render("refused.html", status=409, answer=type(answer)(409, {"message": message}))
        if not answer.ok:
            return visit.refusal(answer)
        return redirect(f"/console/ops/dead-letters?done={done}&id={letter_id}")

    # -- incidents -------------------------------------------------------------------------------
    @http("GET", "/console/ops/incidents")
    @page
    def console_ops_incidents(self, visit):
        """A page of the open incidents, newest first (``?page=``), with next/previous links."""
        answer = visit.api("incidents", query={"page": str(page_number(visit.request.args.get("page")))})
        if not answer.ok:
            return visit.refusal(answer)
        return visit.render("ops_incidents.html", incidents=answer.body["items"], **pager_of(answer.body))

    @http("POST", "/console/ops/incidents/<id:incident_id>/<string:action>")
    @page
    def console_ops_incident_action(self, visit, incident_id, action):
        """retry (its job sent again, or its step run again) or resolve (closed, with a note); back
        to the page the form was on, which says what became of the incident (``?incident=&done=``)
        — or, for a resolution left blank, that one is needed (``&refused=resolution``)."""
        back = _safe_back(visit.request.form.get("back"), "/console/ops/incidents").split("?", 1)[0]
        if action == "retry":
            answer = visit.api("retry_incident", method="POST", incident_id=incident_id)
        elif action == "resolve":
            resolution = visit.request.form.get("resolution", "").strip()
            if not resolution and "operator" in visit.roles:  # anyone else is refused by the API
                return redirect(f"{back}?incident={incident_id}&refused=resolution")
            answer = visit.api(
                "resolve_incident", method="POST", incident_id=incident_id, body={"resolution": resolution}
            )
        else:
            return visit.render("refused.html", status=404, answer=None)
        if not answer.ok:
            return visit.refusal(answer)
        return redirect(f"{back}?incident={incident_id}&done={answer.body.get('status', 'resolved')}")

    # -- instances -------------------------------------------------------------------------------
    @http("GET", "/console/ops/instances")
    @page
    def console_ops_instances(self, visit):
        args = visit.request.args
        query = {key: args.get(key, "").strip() for key in ("business_key", "process_id", "status")}
        answer = visit.api("ops_instances", query={k: v for k, v in query.items() if v})
        if answer.status == 400:
            return visit.render("ops_instances.html", status=400, query=query, rows=[], errors=answer.details)
        if not answer.ok:
            return visit.refusal(answer)
        return visit.render("ops_instances.html", query=query, rows=answer.body, errors={})

    @http("GET", "/console/ops/instances/<string:instance_id>")
    @page
    def console_ops_instance(self, visit, instance_id):
        where = visit.api("ops_where", instance_id=instance_id)
        if not where.ok:
            return visit.refusal(where)
        inst = where.body["instance"]
        full = visit.api("instance", instance_id=instance_id)
        history = visit.api("history", instance_id=instance_id)
        queues = visit.api("ops_queues")
        diagram = visit.api("version_diagram", process_id=inst["process_id"], version=inst["version"])
        names = element_names(diagram.body["xml"]) if diagram.ok else {}
        lines = history.body if history.ok else []
        cancelled = cancellation_of(lines) if inst.get("status") == "cancelled" else None
        view = instance_view(
            where.body,
            queues.body["queues"] if queues.ok else None,
            names,
            visit.t,
            stood_at=(cancelled or {}).get("stood_at") or (),
        )
        data = full.body.get("data") if full.ok else {}
        return visit.render(
            "ops_instance.html",
            inst=inst,
            where=where.body,
            view=view,
            history=lines,
            cancelled=cancelled,
            variables=[(k, shown_value(v)) for k, v in sorted((data or {}).items())],
            queues_unavailable=None if queues.ok else queues.message,
            version=diagram.body if diagram.ok else None,
        )

    @http("GET", "/console/ops/instances/<string:instance_id>/diagram.xml")
    @page
    def console_ops_instance_diagram(self, visit, instance_id):
        """The BPMN of the instance's deployed version, read from the engine (never from disk)."""
        where = visit.api("ops_where", instance_id=instance_id)
        if not where.ok:
            return visit.refusal(where)
        inst = where.body["instance"]
        diagram = visit.api("version_diagram", process_id=inst["process_id"], version=inst["version"])
        if not diagram.ok:
            return visit.refusal(diagram)
        return Response(diagram.body["xml"], mimetype="application/xml", headers=HEADERS)

    @http("POST", "/console/ops/instances/<string:instance_id>/<string:action>")
    @page
    def console_ops_instance_action(self, visit, instance_id, action):
        """suspend (a reason if given), resume, cancel (a reason required)."""
        # A browser sends each line break of a text box as CR LF: kept as one, as it was typed (and
        # as the box counted it against its limit).
        reason = visit.request.form.get("reason", "").replace("\r\n", "\n").strip()
        if action == "suspend":
            answer = visit.api("ops_suspend", method="POST", instance_id=instance_id, body={"reason": reason or None})
        elif action == "resume":
            answer = visit.api("ops_resume", method="POST", instance_id=instance_id)
        elif action == "cancel":
            answer = visit.api("ops_cancel", method="POST", instance_id=instance_id, body={"reason": reason})
        else:
            return visit.render("refused.html", status=404, answer=None)
        if not answer.ok:
            return visit.refusal(answer)
        return redirect(f"/console/ops/instances/{instance_id}")
