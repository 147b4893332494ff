"""Diagrams, instances, the task list and BPMN messages."""

from __future__ import annotations

from shared import contracts
from shared.errors import InvalidInput

from .. import schemas
from ..http import endpoint, given, http


# Whoever may be a candidate for a user task (the engine lists and completes only a caller's own).
TASK_ROLES = contracts.TASK_ROLES
# What GET /api/tasks takes: a page and the filters the engine applies in SQL.
_TASK_QUERY = ("page", "per_page", "instance_id", "business_key")


class ProcessRoutes:
    """Mixed into :class:`~services.gateway.service.GatewayService`, which supplies ``self.engine``,
    ``self.intake``, ``self.assignment``, ``self.supervision`` and ``self.evaluation`` (RPC proxies)."""

    # -- designers --------------------------------------------------------------------------
    @http("POST", "/api/deployments")
    @endpoint(
        "designer",
        "operator",
        body=schemas.DeploymentRequest,
        response=schemas.DeployedVersion(many=True),
        status=201,
        statuses=((422, "the diagram is refused: every problem in details.problems"),),
    )
    def deploy(self, request, principal, body):
        """Validate and deploy diagrams; a refused diagram answers 422 with every problem."""
        return 201, self.engine.deploy(body["files"], principal["user"])

    @http("GET", "/api/processes")
    @endpoint("staff", "designer", "operator", response=schemas.ProcessVersion(many=True))
    def versions(self, request, principal):
        """Deployed process versions."""
        return 200, self.engine.versions()

    @http("GET", "/api/processes/<string:process_id>/versions/<string:version>/diagram")
    @endpoint("staff", "designer", "operator", response=schemas.VersionDiagram)
    def version_diagram(self, request, principal, process_id, version):
        """The BPMN file a deployed version was made from, as the engine stored it (``version``: its
        number, its content hash or a prefix of it, or ``active``)."""
        return 200, self.engine.version_diagram(process_id, version)

    @http("GET", "/api/processes/<string:process_id>/versions/<string:version>/coverage")
    @endpoint("staff", "designer", "operator", response=schemas.VersionCoverage)
    def version_coverage(self, request, principal, process_id, version):
        """What the designers' scenario file of the version's diagram (``bpmn/<diagram>.scenarios.yaml``,
        as ``ztc test`` runs it) covers of that deployed version: each scenario's outcome, the
        elements entered and flows taken, and those missed (seconds the first time for a version)."""
        return 200, self.engine.version_coverage(process_id, version)

    @http("GET", "/api/processes/<string:process_id>/diff")
    @endpoint("staff", "designer", "operator", response=schemas.VersionDiff, query=("from", "to"))
    def version_diff(self, request, principal, process_id):
        """Elements added, removed and changed (label, type, condition, operation, form, timer…) from
        version ``from`` to version ``to`` of a process (each a number, a hash or ``active``)."""
        missing = [name for name in ("from", "to") if not request.args.get(name)]
        if missing:
            raise InvalidInput(
                "name the two versions to compare: ?from=A&to=B", {name: ["required"] for name in missing}
            )
        return 200, self.engine.diff_versions(request.args["from"], request.args["to"], process_id)

    # -- instances --------------------------------------------------------------------------
    @http("POST", "/api/processes/<string:process_id>/instances")
    @endpoint("operator", body=schemas.StartRequest, response=schemas.Instance, status=201, idempotent=True)
    def start(self, request, principal, process_id, body, key):
        """Start an instance of the active version of a process (operators only: people start a
        proposal, an opinion item or a case through their own routes, which check what they may).
        Once per request: a start the broker redelivers, or repeated with the same
        Idempotency-Key, answers the instance the first made."""
        return 201, self.engine.start(process_id, body["business_key"], body["data"], principal, request_key=key)

    @http("GET", "/api/instances/<string:instance_id>")
    @endpoint("staff", "operator", "leader", response=schemas.Instance)
    def instance(self, request, principal, instance_id):
        """An instance: status, where it waits, incidents."""
        return 200, self.engine.get_instance(instance_id)

    @http("GET", "/api/instances/<string:instance_id>/history")
    @endpoint("staff", "operator", "leader", response=schemas.HistoryEntry(many=True))
    def history(self, request, principal, instance_id):
        """Who did what, when, with what data."""
        return 200, self.engine.history(instance_id)

    # -- the task list -----------------------------------------------------------------------
    @http("GET", "/api/tasks")
    @endpoint(*TASK_ROLES, response=schemas.TaskPage, query=_TASK_QUERY)
    def tasks(self, request, principal):
        """A page of the open tasks the caller may act on, oldest first, with their total
        (``page``, ``per_page`` 1-200, default 50; filters ``instance_id``, ``business_key``)."""
        query = given(request, _TASK_QUERY)
        return 200, self.engine.task_page(principal, query)

    @http("POST", "/api/tasks/<string:task_id>/claim")
    @endpoint(*TASK_ROLES, body=schemas.EmptyRequest, response=schemas.Task)
    def claim(self, request, principal, task_id, body):
        """Claim a task so no one else completes it."""
        return 200, self.engine.claim(task_id, principal)

    @http("POST", "/api/tasks/<string:task_id>/complete")
    @endpoint(*TASK_ROLES, body=schemas.CompleteTaskRequest, response=schemas.Instance)
    def complete(self, request, principal, task_id, body):
        """Complete a task with its form's data."""
        return 200, self.engine.complete_task(task_id, body["data"], principal)

    # -- messages from department systems ----------------------------------------------------------
    @http("POST", "/api/messages")
    @endpoint("operator", body=schemas.MessageSchema, response=schemas.MessageAccepted, status=202)
    def message(self, request, principal, body):
        """Send a BPMN message, correlated by name and business key (operators only: a unit replies
        through its assignment routes, which check the assignment is its own)."""
        return 202, self.engine.send_message(body, principal)
