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


def call(service, token: str, route: str, *, method: str = "GET", body: dict | None = None,
         query: dict | None = None, request_id: str | None = None, **path) -> Answer:
    """Call the gateway route function named ``route`` as an HTTP request would, with ``token``."""
    builder = EnvironBuilder(method=method, query_string=query, json=body,
                             headers={"Authorization": f"Bearer {token}"})
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
