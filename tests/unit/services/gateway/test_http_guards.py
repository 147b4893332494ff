"""The gateway's request guards without a running system: the WSGI middleware (request ids, the
body cap, generic 500s), reading a body (UTF-8, depth, lone surrogates), the generic 5xx of a
route, tokens that expire and are revoked, and private files."""

from __future__ import annotations

import io
import json
import os
import stat
from datetime import timedelta

import logging

import pytest
from amqp.exceptions import AccessRefused, RecoverableConnectionError
from kombu.exceptions import OperationalError as KombuOperationalError
from nameko.exceptions import RemoteError, RpcTimeout, UnknownService
from sqlalchemy import create_engine, exc as sa
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import QueuePool
from werkzeug.test import Client, EnvironBuilder
from werkzeug.wrappers import Request, Response

from services.gateway import http, tokens, unavailable
from services.gateway.models import Base
from shared import config
from shared.db import dispose_all, get_engine, session_factory
from shared.errors import InvalidInput, Unauthenticated


def echo_app(environ, start_response):
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    return Response(json.dumps({"read": len(body)}), mimetype="application/json")(environ, start_response)


def failing_app(environ, start_response):
    raise KeyError("a secret detail")


def test_every_answer_has_a_request_id_and_a_body_over_the_cap_is_refused_unread():
    client = Client(http.GuardedApp(echo_app, max_body=100))
    ok = client.post("/x", data=b"a" * 100)
    assert ok.status_code == 200 and ok.json == {"read": 100} and len(ok.headers["X-Request-Id"]) == 32
    big = client.post("/x", data=b"a" * 101)
    assert big.status_code == 413 and big.json["error"] == "too_large"
    assert big.headers["X-Request-Id"] == big.json["details"]["request_id"]
    assert big.headers["Connection"] == "close"
    environ = EnvironBuilder(method="POST", path="/x").get_environ()
    environ["CONTENT_LENGTH"] = "many"
    status = []
    http.GuardedApp(echo_app, max_body=100)(environ, lambda s, h, e=None: status.append(s))
    assert status[0].startswith("400")


def test_a_chunked_body_is_read_only_up_to_the_cap():
    class Endless(io.RawIOBase):
        def readable(self):
            return True

        def readinto(self, buffer):
            buffer[: len(buffer)] = b"a" * len(buffer)
            return len(buffer)

    app = http.GuardedApp(echo_app, max_body=1000)
    environ = EnvironBuilder(method="POST", path="/x").get_environ()
    environ.update({"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": io.BufferedReader(Endless())})
    environ.pop("CONTENT_LENGTH", None)
    status = []
    app(environ, lambda s, h, e=None: status.append(s))
    assert status[0].startswith("413")


def _call(app, environ):
    status, chunks = [], []
    chunks = b"".join(app(environ, lambda s, h, e=None: status.append(s)))
    return status[0], json.loads(chunks) if chunks else None


def test_a_body_that_does_not_arrive_in_time_is_refused_with_408_before_any_route_runs():
    import eventlet

    class Stalled(io.RawIOBase):
        def readable(self):
            return True

        def readinto(self, buffer):
            eventlet.sleep(30)  # a client that sent its headers and then nothing
            return 0

    reached = []
    app = http.GuardedApp(lambda e, s: reached.append(e) or [], max_body=1000, body_seconds=0.2)
    environ = EnvironBuilder(method="POST", path="/api/proposals").get_environ()
    environ.update({"CONTENT_LENGTH": "100", "wsgi.input": io.BufferedReader(Stalled())})
    status, body = _call(app, environ)
    assert status.startswith("408") and body["error"] == "request_timeout" and "0.2 s" in body["message"]
    assert reached == []


