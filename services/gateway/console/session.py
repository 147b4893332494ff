"""The console's session: an API token in an HttpOnly cookie, and the CSRF token every form posts.

Login issues an ordinary person's API token (its lifetime, its expiry, ``ztc tokens revoke``
ending it) labelled ``console``; logout revokes it. The CSRF token is an HMAC of the session's
token, so it is per session, needs no storage and cannot be made without the cookie. Before login
a random ``ztc_console_login`` cookie plays the same part for the login form (double submit).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from shared.errors import Forbidden, NotFound

from .. import tokens

COOKIE = "ztc_console"
LOGIN_COOKIE = "ztc_console_login"
LANG_COOKIE = "ztc_lang"


def token_of(request) -> str | None:
    return request.cookies.get(COOKIE) or None


def csrf_for(secret: str) -> str:
    return hmac.new(secret.encode(), b"ztc console csrf", hashlib.sha256).hexdigest()


def check_csrf(request, secret: str | None) -> None:
    """Refuse (403) a form whose ``csrf`` field is not the session's."""
    sent = request.form.get("csrf", "")
    if not secret or not hmac.compare_digest(sent, csrf_for(secret)):
        raise Forbidden("the form's security token is missing or stale: reload the page and try again")


def new_login_secret() -> str:
    return secrets.token_urlsafe(24)


def start(db_session, settings, account) -> str:
    """A new session token for the account (an API token labelled ``console``)."""
    return tokens.issue(
        db_session, account.user, list(account.roles), account.unit, "console", ttl=tokens.lifetime(settings, "person")
    )


def end(db_session, token: str) -> None:
    try:
        tokens.revoke(db_session, token=token)
    except NotFound:  # a cookie no token matches: nothing to end
        pass


def set_cookie(response, name: str, value: str, settings, max_age: int | None = None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/console",
        httponly=True,
        samesite="Lax",
        secure=settings.console_secure_cookie,
    )
