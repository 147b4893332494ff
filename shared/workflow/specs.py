"""Task specs the runtime substitutes for SpiffWorkflow's.

A service task does not call anything. Its run hook evaluates the operation's parameters, records
them on the task and returns ``None``, which leaves the task STARTED: the engine then writes the job
to its outbox in the same transaction that saves the instance (design.md, the job protocol).
"""

from __future__ import annotations

from SpiffWorkflow.spiff.specs.defaults import ServiceTask
from SpiffWorkflow.task import Task


class JobServiceTask(ServiceTask):  # type: ignore[misc]  # SpiffWorkflow ships no types
    """A service task whose work is done by a service over the bus."""

    def _execute(self, task: Task) -> None:
        params = {name: value["value"] for name, value in self.evaluate_params(task).items()}
        task._set_internal_data(job_params=params)
        return None

    @property
    def service(self) -> str:
        service: str = self.operation_name.split(".", 1)[0]
        return service
