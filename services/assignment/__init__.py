"""Assignment: the unit directory and the assignments of work to units."""
