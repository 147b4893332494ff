"""The contracts: the one description of what crosses the bus and the edge.

- :mod:`.bus` — exchanges, queues, routing keys and the envelopes (job, result, BPMN message,
  start command, domain event, notification).
- :mod:`.jobs` — every job operation a diagram may name (``<service>.<operation>``): its parameter
  schema (shapes only: a limit that depends on a rulebook stays in the owning service, which
  re-validates) and the BPMN errors it may raise.
- :mod:`.messages` — the BPMN messages the engine correlates, and who may send each.
- :mod:`.subscriptions` — each service's use of the bus: the queues it consumes and their keys, its
  job queue, whose RPC it answers and calls (the broker's definitions and permissions come from it).

Services, the engine and the gateway import these and never each other. ``docs/contracts.md`` is
generated from them (``python -m shared.contracts``) and a test keeps it in step.
"""

from . import jobs, messages, subscriptions  # noqa: F401 - contracts.jobs, .messages, .subscriptions
from .bus import *  # noqa: F401,F403 - the envelopes and names, as ``contracts.JOBS_EXCHANGE`` etc.
