"""Member performance (委员履职积分 / 履职档案): a points ledger fed only by domain events.

- :mod:`.rulebook`: the points rulebook of each term (``bpmn/rules/points/<term>.yaml``);
- :mod:`.rules`: the port the domain reads the terms' rulebooks through, built for each worker;
- :mod:`.repository`: the port (``uow.points``) over the directory, ledger, attendance and periods;
- :mod:`.models`: the members directory, the ledger, attendance records, periods, corrections;
- :mod:`.ledger`: how one event becomes ledger entries (rows, caps, the no-double-counting rule);
- :mod:`.attendance`: the organising office records attendance, which becomes an event;
- :mod:`.files`: a member's performance file, grades, statistics;
- :mod:`.periods`: publication, correction requests and corrections, closing;
- :mod:`.service`: the RPC and listener mixin of the evaluation service.

The rules are written down in ``docs/performance-points.md``.
"""
