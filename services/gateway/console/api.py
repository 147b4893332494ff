"""The console calls the HTTP API's own route functions, with the session's token as the bearer:
the same role checks, the same body schemas, the same services deciding. A refusal comes back as
the API's status and JSON body, which the pages show."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request


@dataclass
class Answer:
    status: int
    body: object = field(default=None)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def message(self) -> str:
        return self.body.get("message", "") if isinstance(self.body, dict) else ""

    @property
    def details(self) -> dict:
        return self.body.get("details", {}) if isinstance(self.body, dict) else {}


def call(
    service,
    token: str | None,
    route: str,
    *,
    method: str = "GET",
    body: dict | None = None,
    query: dict | None = None,
    request_id: str | None = None,
    client=None,
    **path,
) -> Answer:
    """Call the gateway route function named ``route`` as an HTTP request would, with ``token``
    (None: no token, for the public routes). ``client``: the visitor's own request, whose address
    (and ``X-Forwarded-For``) the route sees, so a per-address limit counts each visitor."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    environ_base = None
    if client is not None:
        environ_base = {"REMOTE_ADDR": client.remote_addr or ""}
        if client.headers.get("X-Forwarded-For"):
            headers["X-Forwarded-For"] = client.headers["X-Forwarded-For"]
    builder = EnvironBuilder(method=method, query_string=query, json=body, headers=headers, environ_base=environ_base)
    environ = builder.get_environ()
    if request_id:
        environ["ztc.request_id"] = request_id
    response = getattr(service, route)(Request(environ), **path)
    data = response.get_data()
    try:
        parsed = json.loads(data) if data else None
    except ValueError:
        parsed = None
    return Answer(response.status_code, parsed)
