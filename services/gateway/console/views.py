"""What every console page shares: who is signed in, their language, rendering, refusals.

A page handler gets a :class:`Visit` (the session's token and principal, the words of the
chosen language, the CSRF token) or, without a valid session, a redirect to the login page."""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, urlsplit

from jinja2 import Environment, PackageLoader, pass_context, select_autoescape
from werkzeug.wrappers import Response

from shared import clock
from shared.calendar import CHINA_TZ, local_date
from shared.errors import Unauthenticated, ZtcError
from shared.names import seeded_units, unit_zh

from .. import tokens
from ..http import request_id
from . import api, i18n, session

log = logging.getLogger(__name__)

_env = Environment(
    loader=PackageLoader("services.gateway", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)

# A time as the services write it in a message (ISO 8601, with or without its zone).
# A time as ``shared.clock.in_words`` writes it ("2026-12-02 18:58 UTC") is one too: its label goes
# with it, the time being rewritten in China's.
_STAMP = re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2}| UTC\b)?")


def when(value) -> str:
    """A date or time as people read it: ``YYYY-MM-DD HH:MM`` in China's time (a time that names
    its zone is turned into it), a date alone as the date; anything else as it is."""
    if not value:
        return ""
    text = str(value).removesuffix(" UTC")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    if len(text) <= 10:  # a date alone
        return moment.date().isoformat()
    # A time without its zone is UTC, as every service stores and writes one (shared.clock.as_utc).
    return clock.as_utc(moment).astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")


def day(value) -> str:
    """The day of a date or time as people read it: China's day of a time (a time stored at 18:00
    UTC is the next day there), a date as it is; anything else as it is."""
    shown = when(value)
    return shown[:10] if len(shown) >= 10 and shown[4:5] == "-" else shown


def readable(message: str | None) -> str:
    """A service's message with each time in it written as :func:`when` writes it."""
    return _STAMP.sub(lambda found: when(found.group(0)), message or "")


@pass_context
def unit(context, code) -> str:
    """A unit as a page names it: its name from the unit directory's seed (the Chinese part on a
    Chinese page, the whole name on an English one); a code the seed does not know, as it is."""
    if not code:
        return ""
    if context.get("lang") == "en":
        return seeded_units().get(code) or code
    return unit_zh(code)


_env.filters["when"] = when
_env.filters["day"] = day
_env.filters["readable"] = readable
_env.filters["unit"] = unit

# Served with every console page: no framing, scripts and styles from the console only.
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; font-src 'self' data:; frame-ancestors 'none'; "
    "form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass
class Visit:
    service: object
    request: object
    token: str | None
    principal: dict | None
    lang: str

    @property
    def t(self):
        return i18n.translator(self.lang)

    @property
    def roles(self) -> set:
        return set(self.principal["roles"]) if self.principal else set()

    @property
    def csrf(self) -> str | None:
        return session.csrf_for(self.token) if self.token else None

    def may(self, route: str) -> bool:
        """Whether the signed-in person holds a role the API route ``route`` lets through (its own
        declared roles, those of the permission matrix): a button shows only for them."""
        return bool(self.roles & set(self._route_roles(route)))

    def _route_roles(self, route: str) -> tuple:
        return getattr(getattr(type(self.service), route, None), "openapi", {}).get("roles", ())

    def forbidden(self, route: str) -> Response:
        """The refusal the API route ``route`` would give this person (403, naming its roles)."""
        roles = self._route_roles(route)
        return self.refusal(
            api.Answer(
                403,
                {
                    "error": "forbidden",
                    "message": f"this needs one of the roles: {', '.join(roles)}",
                    "details": {"roles": list(roles)},
                },
            )
        )

    def api(self, route: str, **kwargs) -> api.Answer:
        """The API route ``route`` called with the session's token, under the page's request id
        (a failure's log line names the id the visitor was shown)."""
        return api.call(self.service, self.token, route, request_id=request_id(self.request), **kwargs)

    def public_api(self, route: str, **kwargs) -> api.Answer:
        """A public route (``/api/public/...``) as an anonymous visitor from this visitor's address."""
        return api.call(self.service, None, route, client=self.request, request_id=request_id(self.request), **kwargs)

    def check_csrf(self) -> None:
        session.check_csrf(self.request, self.token)

    def render(self, template: str, status: int = 200, headers: dict | None = None, **context) -> Response:
        html = _env.get_template(f"console/{template}").render(
            t=self.t,
            lang=self.lang,
            languages=i18n.LANGUAGES,
            principal=self.principal,
            roles=self.roles,
            any_role=lambda *names: bool(self.roles & set(names)),
            may=self.may,
            csrf=self.csrf,
            path=self.request.path,
            args=self.request.args,
            **context,
        )
        return Response(html, status=status, mimetype="text/html", headers=headers or HEADERS)

    def refusal(self, answer: api.Answer) -> Response:
        """The API's refusal as a page: its status, its message and the fields it names (and, for
        a limit or a transient failure, ``Retry-After``); a refusal because an operator cancelled
        the process (``details.cancelled``) says who, when and why in the reader's language; and a
        link back to the console page the form was on."""
        retry = answer.details.get("retry_after_seconds")
        headers = {**HEADERS, "Retry-After": str(retry)} if retry is not None else None
        return self.render(
            "refused.html",
            status=answer.status,
            headers=headers,
            answer=answer,
            back=self.back(),
        )

    def back(self) -> str | None:
        """The console page this request came from (its ``Referer``, this site's only: the console
        sends ``Referrer-Policy: same-origin``), to go back to; None if none or this very page."""
        came_from = urlsplit(self.request.referrer or "")
        if came_from.netloc and came_from.netloc != self.request.host:
            return None
        if not came_from.path.startswith("/console") or came_from.path == self.request.path:
            return None
        return came_from.path + (f"?{came_from.query}" if came_from.query else "")