def test_a_body_shorter_than_its_length_or_a_broken_chunk_is_a_400_in_json():
    app = http.GuardedApp(echo_app, max_body=1000)
    environ = EnvironBuilder(method="POST", path="/x").get_environ()
    environ.update({"CONTENT_LENGTH": "100", "wsgi.input": io.BytesIO(b"{")})
    status, body = _call(app, environ)
    assert status.startswith("400") and "ended after 1 of the 100 bytes" in body["message"]

    class BrokenChunks(io.RawIOBase):
        def readable(self):
            return True

        def readinto(self, buffer):
            raise ValueError("invalid literal for int() with base 16: 'zz'")  # what eventlet raises

    environ = EnvironBuilder(method="POST", path="/x").get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ.update({"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": io.BufferedReader(BrokenChunks())})
    status, body = _call(app, environ)
    assert status.startswith("400") and body["error"] == "invalid_input" and "could not be read" in body["message"]


@pytest.mark.parametrize(
    "path, query, form",
    [
        ("/api/proposals/2026-0001\x00", "", None),
        ("/api/tasks", "business_key=%00", None),
        ("/login", "", b"user=a%00b"),
    ],
)
def test_the_nul_character_in_a_path_a_query_or_a_form_is_a_400(path, query, form):
    app = http.GuardedApp(echo_app, max_body=1000)
    builder = EnvironBuilder(
        method="POST" if form else "GET",
        path="/",
        data=form,
        content_type="application/x-www-form-urlencoded" if form else None,
    )
    environ = builder.get_environ()
    environ.update({"PATH_INFO": path, "QUERY_STRING": query})
    status, body = _call(app, environ)
    assert status.startswith("400") and "NUL" in body["message"]


def test_anything_that_escapes_answers_a_generic_500():
    response = Client(http.GuardedApp(failing_app, max_body=100)).get("/x")
    assert response.status_code == 500 and response.json["message"] == "internal error"
    assert "secret" not in response.text and response.json["details"]["request_id"] == response.headers["X-Request-Id"]


def request(body: bytes) -> Request:
    return Request(EnvironBuilder(method="POST", data=body).get_environ())


@pytest.mark.parametrize(
    "body, says",
    [
        (b"[" * 2000 + b"]" * 2000, "nested"),
        (json.dumps({"a": json.loads("[" * 40 + "]" * 40)}).encode(), "nested"),
        (b'{"title": "\\ud800"}', "Unicode"),
        (b'{"\\udfff": 1}', "Unicode"),
        (b'{"title": "\xff"}', "UTF-8"),
        (b"[1, 2]", "object"),
        (b"{oops", "JSON"),
        (b'{"email": "a@b.cn", "email": "evil@x.cn"}', "JSON"),
        (b'{"draft": {"title": "T1", "title": "T2"}}', "JSON"),
        (b'{"data": {"sid": 99999999999999999999}}', "JSON"),
        (b'{"data": {"sid": 1e400}}', "JSON"),
        (b'{"data": {"sid": NaN}}', "JSON"),
        (b'{"data": [-Infinity]}', "JSON"),
    ],
)
def test_bodies_that_are_not_plain_json_objects_are_refused(body, says):
    with pytest.raises(InvalidInput) as refused:
        http._body(request(body), max_depth=32)
    assert says in refused.value.message
    if b'"email": "a' in body:
        assert refused.value.details == {"_body": ["the key 'email' is given twice in one object"]}
    if b"999999" in body:  # read back from a JSON column it would be 1e+20: refused as sent
        assert refused.value.details == {
            "_body": ["the integer 99999999999999999999 is beyond 64 bits: send it as a string"]
        }


def test_the_widest_integers_a_json_column_keeps_are_taken():
    body = b'{"a": 18446744073709551615, "b": -9223372036854775808, "c": 1.5e300}'
    assert http._body(request(body), max_depth=32) == {"a": 2**64 - 1, "b": -(2**63), "c": 1.5e300}


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
def test_a_json_text_sent_as_something_else_is_refused_with_415(content_type):
    sent = Request(EnvironBuilder(method="POST", data=b'{"title": "x"}', content_type=content_type).get_environ())
    with pytest.raises(http.UnsupportedMediaType) as refused:
        http._body(sent, max_depth=32)
    assert refused.value.status == 415 and content_type in refused.value.message


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "application/merge-patch+json", None]
)
def test_a_json_body_is_read_as_json_or_with_no_content_type(content_type):
    sent = Request(EnvironBuilder(method="POST", data=b'{"title": "x"}', content_type=content_type).get_environ())
    assert http._body(sent, max_depth=32) == {"title": "x"}


