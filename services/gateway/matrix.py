"""The HTTP permission matrix, generated from the routes' declarations: each route's ``endpoint(...)``
roles (services/gateway/http.py) against every role a token can carry. docs/security.md holds it
between markers; ``python -m services.gateway.matrix --write docs/security.md`` writes it there, a
unit test checks it is current, and tests/e2e/test_permission_matrix.py runs every row against a
running system.

"Allowed" is the gateway's first filter: the service behind the route decides again what the
caller may see or do of each object (a member's own proposals, a unit's own assignments).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from nameko.web.handlers import HttpRequestHandler

from .tokens import ROLES

BEGIN = "<!-- http-permission-matrix:begin (generated: python -m services.gateway.matrix --write docs/security.md) -->"
END = "<!-- http-permission-matrix:end -->"
_PARAM = re.compile(r"<(?:\w+(?:\([^)]*\))?:)?(\w+)>")


def routes(service_cls=None) -> list[dict]:
    """Every route with a token: ``{method, path, url, name, roles}``, by path then method."""
    if service_cls is None:
        from .service import GatewayService as service_cls
    found = []
    for name in dir(service_cls):
        method = getattr(service_cls, name)
        meta = getattr(method, "openapi", None)
        for entrypoint in getattr(method, "nameko_entrypoints", ()):
            if isinstance(entrypoint, HttpRequestHandler) and meta is not None:
                found.append(
                    {
                        "method": entrypoint.method,
                        "url": entrypoint.url,
                        "path": _PARAM.sub(r"{\1}", entrypoint.url),
                        "name": method.__name__,
                        "roles": tuple(meta["roles"]),
                        "anonymous": bool(meta.get("anonymous")),
                    }
                )
    return sorted(found, key=lambda r: (r["path"], r["method"]))


def rows(service_cls=None) -> list[dict]:
    """One row per route and role: ``{method, path, url, name, role, allowed}``."""
    return [
        {**route, "role": role, "allowed": role in route["roles"]} for route in routes(service_cls) for role in ROLES
    ]


def markdown(service_cls=None) -> str:
    header = "| route | " + " | ".join(ROLES) + " |"
    lines = [header, "|---|" + "---|" * len(ROLES)]
    for route in routes(service_cls):
        cells = ["✓" if role in route["roles"] else "403" for role in ROLES]
        public = " (public: no token)" if route["anonymous"] else ""
        lines.append(f"| `{route['method']} {route['path']}`{public} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(
        f"{len(routes(service_cls))} routes × {len(ROLES)} roles. ✓: the gateway lets the role "
        "through (the service then decides for each object); 403: refused before any service "
        "is called. `GET /health`, `GET /ready` and `GET /openapi.json` need no token, nor do the public "
        "routes marked so, which every caller reaches as the public role (with a token or none)."
    )
    return "\n".join(lines)


def section(service_cls=None) -> str:
    return f"{BEGIN}\n{markdown(service_cls)}\n{END}"


def replace_in(text: str, service_cls=None) -> str:
    start, end = text.index(BEGIN), text.index(END) + len(END)
    return text[:start] + section(service_cls) + text[end:]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.gateway.matrix", description=__doc__)
    parser.add_argument("--write", metavar="FILE", help="replace the matrix between the markers in FILE")
    args = parser.parse_args(argv)
    if args.write:
        path = Path(args.write)
        path.write_text(replace_in(path.read_text(encoding="utf-8")), encoding="utf-8")
    else:
        print(section())
    return 0


if __name__ == "__main__":
    sys.exit(main())
