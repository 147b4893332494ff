"""Micro-consultation (微协商) in the assignment service: the venue directory and the case registry.

- :mod:`.models` the tables (migration 0003), :mod:`.rules` the rulebook,
- :mod:`.directory` venues, towns and coverage statistics,
- :mod:`.cases` registering, reading and departments' commitments (RPC),
- :mod:`.steps` the jobs of ``bpmn/micro_consultation.bpmn``,
- :mod:`.service` the entrypoints mixed into ``AssignmentService``.
"""
