"""The designers' pages: deployed versions of each process, a version's diagram, the diff of two
versions drawn on both diagrams, and a diagram uploaded and deployed — refused with every problem
marked on its element.

Each page calls the HTTP API's own routes (``versions``, ``version_diagram``, ``version_diff``,
``deploy``), so a person the API refuses is refused here, with the same 403."""

from __future__ import annotations

from collections import defaultdict

from werkzeug.wrappers import Response

from shared.workflow import diff as diagram_diff

from ..http import http
from .views import HEADERS, page, redirect

DIAGRAM_SUFFIXES = (".bpmn", ".dmn")


def by_process(rows: list[dict]) -> list[dict]:
    """Versions grouped per process, newest first within each, processes by id."""
    grouped = defaultdict(list)
    for row in rows:
        grouped[row["process_id"]].append(row)
    return [
        {
            "process_id": pid,
            "name": next((v["name"] for v in reversed(vs) if v.get("name")), ""),
            "versions": sorted(vs, key=lambda v: v["number"], reverse=True),
        }
        for pid, vs in sorted(grouped.items())
    ]


def problem_marks(problems: list[dict], file: str) -> dict:
    """The viewer's marks for the problems of one uploaded ``file``: each element named by a
    problem gets the ``problem`` marker and a badge with the numbers of its problems (as listed)."""
    numbers = defaultdict(list)
    for n, p in enumerate(problems, 1):
        if p.get("element_id") and p.get("file") in (file, None, ""):
            numbers[p["element_id"]].append(n)
    return {
        "markers": {e: ["problem"] for e in numbers},
        "overlays": [
            {
                "element": e,
                "text": ",".join(map(str, ns)),
                "class": "problem",
                "position": "top-left",
                "title": "; ".join(problems[n - 1]["message"] for n in ns),
            }
            for e, ns in numbers.items()
        ],
    }


def read_uploads(files, limit: int) -> tuple[dict, list[str]]:
    """The uploaded diagrams as ``{name: text}`` and what is wrong with the upload itself (no file,
    a file that is not .bpmn or .dmn, too large, or not UTF-8); nothing is kept."""
    found, errors = {}, []
    for upload in files:
        name = (upload.filename or "").replace("\\", "/").rsplit("/", 1)[-1]
        if not name:
            continue
        data = upload.stream.read(limit + 1)
        if not name.lower().endswith(DIAGRAM_SUFFIXES):
            errors.append(("deploy.not_diagram", name))
        elif len(data) > limit:
            errors.append(("deploy.too_large", name))
        else:
            try:
                found[name] = data.decode("utf-8")
            except UnicodeDecodeError:
                errors.append(("deploy.not_utf8", name))
    if not found and not errors:
        errors.append(("deploy.no_file", ""))
    return found, errors


class ConsoleDesignerRoutes:
    """Mixed into :class:`~services.gateway.service.GatewayService`."""

    @http("GET", "/console/designs")
    @page
    def console_designs(self, visit):
        answer = visit.api("versions")
        if not answer.ok:
            return visit.refusal(answer)
        return visit.render("designs.html", processes=by_process(answer.body))

    @http("GET", "/console/designs/<string:process_id>/versions/<string:version>")
    @page
    def console_design_version(self, visit, process_id, version):
        answer = visit.api("version_diagram", process_id=process_id, version=version)
        if not answer.ok:
            return visit.refusal(answer)
        found = visit.api("versions")
        rows = [v for v in (found.body if found.ok else []) if v["process_id"] == process_id]
        row = next((v for v in rows if v["version"] == answer.body["version"]), None)
        older = [v["number"] for v in rows if v["number"] < answer.body["number"]]
        return visit.render(
            "design_version.html",
            process_id=process_id,
            shown=answer.body,
            row=row,
            previous=max(older) if older else None,
            deployed=visit.request.args.get("deployed"),
        )

    @http("GET", "/console/designs/<string:process_id>/versions/<string:version>/diagram.xml")
    @page
    def console_design_diagram(self, visit, process_id, version):
        """The version's XML for the viewer, read from the engine (never from a file here)."""
        answer = visit.api("version_diagram", process_id=process_id, version=version)
        if not answer.ok:
            return visit.refusal(answer)
        return Response(answer.body["xml"], mimetype="application/xml", headers=HEADERS)

    @http("GET", "/console/designs/<string:process_id>/versions/<string:version>/coverage")
    @page
    def console_design_coverage(self, visit, process_id, version):
        """The version's diagram with what its scenarios cover marked ``covered``, the rest listed."""
        answer = visit.api("version_coverage", process_id=process_id, version=version)
        if not answer.ok:
            return visit.refusal(answer)
        covered = [*answer.body.get("reached", []), *answer.body.get("taken", [])]
        return visit.render(
            "design_coverage.html",
            process_id=process_id,
            cov=answer.body,
            marks={"markers": {e: ["covered"] for e in covered}},
        )

    @http("GET", "/console/designs/<string:process_id>/diff")
    @page
    def console_design_diff(self, visit, process_id):
        args = visit.request.args
        answer = visit.api(
            "version_diff", process_id=process_id, query={"from": args.get("from", ""), "to": args.get("to", "")}
        )
        if not answer.ok:
            return visit.refusal(answer)
        return visit.render(
            "design_diff.html", process_id=process_id, diff=answer.body, marks=diagram_diff.markers(answer.body)
        )

    @http("GET", "/console/designs/deploy")
    @page
    def console_deploy_form(self, visit):
        if not visit.may("deploy"):
            return visit.forbidden("deploy")
        return visit.render("deploy.html", limit=self._settings().console_max_diagram_bytes)

    @http("POST", "/console/designs/deploy")
    @page
    def console_deploy(self, visit):
        """Deploy the uploaded files through the API: the new version's page, or the form again
        with the refused diagram drawn and every problem marked on its element and listed."""
        if not visit.may("deploy"):
            return visit.forbidden("deploy")
        limit = self._settings().console_max_diagram_bytes
        files, errors = read_uploads(visit.request.files.getlist("files"), limit)
        if errors:
            return visit.render("deploy.html", status=400, limit=limit, upload_errors=errors)
        answer = visit.api("deploy", method="POST", body={"files": files})
        if answer.ok:
            first = answer.body[0]
            return redirect(
                f"/console/designs/{first['process_id']}/versions/{first['number']}?deployed={first['state']}"
            )
        if answer.status != 422:
            return visit.refusal(answer)
        problems = answer.details.get("problem_details", [])
        diagrams = [
            {"file": name, "xml": text, "marks": problem_marks(problems, name)}
            for name, text in files.items()
            if name.lower().endswith(".bpmn")
        ]
        return visit.render(
            "deploy.html",
            status=422,
            limit=limit,
            problems=problems,
            diagrams=diagrams,
            general=[p for p in problems if not p.get("element_id")],
            notes=answer.details.get("notes", []),
            message=answer.message,
        )