def test_a_body_within_the_depth_is_read():
    nested = json.loads("[" * 30 + "]" * 30)
    assert http._body(request(json.dumps({"a": nested}).encode()), max_depth=32) == {"a": nested}


class Route:
    def __init__(self, error):
        self.error = error

    def _settings(self):
        return config.load({})

    def _principal(self, request):
        return {"user": "u", "roles": ["staff"], "unit": None}

    @http.endpoint("staff")
    def fails(self, request, principal):
        raise self.error


@pytest.mark.parametrize(
    "error, status", [(RemoteError("OverflowError", "int too big: 99999"), 502), (ZeroDivisionError("a detail"), 500)]
)
def test_a_failing_route_answers_a_generic_body_with_the_request_id(error, status):
    req = request(b"")
    req.environ["ztc.request_id"] = "rid-1"
    response = Route(error).fails(req)
    body = json.loads(response.get_data())
    assert response.status_code == status and body["message"] == "internal error"
    assert body["details"] == {"request_id": "rid-1"} and "99999" not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "error, status",
    [
        (KombuOperationalError("[Errno 111] ECONNREFUSED"), 503),  # the bus restarting
        (ConnectionResetError(104, "Connection reset by peer"), 503),  # a pooled connection it closed
        (RecoverableConnectionError("connection already closed"), 503),
        (AccessRefused("Login was refused using authentication mechanism PLAIN"), 503),
        (sa.OperationalError("SELECT", {}, Exception("database is locked")), 503),  # the gateway's own
        (sa.TimeoutError("QueuePool limit of size 10 overflow 10 reached, connection timed out"), 503),
        (RemoteError("OperationalError", "canceling statement due to lock timeout"), 503),  # a service's
        # intake passing on evaluation's database refusing clients (seen on a loaded PostgreSQL)
        (RemoteError("RemoteError", "OperationalError (psycopg2.OperationalError) FATAL: too many clients"), 503),
        (UnknownService("intake"), 503),
        (RpcTimeout("<proxy method: intake.get_opinion> had no reply within 60s"), 504),
    ],
)
def test_a_transient_failure_answers_503_or_504_with_retry_after_and_the_request_id(error, status, caplog):
    req = request(b"")
    req.environ["ztc.request_id"] = "rid-2"
    with caplog.at_level(logging.WARNING, logger="services.gateway.http"):
        response = Route(error).fails(req)
    body = json.loads(response.get_data())
    assert response.status_code == status and response.headers["Retry-After"] == str(unavailable.RETRY_AFTER_SECONDS)
    assert body["error"] == ("gateway_timeout" if status == 504 else "service_unavailable")
    assert body["details"] == {"request_id": "rid-2", "retry_after_seconds": unavailable.RETRY_AFTER_SECONDS}
    assert "internal" not in body["message"] and "try again" in body["message"]
    assert "lock timeout" not in response.get_data(as_text=True) and "10.0" not in body["message"]
    (record,) = [r for r in caplog.records if "rid-2" in r.getMessage()]
    assert record.levelname == "WARNING" and "transient" in record.getMessage() and record.exc_info is None


@pytest.mark.parametrize(
    "error, status",
    [
        (FileNotFoundError(2, "no such template"), 500),
        (sa.IntegrityError("INSERT", {}, Exception("unique")), 500),
        (RemoteError("RemoteError", "KeyError 'skipped'"), 502),  # a service's bug, passed on by another
    ],
)
def test_a_failure_that_does_not_pass_is_still_an_internal_error(error, status):
    response = Route(error).fails(request(b""))
    assert response.status_code == status and "Retry-After" not in response.headers


