"""The units intake names and checks: the directory's seed (``deploy/seed/units.yaml``, read by
:func:`shared.names.seeded_units`). The assignment service keeps the directory, seeded from the same
file; intake reads the file, not the service, so forwarding an opinion item or naming a unit in a
notice needs no call."""

from __future__ import annotations

from shared.names import seeded_units as seeded


def known_units() -> set[str]:
    """The unit codes of the directory seed."""
    return set(seeded())