# Fields of a refusal's details the page shows in words (or not at all), not listed as fields.
SHOWN_APART = ("request_id", "retry_after_seconds", "cancelled")


def cancelled_of(details: dict) -> dict | None:
    """A refusal's ``details.cancelled`` (``contracts.cancelled_details``: ``reason``
    ``process_cancelled`` with the operator's ``note``, or ``reassigned``; a ``reason`` that is
    neither is taken as the operator's words, as the evaluation service wrote it before) as the
    page shows it, ``{reassigned, by, at, note, reply_kept}``; None when the refusal is not a
    cancellation's."""
    found = details.get("cancelled") if isinstance(details, dict) else None
    if not isinstance(found, dict):
        return None
    reason = found.get("reason")
    if reason == "reassigned":
        return {"reassigned": True}
    note = found.get("note") if reason == "process_cancelled" else reason
    return {
        "reassigned": False,
        "by": found.get("by"),
        "at": found.get("at"),
        "note": note or "",
        "reply_kept": found.get("reply_kept") is True,
    }


def detail_text(value: object) -> str:
    """One field of a refusal's details in words: a text as it is, a list of problems joined, a
    mapping as ``key: value`` pairs, anything else (a round, a count) as it prints."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "; ".join(f"{key}: {detail_text(item)}" for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return "; ".join(detail_text(item) for item in value)
    return "" if value is None else str(value)


_env.filters["cancellation"] = cancelled_of
_env.filters["detail_text"] = detail_text
_env.globals["refusal_fields_apart"] = SHOWN_APART


def login_page(service, visit: Visit, user: str, target: str, error: str | None, status: int = 200) -> Response:
    """The login form, with a fresh login CSRF secret in its own cookie (double submit)."""
    secret = session.new_login_secret()
    response = visit.render(
        "login.html", status=status, user=user, error=error, login_csrf=session.csrf_for(secret), next=target
    )
    session.set_cookie(response, session.LOGIN_COOKIE, secret, service._settings(), max_age=3600)
    return response


def redirect(location: str, status: int = 303) -> Response:
    return Response("", status=status, headers={"Location": location, **HEADERS})


PUBLIC_COOKIE = "ztc_console_public"


def _visit(service, request) -> Visit:
    """The visit of ``request``: its session's principal, or None without a valid session."""
    token = session.token_of(request)
    visit = Visit(service, request, token, None, i18n.choose(request))
    try:
        visit.principal = tokens.principal_for(service.db.session, f"Bearer {token}") if token else None
    except Unauthenticated:
        visit.principal = None
    return visit


def public_page(method):
    """A public page (公开): no sign-in needed; a signed-in person keeps their header. Its forms
    carry a double-submit secret (its own cookie) in place of the session's CSRF token; the API
    route called is the anonymous one, which is what decides."""

    @functools.wraps(method)
    def wrapper(self, request, **kwargs):
        visit = _visit(self, request)
        try:
            if request.method == "POST":
                session.check_csrf(request, request.cookies.get(PUBLIC_COOKIE))
            return method(self, visit, **kwargs)
        except ZtcError as exc:
            return visit.refusal(api.Answer(exc.status, exc.to_dict()))

    return wrapper


def page(method):
    """A console page or action: a :class:`Visit` for the signed-in person, or a redirect to the
    login page (which comes back here). A POST must carry the session's CSRF token (else 403)."""

    @functools.wraps(method)
    def wrapper(self, request, **kwargs):
        visit = _visit(self, request)
        if visit.principal is None:
            if request.method == "POST":
                return login_page(self, visit, "", "/console", visit.t("login.expired"), 401)
            return redirect(f"/console/login?next={quote(request.full_path.rstrip('?'))}")
        try:
            if request.method == "POST":
                visit.check_csrf()
            return method(self, visit, **kwargs)
        except ZtcError as exc:
            return visit.refusal(api.Answer(exc.status, exc.to_dict()))

    return wrapper


def pager_of(listed: dict) -> dict:
    """What the pager under a paged list needs (``console/_pager.html``) from an API's page
    (``{page, per_page, total, total_exact, items}``): this page, how many pages, and the total.
    A total counted only up to a bound (``total_exact`` false) has more rows past it: the pages
    are those that hold one more than it, at least."""
    total, per_page = listed.get("total", 0), listed.get("per_page", 1)
    exact = listed.get("total_exact", True)
    pages = max(1, -(-(total if exact else total + 1) // per_page))
    return {"page": listed.get("page", 1), "pages": pages, "total": total, "total_exact": exact}


def page_number(value) -> int:
    """A page asked for in a link (``?page=``): 1 when none (or nonsense) is given."""
    try:
        return max(1, min(int(value), 10_000))
    except (TypeError, ValueError):
        return 1


def year_asked(value) -> int:
    """A year asked for in a link; the current one when none (or nonsense) is given."""
    try:
        year = int(value)
    except (TypeError, ValueError):
        return local_date(clock.now()).year
    return year if 2000 <= year <= 2100 else local_date(clock.now()).year
