"""docs/security.md holds the HTTP permission matrix generated from the routes' declarations."""

from services.gateway import matrix
from services.gateway.tokens import ROLES
from shared.config import ROOT

DOC = ROOT / "docs" / "security.md"


def test_the_permission_matrix_in_docs_security_md_is_the_generated_one():
    text = DOC.read_text(encoding="utf-8")
    assert matrix.section() in text, "run: python -m services.gateway.matrix --write docs/security.md"


def test_every_route_names_its_roles_and_the_side_doors_are_for_operators():
    routes = {(r["method"], r["path"]): r["roles"] for r in matrix.routes()}
    assert all(roles and set(roles) <= set(ROLES) for roles in routes.values())
    assert routes[("POST", "/api/messages")] == ("operator",)
    assert routes[("POST", "/api/processes/{process_id}/instances")] == ("operator",)
    assert set(routes[("GET", "/api/processes")]) == {"staff", "designer", "operator"}
    assert set(routes[("GET", "/api/performance/terms")]) == {"staff", "designer", "operator"}
    anonymous = {(r["method"], r["path"]) for r in matrix.routes() if r["anonymous"]}
    assert anonymous and all(path.startswith("/api/public/") for _, path in anonymous)
    assert all(r["anonymous"] for r in matrix.routes() if r["path"].startswith("/api/public/"))
    public = {path for (method, path), roles in routes.items() if "public" in roles and (method, path) not in anonymous}
    assert public <= {
        "/api/me",
        "/api/proposals",
        "/api/proposals/{number}",
        "/api/published-proposals",  # published ones only, masked: what /api/proposals gives the public
        "/api/venues",
        "/api/notifications",
        "/api/notifications/{notification_id}/read",
    }, public
    unit_writes = [
        path for (method, path), roles in routes.items() if method == "POST" and path.startswith("/api/assignments/")
    ]
    assert unit_writes and all(routes[("POST", p)] == ("unit",) for p in unit_writes)


def test_the_amqp_half_has_its_place():
    # generated: tests/unit/shared/messaging/test_access.py
    assert "## AMQP permissions" in DOC.read_text(encoding="utf-8")