def test_the_gateways_pool_running_dry_answers_503_and_the_same_request_succeeds_once_it_is_free(tmp_path):
    """The gateway's database out of pooled connections (every HTTP worker holding one): the
    token cannot be read, which is a 503 to try again, not an internal error."""
    url = f"sqlite:///{tmp_path}/gateway.db"
    engine = create_engine(url, poolclass=QueuePool, pool_size=1, max_overflow=0, pool_timeout=0.05)
    Base.metadata.create_all(engine)
    sessions = sessionmaker(engine)
    with sessions() as s:
        token = tokens.issue(s, "staff.wang", ["staff"])
        s.commit()

    class Gateway(Route):
        def _principal(self, request):
            with sessions() as s:
                return tokens.principal_for(s, request.headers.get("Authorization"))

        @http.endpoint("staff")
        def me(self, request, principal):
            return 200, {"user": principal["user"]}

    def call():
        environ = EnvironBuilder(headers={"Authorization": f"Bearer {token}"}).get_environ()
        environ["ztc.request_id"] = "rid-3"
        return Gateway(None).me(Request(environ))

    held = engine.connect()  # the only connection, held by another worker
    busy = call()
    assert busy.status_code == 503 and busy.headers["Retry-After"] and busy.json["details"]["request_id"] == "rid-3"
    held.close()
    again = call()
    assert again.status_code == 200 and again.json == {"user": "staff.wang"}
    engine.dispose()


def test_a_route_must_name_its_roles():
    with pytest.raises(TypeError):
        http.endpoint()
    with pytest.raises(TypeError):
        http.endpoint("superuser")


@pytest.fixture
def session(tmp_path):
    url = f"sqlite:///{tmp_path}/gateway.db"
    Base.metadata.create_all(get_engine(url))
    with session_factory(url)() as s:
        yield s
    dispose_all()


def test_tokens_expire_and_are_revoked(session):
    settings = config.load({})
    person = tokens.issue(session, "staff.wang", ["staff"], ttl=tokens.lifetime(settings, "person"))
    system = tokens.issue(
        session, "transport.system", ["unit"], "transport", kind="system", ttl=tokens.lifetime(settings, "system")
    )
    old = tokens.issue(session, "staff.old", ["staff"], ttl=timedelta(seconds=-1))
    session.flush()
    assert tokens.principal_for(session, f"Bearer {person}")["user"] == "staff.wang"
    rows = {row["user"]: row for row in tokens.listing(session, everything=True)}
    assert rows["staff.old"]["state"] == "expired"
    lives = {u: row["expires_at"] for u, row in rows.items()}
    assert lives["transport.system"] > lives["staff.wang"]
    with pytest.raises(Unauthenticated, match="expired"):
        tokens.principal_for(session, f"Bearer {old}")
    revoked = tokens.revoke(session, [rows["staff.wang"]["id"]])
    assert [r["user"] for r in revoked] == ["staff.wang"]
    with pytest.raises(Unauthenticated, match="revoked"):
        tokens.principal_for(session, f"Bearer {person}")
    assert tokens.revoke(session, user="transport.system")[0]["state"] == "revoked"
    with pytest.raises(Unauthenticated):
        tokens.principal_for(session, f"Bearer {system}")
    assert tokens.listing(session) == []
    assert person not in json.dumps(tokens.listing(session, everything=True))


def test_the_default_lifetimes_are_settings():
    settings = config.load({"ZTC_TOKEN_TTL_HOURS": "2", "ZTC_TOKEN_SYSTEM_TTL_HOURS": "48"})
    assert tokens.lifetime(settings, "person") == timedelta(hours=2)
    assert tokens.lifetime(settings, "system") == timedelta(hours=48)
    assert config.load({}).http_max_body_bytes == 1024 * 1024
    with pytest.raises(InvalidInput):
        tokens.lifetime(settings, "person", 0)


