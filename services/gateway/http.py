"""The gateway's HTTP plumbing: the guarded web server, ``endpoint`` and JSON answers. Each handler
authenticates, decodes, calls one service over RPC, encodes.

Errors are answers: a refusal from any service (``ZtcError``) becomes its HTTP status with a JSON
body ``{"error", "message", "details"}``. Bad input never reaches a service: a body larger than
``ZTC_HTTP_MAX_BODY_BYTES`` is refused (413) before it is read; a body that is not UTF-8, not JSON,
nested deeper than ``ZTC_HTTP_MAX_JSON_DEPTH`` or holding a lone surrogate is refused (400), and one
sent with a Content-Type other than JSON (a form, plain text) is refused (415). Any
other failure answers a generic 5xx body that names only the request id; the log line with the
same id carries the details. Every answer has an ``X-Request-Id`` header.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from functools import partial
import io
import json
import logging
import uuid

import eventlet
from eventlet.event import Event
from nameko.exceptions import RemoteError
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import HttpOnlyProtocol, WebServer, WsgiApp
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter, Map
from werkzeug.wrappers import Request, Response

from shared.contracts.fields import INT32_MAX

from shared import config
from shared.logs import one_line
from shared.errors import Conflict, Forbidden, InvalidInput, ZtcError
from shared.validation import json_from_outside, load

from . import idempotency, unavailable
from .tokens import ROLES

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-Id"
_REQUEST_ID = "ztc.request_id"
EVERYONE = ROLES  # a route any signed-in role may call (the services still decide what each sees)


def _settings(container=None):
    if container is not None and container.config.get("ZTC_SETTINGS") is not None:
        return container.config["ZTC_SETTINGS"]
    return config.load()


def _error_body(status: int, code: str, message: str, request_id: str | None, details=None) -> bytes:
    body = {"error": code, "message": message, "details": dict(details or {})}
    if request_id:
        body["details"].setdefault("request_id", request_id)
    return json.dumps(body, ensure_ascii=False).encode()


class GuardedApp:
    """WSGI middleware in front of every route: gives each request an id (the ``X-Request-Id``
    header of every answer, and in the log lines about it), refuses a path or query holding the NUL
    character (400), refuses a body over the limit before reading it (413, and the connection is
    closed rather than drained), and reads the whole body here, before any route's worker is taken:
    a client that takes longer than ``ZTC_HTTP_BODY_SECONDS`` to send it is refused (408), one
    that stops short or sends a broken chunked body is refused (400), so slow or broken clients
    hold a connection's green thread, never one of the workers every request needs. Anything that
    escapes the routes becomes a generic 500."""

    def __init__(self, app, max_body: int, body_seconds: float = 10.0):
        self.app, self.max_body, self.body_seconds = app, max_body, body_seconds

    def __call__(self, environ, start_response):
        request_id = uuid.uuid4().hex
        environ[_REQUEST_ID] = request_id

        def with_id(status, headers, exc_info=None):
            headers = [(k, v) for k, v in headers if k.lower() != REQUEST_ID_HEADER.lower()]
            headers.append((REQUEST_ID_HEADER, request_id))
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        refusal = self._check_target(environ) or self._read_body(environ)
        if refusal is not None:
            status, code, message = refusal
            log.info(
                "refused %s %s before any route: %s [request_id=%s]",
                environ.get("REQUEST_METHOD"),
                one_line(environ.get("PATH_INFO") or ""),
                message,
                request_id,
            )
            body = _error_body(int(status.split()[0]), code, message, request_id)
            with_id(
                status,
                [("Content-Type", "application/json"), ("Content-Length", str(len(body))), ("Connection", "close")],
            )
            return [body]
        try:
            return self.app(environ, with_id)
        except Exception as exc:  # the last resort: nothing escapes with its internals
            what = f"request {environ.get('REQUEST_METHOD')} {one_line(environ.get('PATH_INFO') or '')}"
            response = failure_response(exc, request_id, what)
            return response(environ, with_id)

    @staticmethod
    def _check_target(environ):
        if "\x00" in (environ.get("PATH_INFO") or "") or "%00" in (environ.get("QUERY_STRING") or ""):
            return "400 Bad Request", "invalid_input", "the path or the query holds the NUL character (%00)"
        return None

    def _read_body(self, environ):
        length = environ.get("CONTENT_LENGTH") or ""
        chunked = "chunked" in (environ.get("HTTP_TRANSFER_ENCODING") or "").lower()
        size = None
        if length.strip():
            try:
                size = int(length)
            except ValueError:
                return "400 Bad Request", "invalid_input", "the Content-Length header is not a number"
            if size < 0:
                return "400 Bad Request", "invalid_input", "the Content-Length header is negative"
            if size > self.max_body:
                return (
                    "413 Request Entity Too Large",
                    "too_large",
                    f"the request body has {size} bytes; at most {self.max_body} are taken",
                )
        elif not chunked:
            return None
        try:
            with eventlet.Timeout(self.body_seconds):
                data = environ["wsgi.input"].read(self.max_body + 1 if size is None else size)
        except eventlet.Timeout:
            return (
                "408 Request Timeout",
                "request_timeout",
                f"the request body did not arrive within {self.body_seconds:g} s",
            )
        except (ValueError, OSError) as exc:  # a chunk size that is not a number, a connection gone
            return "400 Bad Request", "invalid_input", f"the request body could not be read: {exc}"
        if size is not None and len(data) < size:
            return (
                "400 Bad Request",
                "invalid_input",
                f"the request body ended after {len(data)} of the {size} bytes its Content-Length says",
            )
        if len(data) > self.max_body:
            return (
                "413 Request Entity Too Large",
                "too_large",
                f"the request body is larger than the {self.max_body} bytes taken",
            )
        content_type = (environ.get("CONTENT_TYPE") or "").lower()
        if content_type.startswith("application/x-www-form-urlencoded") and b"%00" in data:
            return "400 Bad Request", "invalid_input", "a form field holds the NUL character (%00)"
        environ["wsgi.input"] = io.BytesIO(data)
        environ["CONTENT_LENGTH"] = str(len(data))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        environ["wsgi.input_terminated"] = False
        return None


class IdConverter(IntegerConverter):
    """``<id:name>``: a row id, 1 to 2**31-1 (what the id columns hold); anything else is not found."""

    def __init__(self, map, *args, **kwargs):
        super().__init__(map, min=1, max=INT32_MAX)


class YearConverter(IntegerConverter):
    """``<year:name>``: a year, 1900-2999."""

    def __init__(self, map, *args, **kwargs):
        super().__init__(map, min=1900, max=2999)


# The OpenAPI document's schema of each path converter.
PATH_SCHEMAS = {
    "id": {"type": "integer", "minimum": 1, "maximum": INT32_MAX},
    "year": {"type": "integer", "minimum": 1900, "maximum": 2999},
    "int": {"type": "integer"},
    "string": {"type": "string"},
}


class JsonWsgiApp(WsgiApp):
    """nameko's WSGI app, but a path no route takes (404) or a method it does not (405) is answered
    in JSON like every other refusal, not as werkzeug's HTML page."""

    def __call__(self, environ, start_response):
        request = Request(environ, shallow=True)
        adapter = self.url_map.bind_to_environ(environ)
        try:
            provider, values = adapter.match()
        except HTTPException as exc:
            code = exc.code or 404
            kind = {404: "not_found", 405: "method_not_allowed"}.get(code, "invalid_input")
            response = Response(
                _error_body(code, kind, exc.name.lower(), environ.get(_REQUEST_ID)),
                status=code,
                mimetype="application/json",
            )
            if code == 405 and getattr(exc, "valid_methods", None):
                response.headers["Allow"] = ", ".join(exc.valid_methods)
            return response(environ, start_response)
        request.path_values = values
        return provider.handle_request(request)(environ, start_response)


