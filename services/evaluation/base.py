"""The evaluation database's declarative base, shared by its two areas (ratings and scores in
``models.py``; members' performance points in ``points/models.py``)."""

from __future__ import annotations

from shared.db import make_base

Base = make_base()