def test_var_and_its_files_are_made_private(tmp_path):
    from services.launcher import make_private, write_private

    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    (var / "intake.db").write_text("x")
    os.chmod(var / "intake.db", 0o644)
    make_private(var)
    write_private(var / "demo-tokens.json", "{}")
    assert stat.S_IMODE(var.stat().st_mode) == 0o700
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in var.iterdir()} == {
        "intake.db": 0o600,
        "demo-tokens.json": 0o600,
    }


def _integer_fields(schema, path=""):

    schema = schema() if isinstance(schema, type) else schema
    for name, field in schema.fields.items():
        yield from _field_integers(field, f"{path}{name}")


def _field_integers(field, path):
    from marshmallow import fields as mf

    if isinstance(field, mf.Integer):
        yield path, field
    elif isinstance(field, mf.Nested):
        yield from _integer_fields(field.nested if not callable(field.nested) else field.nested(), path + ".")
    elif isinstance(field, mf.List):
        yield from _field_integers(field.inner, path + "[]")
    elif isinstance(field, mf.Dict) and field.value_field is not None:
        yield from _field_integers(field.value_field, path + "{}")


def test_every_integer_a_request_body_carries_is_range_checked_within_32_bits():
    from marshmallow import validate

    from services.gateway import matrix
    from services.gateway.service import GatewayService

    checked = 0
    for route in matrix.routes():
        body = getattr(GatewayService, route["name"]).openapi["body"]
        if body is None:
            continue
        for path, field in _integer_fields(body):
            ranges = [v for v in field.validators if isinstance(v, validate.Range)]
            assert ranges, f"{route['method']} {route['path']}: {path} has no Range"
            low, high = ranges[0].min, ranges[0].max
            assert low is not None and high is not None and -(2**31) <= low <= high <= 2**31 - 1, (route["path"], path)
            checked += 1
    assert checked >= 3


@pytest.mark.parametrize("user", ["a b", "x\ny", "../../etc", "  ", "a\x00b", "x" * 101])
def test_a_token_is_issued_only_to_a_login_id(session, user):
    with pytest.raises(InvalidInput) as refused:
        tokens.issue(session, user, ["member"])
    assert "user" in refused.value.details


@pytest.mark.parametrize("hours", [0, -5, 24 * 3653 + 1, 99999999999, float("inf"), float("nan")])
def test_a_token_lives_more_than_nothing_and_at_most_ten_years(hours):
    with pytest.raises(InvalidInput) as refused:
        tokens.lifetime(config.load({}), "person", hours)
    assert "hours" in refused.value.details
    assert tokens.lifetime(config.load({}), "person", 24 * 3653) == timedelta(days=3653)


class Listing(Route):
    @http.endpoint("staff", query=("status", ("page", None)))
    def listing(self, request, principal):
        return 200, {"status": request.args.get("status"), "page": request.args.get("page")}

    @http.endpoint("staff")
    def plain(self, request, principal):
        return 200, {}


def test_a_query_argument_the_route_does_not_take_is_refused_naming_it_and_those_it_takes():
    def get(method, query):
        return method(Request(EnvironBuilder(query_string=query).get_environ()))

    route = Listing(None)
    ok = get(route.listing, "status=open&page=2")
    assert ok.status_code == 200 and ok.json == {"status": "open", "page": "2"}
    typo = get(route.listing, "stauts=open&page=2")
    assert typo.status_code == 400 and typo.json["error"] == "invalid_input"
    assert "'stauts'" in typo.json["message"] and "takes page, status" in typo.json["message"]
    assert list(typo.json["details"]) == ["stauts"]
    none = get(route.plain, "x=1&y=")
    assert none.status_code == 400 and set(none.json["details"]) == {"x", "y"}
    assert "takes no query arguments" in none.json["message"]
    assert get(route.plain, "").status_code == 200