NO_CONTENT_TYPE = "ztc.no_content_type"  # environ key: the request sent no Content-Type at all


# eventlet refuses a few requests itself, before any of our code sees them, with an empty body:
# (its status line, lower-cased) -> (status, code, what the client is told).
_EVENTLET_REFUSALS = {
    b"414 request uri too long": (414, "uri_too_long", "the request line is longer than 8 KiB"),
    b"400 header line too long": (400, "header_too_long", "a header line is longer than 8 KiB"),
    b"400 headers too large": (400, "headers_too_large", "the headers are larger than 64 KiB"),
    b"400 bad request": (400, "bad_request", "Content-Length is no number, or sent beside Transfer-Encoding"),
}


class _JsonRefusals:
    """The connection's writer while eventlet reads a request: its own empty-bodied refusals
    become JSON refusals like every other answer's; anything else is written as it is."""

    def __init__(self, wfile) -> None:
        self._wfile = wfile
        self.reading = True  # until eventlet has read the request (then the app answers)

    def write(self, data: bytes):
        if self.reading and data[:10] == b"HTTP/1.0 4":
            refusal = _EVENTLET_REFUSALS.get(data.split(b"\r\n", 1)[0][9:].lower())
            if refusal is not None:
                status, code, message = refusal
                body = _error_body(status, code, message, None)
                data = (
                    f"HTTP/1.0 {status} {_REASONS[status]}\r\nConnection: close\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                ).encode() + body
        return self._wfile.write(data)

    def __getattr__(self, name):
        return getattr(self._wfile, name)


_REASONS = {400: "Bad Request", 414: "URI Too Long"}


class GuardedProtocol(HttpOnlyProtocol):  # type: ignore[misc]  # nameko ships no types
    """eventlet's protocol, with two changes. A request without a Content-Type gets ``text/plain``
    in eventlet's environ; this one also says there was none, so a JSON route reads such a body as
    JSON and refuses one really sent as text (415). And the requests eventlet refuses itself (a
    request line or a header too long, a Content-Length that is no number) get a JSON body saying
    why, not an empty one."""

    def handle_one_request(self):
        wfile = self.wfile
        self.wfile = _JsonRefusals(wfile)
        try:
            return super().handle_one_request()
        finally:
            self.wfile = wfile

    def get_environ(self):
        if isinstance(self.wfile, _JsonRefusals):  # the request was read: what is written now is the app's
            self.wfile.reading = False
        env = super().get_environ()
        if self.headers.get("content-type") is None:
            env[NO_CONTENT_TYPE] = True
        return env


class GuardedWebServer(WebServer):
    # A connection that sends nothing for this long (headers that never end, a kept-alive one left
    # idle) is closed: each open connection holds a green thread and a file descriptor.
    IDLE_SECONDS = 60.0

    def get_wsgi_server(self, sock, wsgi_app, protocol=GuardedProtocol, debug=False):
        server = super().get_wsgi_server(sock, wsgi_app, protocol=protocol, debug=debug)
        server.socket_timeout = self.IDLE_SECONDS
        return server

    def get_wsgi_app(self):
        settings = _settings(self.container)
        return GuardedApp(JsonWsgiApp(self), settings.http_max_body_bytes, settings.http_body_seconds)

    def make_url_map(self):
        url_map = Map(converters={"id": IdConverter, "year": YearConverter})
        for provider in self._providers:
            rule = provider.get_url_rule()
            rule.endpoint = provider
            url_map.add(rule)
        return url_map


class GuardedHttpHandler(HttpRequestHandler):
    """nameko's HTTP entrypoint; what escapes a handler (a console page's, say, whose session is
    read from the gateway's database before any route runs) is answered by
    :func:`failure_response`, with the request's id: a transient failure 503/504, a bug 500."""

    server = GuardedWebServer()

    def handle_request(self, request):
        request.shallow = False
        try:
            context_data = self.server.context_data_from_headers(request)
            args, kwargs = self.get_entrypoint_parameters(request)
            self.check_signature(args, kwargs)
            event = Event()
            self.container.spawn_worker(
                self, args, kwargs, context_data=context_data, handle_result=partial(self.handle_result, event)
            )
            return self.response_from_result(event.wait())
        except Exception as exc:
            return failure_response(exc, request_id(request), self.method_name)


http = GuardedHttpHandler.decorator


def request_id(request) -> str | None:
    return request.environ.get(_REQUEST_ID)


def failure_response(exc: Exception, rid: str | None, what: str) -> Response:
    """The answer to a failure that is not a refusal: a transient one of the bus, a database or a
    reply (:mod:`.unavailable`: 503/504 with ``Retry-After``), a service's own (502), or a bug of
    ours (500); each logged with the request id, answered without internals."""
    transient = unavailable.classify(exc)
    if transient is not None:
        log.warning(
            "%s answered %d %s, a transient failure [request_id=%s]: %s",
            what,
            transient.status,
            transient.code,
            rid,
            transient.cause,
        )
        response = _json(transient.status, transient.body(rid))
        response.headers.update(transient.headers)
        return response
    if isinstance(exc, RemoteError):
        log.error("a service failed [request_id=%s]: %s", rid, exc)
        return _json(502, {"error": "service_failed", "message": "internal error", "details": {"request_id": rid}})
    log.error("%s failed [request_id=%s]", what, rid, exc_info=exc)
    return _json(500, {"error": "internal_error", "message": "internal error", "details": {"request_id": rid}})


def _json(status: int, body) -> Response:
    return Response(json.dumps(body, ensure_ascii=False, default=str), status=status, mimetype="application/json")


def _refusal(exc: ZtcError) -> Response:
    """A refusal as JSON; a limit's (429) also says in ``Retry-After`` when to try again."""
    response = _json(exc.status, exc.to_dict())
    retry = exc.details.get("retry_after_seconds") if isinstance(exc.details, dict) else None
    if exc.status == 429 and retry is not None:
        response.headers["Retry-After"] = str(retry)
    return response


def _check_json(value, max_depth: int) -> None:
    """Refuse JSON nested deeper than ``max_depth`` or holding a string UTF-8 cannot carry (a lone
    surrogate, written as an escape), without recursion."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > max_depth:
                raise InvalidInput(
                    f"the request body is nested deeper than {max_depth} levels",
                    {"_body": [f"at most {max_depth} levels of objects and arrays"]},
                )
            children = item.items() if isinstance(item, dict) else ((None, v) for v in item)
            for key, child in children:
                if key is not None:
                    stack.append((key, depth))
                stack.append((child, depth + 1))
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise InvalidInput(
                    "the request body holds a string that is not valid Unicode",
                    {"_body": ["a lone surrogate (\\ud800-\\udfff) is not a character"]},
                ) from None


class UnsupportedMediaType(ZtcError):
    """A body sent as something other than JSON (a form, plain text) to a route that reads JSON."""

    status, code = 415, "unsupported_media_type"


def _is_json(mimetype: str) -> bool:
    return mimetype == "application/json" or (mimetype.startswith("application/") and mimetype.endswith("+json"))


def _body(request, max_depth: int = 32) -> dict:
    raw = request.get_data(cache=True)
    sent_as = "" if request.environ.get(NO_CONTENT_TYPE) else request.mimetype
    if raw.strip() and sent_as and not _is_json(sent_as):
        # A form or text body that happens to parse as JSON is still not what the client meant to
        # send (curl -d sends a form): said, not guessed. No Content-Type at all is read as JSON.
        raise UnsupportedMediaType(
            f"the request body is {request.mimetype}; send it as application/json",
            {"_body": ["Content-Type: application/json"]},
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("the request body is not UTF-8", {"_body": ["send UTF-8 encoded JSON"]}) from None
    if not text.strip():
        return {}
    try:
        data = json_from_outside(text)
    except RecursionError:
        raise InvalidInput(
            f"the request body is nested deeper than {max_depth} levels",
            {"_body": [f"at most {max_depth} levels of objects and arrays"]},
        ) from None
    except ValueError as exc:
        raise InvalidInput("the request body is not valid JSON", {"_body": [str(exc)]}) from None
    if not isinstance(data, dict):
        raise InvalidInput("the request body must be a JSON object", {"_body": ["expected an object"]})
    _check_json(data, max_depth)
    return data


IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_DOC = (
    "Makes the request safe to repeat: a repeat by the same caller with the same key answers "
    "what the first made and creates nothing. The key belongs to the request it first succeeded "
    "with: another request under it (another path, or another body; the order of a body's keys "
    "does not count) is refused with 422 idempotency_key_reused. A request that failed leaves the "
    "key free, to send corrected. 1-100 printable characters. Without it each HTTP request gets a "
    "key of its own, so a request the broker redelivers to a restarted service is still recorded once."
)


def given(request, names) -> dict:
    """The query arguments among ``names`` that the request gives, empty ones left out: what a
    route passes on for a schema to load (defaults for the rest, a refusal naming a bad one)."""
    return {name: request.args[name] for name in names if request.args.get(name)}


def no_unknown_arguments(request, accepted: frozenset[str]) -> None:
    """InvalidInput naming every query argument the route does not take (a misspelt filter would
    otherwise be ignored, and the caller answered as if it had not asked for one)."""
    unknown = sorted(name for name in request.args if name not in accepted)
    if unknown:
        takes = ", ".join(sorted(accepted)) or "no query arguments"
        raise InvalidInput(
            f"unknown query argument{'s' if len(unknown) > 1 else ''} {', '.join(repr(n) for n in unknown)}; "
            f"this call takes {takes}",
            {name: [f"unknown query argument; this call takes {takes}"] for name in unknown},
        )


def request_key(request) -> str:
    """The creating request's idempotency key: the client's ``Idempotency-Key`` header, or a
    fresh uuid4 for this HTTP request."""
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return str(uuid.uuid4())
    if not 1 <= len(key) <= 100 or not key.isprintable():
        raise InvalidInput(
            f"the {IDEMPOTENCY_HEADER} header is invalid", {IDEMPOTENCY_HEADER: ["1 to 100 printable characters"]}
        )
    return key


PUBLIC_USER = "public"  # who an unauthenticated caller of a public route acts as


def endpoint(
    *roles,
    body=None,
    response=None,
    status=200,
    query=(),
    html=False,
    idempotent=False,
    statuses=(),
    files=(),
    anonymous=False,
):
    """Authenticate, check the caller holds one of ``roles``, validate the body with the ``body``
    schema (the handler gets it as ``body=``), map errors. Every route names its roles (``EVERYONE``
    for any signed-in role): they are the HTTP permission matrix (docs/security.md).
    ``response``, ``status`` and ``query`` describe the route in the OpenAPI document (``query``:
    names, or ``(name, schema)`` pairs); a query argument the route does not name in ``query`` is
    refused (400 naming it and those it takes); ``html`` says the route also answers a printable HTML
    document (the handler returns a ``Response`` for it); ``statuses`` adds answers particular to
    the route (e.g. 422). ``files``: the content types of a file the route answers instead of JSON
    (an export). ``idempotent``: a creating route; the handler gets the request's
    idempotency key as ``key=`` (see :func:`request_key`) and passes it to the service.
    ``anonymous``: a public route (``/api/public/...``) that needs no token; every role is let through
    and the caller acts as the ``public`` role (user ``public``), whatever token it may send, so the
    answer never depends on who asks."""
    if anonymous:
        roles = roles or ROLES
    if not roles:
        raise TypeError("endpoint() needs the roles allowed (EVERYONE for any signed-in role)")
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise TypeError(f"unknown roles: {', '.join(sorted(unknown))}")
    accepted = frozenset(q if isinstance(q, str) else q[0] for q in query)

    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, request, **kwargs):
            rid = request_id(request)
            try:
                principal = self._anonymous() if anonymous else self._principal(request)
                if not set(roles) & set(principal["roles"]):
                    raise Forbidden(f"this needs one of the roles: {', '.join(roles)}", {"roles": list(roles)})
                if request.args:
                    no_unknown_arguments(request, accepted)
                if idempotent:
                    kwargs["key"] = request_key(request)
                given_key = request.headers.get(IDEMPOTENCY_HEADER) if idempotent else None
                if body is not None or given_key is not None:  # the body read once, for both
                    sent = _body(request, self._settings().http_max_json_depth)
                if body is not None:
                    kwargs["body"] = load(body, sent, "the request body")
                if given_key is not None:  # held to the request it first made (.idempotency)
                    printed = idempotency.fingerprint(request.path, sent)
                    idempotency.check(self.db.session, principal["user"], given_key, printed)
                    self.db.rollback()  # the read's transaction is not held over the call
                code, result = method(self, request, principal, **kwargs)
                if given_key is not None and 200 <= code < 300:
                    idempotency.remember(self.db.session, principal["user"], given_key, printed, request.path)
                    self.db.commit()
                return result if isinstance(result, Response) else _json(code, result)
            except ZtcError as exc:
                return _refusal(exc)
            except Exception as exc:
                return failure_response(exc, rid, method.__name__)

        wrapper.openapi = {
            "roles": roles,
            "body": body,
            "response": response,
            "status": status,
            "query": query,
            "html": html,
            "idempotent": idempotent,
            "statuses": statuses,
            "files": tuple(files),
            "anonymous": anonymous,
        }
        return wrapper

    return decorate


def complete_open_task(
    engine,
    principal,
    process_id: str,
    business_key: str,
    task: str,
    data: dict,
    what: str,
    why_not: Callable[[], object] | None = None,
) -> None:
    """Complete the caller's open ``task`` of the ``process_id`` instance keyed ``business_key``
    with ``data`` (the engine checks the caller and the form); 409 naming ``what`` if none waits.
    ``why_not``, asked only then: the owning service's own refusal if it has one (a Conflict naming
    a cancellation, say), raised instead; any other answer of it keeps the 409 above."""
    mine = [t for t in engine.list_tasks(principal, None, business_key, process_id) if t["task"] == task]
    if not mine:
        refusal = Conflict(f"{what} is not waiting for {task.replace('_', ' ')} by you")
        if why_not is not None:
            try:
                why_not()
            except Conflict:
                raise
            except ZtcError:
                pass
        raise refusal
    engine.complete_task(mine[0]["task_id"], data, principal)
