"""Request and answer shapes the gateway and the services share, per area: proposals, opinion
items, micro-consultation. Shapes only: a limit that comes from a rulebook is checked again by the
owning service (which extends these schemas)."""
