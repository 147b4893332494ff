"""Messaging: the bus topology, the outbox and its relay, and the ``@job`` entrypoint."""
