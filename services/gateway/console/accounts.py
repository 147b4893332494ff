"""Console accounts: a person's password, stored only as an Argon2id hash (argon2-cffi, the
reference implementation's bindings), with the roles and unit a console session carries.
``ztc console-user set`` makes or changes one; ``make run``'s demo set-up seeds the demo users'."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from shared import clock
from shared.errors import InvalidInput, Unauthenticated

from ..models import ConsoleAccount
from ..tokens import check_identity

MIN_PASSWORD = 8
_hasher = PasswordHasher()
# Checked against when there is no such account, so that a refusal takes as long either way: an
# answer that came back at once would say the user id does not exist.
_NO_ACCOUNT_HASH = _hasher.hash("no such account: a password nobody has")


def set_password(session, user: str, password: str, roles: list[str], unit: str | None = None) -> None:
    """Make or change ``user``'s account: a login id with known roles, a unit handler's naming its
    unit (``tokens.check_identity``, as for a token). A password shorter than ``MIN_PASSWORD`` is
    refused."""
    check_identity(user, roles, unit, "console account")
    if len(password or "") < MIN_PASSWORD:
        raise InvalidInput(f"a password has at least {MIN_PASSWORD} characters", {"password": ["too short"]})
    row = session.get(ConsoleAccount, user)
    if row is None:
        row = ConsoleAccount(user=user)
        session.add(row)
    row.password_hash, row.roles, row.unit, row.updated_at = _hasher.hash(password), list(roles), unit, clock.now()
    session.flush()


def check(session, user: str, password: str) -> ConsoleAccount:
    """The account if ``password`` is ``user``'s; otherwise one refusal that does not say which
    of the two was wrong. A hash made with older parameters is replaced on the way."""
    row = session.get(ConsoleAccount, user or "")
    try:
        _hasher.verify(row.password_hash if row is not None else _NO_ACCOUNT_HASH, password or "")
        if row is None:
            raise VerificationError("no such account")
    except (VerificationError, InvalidHashError):
        raise Unauthenticated("the user id or the password is wrong") from None
    if _hasher.check_needs_rehash(row.password_hash):
        row.password_hash = _hasher.hash(password)
    return row
