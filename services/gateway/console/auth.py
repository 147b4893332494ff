"""Signing in and out, the language switch, the home page and the console's static files."""

from __future__ import annotations

import hmac
from pathlib import Path

from werkzeug.wrappers import Response

from shared.errors import TooManyRequests, Unauthenticated

from ..http import http
from ..notifications import MAX_INBOX_PAGE
from . import accounts, i18n, login_limits, session
from .views import Visit, login_page, page, redirect

STATIC = Path(__file__).resolve().parent / "static"
STATIC_TYPES = {".css": "text/css", ".js": "text/javascript", ".json": "application/json"}


def _too_many(service, visit, user: str, target: str, exc: TooManyRequests):
    """The login form again, 429, saying which limit was reached and when to try again."""
    details = exc.details
    key = "login.too_many_account" if details["scope"] == login_limits.ACCOUNT else "login.too_many_address"
    retry = details["retry_after_seconds"]
    message = visit.t(
        key, limit=details["limit"], window=max(1, details["window_seconds"] // 60), minutes=max(1, -(-retry // 60))
    )
    response = login_page(service, visit, user, target, message, 429)
    response.headers["Retry-After"] = str(retry)
    return response


def _safe_next(value: str | None) -> str:
    """Where to go after login: a console path only (never another site), and one a Location
    header can carry (a control character, a line break say, would fail the redirect after the
    session was made)."""
    value = value or "/console"
    printable = value.isprintable() and len(value) <= 2000
    return value if printable and value.startswith("/console") and not value.startswith("//") else "/console"


class ConsoleAuthRoutes:
    """Mixed into :class:`~services.gateway.service.GatewayService` (``self.db``, ``self._settings``)."""

    @http("GET", "/console/login")
    def console_login_page(self, request):
        visit = Visit(self, request, None, None, i18n.choose(request))
        return login_page(self, visit, "", _safe_next(request.args.get("next")), None)

    @http("POST", "/console/login")
    def console_login(self, request):
        visit = Visit(self, request, None, None, i18n.choose(request))
        user, password = request.form.get("user", "").strip(), request.form.get("password", "")
        target = _safe_next(request.form.get("next"))
        secret = request.cookies.get(session.LOGIN_COOKIE, "")
        if not secret or not hmac.compare_digest(request.form.get("csrf", ""), session.csrf_for(secret)):
            return login_page(self, visit, user, target, visit.t("login.stale"), 403)
        settings = self._settings()
        guards = login_limits.guards(request, settings, user)
        try:
            login_limits.check(self.db.session, guards, settings)
            account = accounts.check(self.db.session, user, password)
            token = session.start(self.db.session, settings, account)
            self.db.commit()
        except TooManyRequests as exc:
            self.db.session.rollback()
            return _too_many(self, visit, user, target, exc)
        except Unauthenticated:
            self.db.session.rollback()
            login_limits.failed(self.db.session, guards, settings)
            self.db.commit()
            return login_page(self, visit, user, target, visit.t("login.wrong"), 401)
        response = redirect(target)
        session.set_cookie(response, session.COOKIE, token, settings)
        response.delete_cookie(session.LOGIN_COOKIE, path="/console")
        return response

    @http("POST", "/console/logout")
    @page
    def console_logout(self, visit):
        session.end(self.db.session, visit.token)
        self.db.commit()
        response = redirect("/console/login")
        response.delete_cookie(session.COOKIE, path="/console")
        return response

    @http("GET", "/console/language/<string:lang>")
    def console_language(self, request, lang):
        """Switch the console's language (a preference cookie only) and go back."""
        response = redirect(_safe_next(request.args.get("next")))
        if lang in i18n.LANGUAGES:
            response.set_cookie(
                session.LANG_COOKIE,
                lang,
                max_age=365 * 24 * 3600,
                path="/console",
                samesite="Lax",
                secure=self._settings().console_secure_cookie,
            )
        return response

    @http("GET", "/console")
    @page
    def console_home(self, visit):
        # The newest unread, at most a page: past that the home page says "200+", not the count.
        unread = visit.api("list_notifications", query={"unread": "true", "limit": str(MAX_INBOX_PAGE)})
        count = len(unread.body) if unread.ok else 0
        return visit.render("home.html", unread=f"{count}+" if count == MAX_INBOX_PAGE else count)

    @http("GET", "/console/static/<string:name>")
    def console_static(self, request, name):
        path = STATIC / name
        if path.suffix not in STATIC_TYPES or path.parent != STATIC or not path.is_file():
            return Response("not found", status=404, mimetype="text/plain")
        return Response(
            path.read_bytes(),
            mimetype=STATIC_TYPES[path.suffix],
            headers={"Cache-Control": "max-age=3600", "X-Content-Type-Options": "nosniff"},
        )
