"""Proven identity: passwords, lock-out with back-off, and sessions that expire and can be revoked.

The workflow never sees how someone proved who they are: it is handed the name of the user a
session belongs to. Passwords are the one way in today; an OpenID Connect provider would be a
second way to reach :func:`open_session` (the user authenticated elsewhere, the session the same).

- Passwords are kept only as argon2id hashes (RFC 9106; OWASP's minimum of 19 MiB, 2 passes,
  1 lane: about 0.1 s to check here, which bounds guessing without making every sign-in slow).
- A wrong name and a wrong password get the same message, and an unknown name costs the same
  hashing time, so nobody learns whether an account exists.
- Failures count per account: from the 5th on, each failure locks the account for twice as long as
  the one before (1 s, 2 s, ... up to 15 minutes); the 20th locks it for 24 hours, which a lead can
  lift (``user unlock``). An attempt while locked fails with the same message and counts.
- A session token is 256 random bits shown once to the client; the store keeps its SHA-256, so a
  copy of the database cannot be used to sign in. Tokens expire (``--session-ttl``) and are revoked
  at ``logout``.
- Every refusal is an audit record (who, what, why) written in its own transaction; passwords and
  tokens never appear in records, messages or logs.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import insert, select, update

from ..protocols import ReviewRole
from .errors import AuthenticationError, PermissionDeniedError, ReviewError
from .schema import sessions, user_roles, users
from .store import ReviewStore
from .users import get_user

#: argon2id parameters (see the module docstring).
ARGON2_TIME_COST, ARGON2_MEMORY_KIB, ARGON2_PARALLELISM = 2, 19 * 1024, 1
MIN_PASSWORD_LENGTH = 10
BACKOFF_AFTER, LOCK_AFTER = 5, 20
MAX_BACKOFF = timedelta(minutes=15)
LOCK_TIME = timedelta(hours=24)
DEFAULT_SESSION_TTL = timedelta(hours=8)
#: Who an audit record names when the claimed account does not exist (the claimed name could be a
#: password typed into the wrong field, so it is not recorded).
UNKNOWN_ACTOR = "(unknown)"
SIGN_IN_FAILED = "Wrong user name or password, or the account is locked; try again or ask a lead"
SESSION_INVALID = "Your session has expired, was revoked or is not valid; log in again (dicom-annotator login URL)"


@dataclass(frozen=True)
class Session:
    """A new session: the token (shown once), whose it is and until when."""

    token: str
    user: str
    expires_at: str

    def to_json(self) -> dict[str, str]:
        return {"token": self.token, "user": self.user, "expires_at": self.expires_at}


def _hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher(time_cost=ARGON2_TIME_COST, memory_cost=ARGON2_MEMORY_KIB, parallelism=ARGON2_PARALLELISM)


def hash_password(password: str) -> str:
    problem = password_problem(password)
    if problem:
        raise ReviewError(problem)
    return _hasher().hash(password)


def password_problem(password: str) -> str | None:
    """Why ``password`` cannot be used, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"A password needs at least {MIN_PASSWORD_LENGTH} characters"
    if password != password.strip() or "\n" in password:
        return "A password cannot start or end with spaces or hold a line break"
    return None


def set_password(store: ReviewStore, name: str, password: str, *, actor: str) -> None:
    """Set ``name``'s password: the user themself, or a lead resetting it (which also lifts a lock)."""
    hashed = hash_password(password)
    with store.write(actor) as tx:
        acting = get_user(tx.conn, actor)
        get_user(tx.conn, name)
        if actor != name and ReviewRole.LEAD not in acting.roles:
            raise PermissionDeniedError(f"{actor} cannot set {name}'s password: a user sets their own, a lead "
                                        "resets anyone's")
        tx.conn.execute(update(users).where(users.c.name == name).values(
            password_hash=hashed, failed_logins=0, locked_until=None))
        tx.record("user.password", details={"user": name, "reset_by_lead": actor != name})


def verify_password(store: ReviewStore, name: str, password: str, *, purpose: str = "sign in") -> None:
    """Check ``name``'s password (counting failures, honouring locks); raises AuthenticationError."""
    with store.read() as conn:
        row = conn.execute(select(users.c.password_hash, users.c.locked_until).where(users.c.name == name)).first()
    stored = row.password_hash if row is not None else None
    locked = row is not None and row.locked_until is not None and row.locked_until > _now()
    if not _matches(stored, password) or locked:
        _count_failure(store, name if row is not None else None, purpose, locked=locked)
        raise AuthenticationError(SIGN_IN_FAILED)
    with store.write(name) as tx:
        tx.conn.execute(update(users).where(users.c.name == name).values(failed_logins=0, locked_until=None))


def has_password(store: ReviewStore, name: str) -> bool:
    with store.read() as conn:
        return conn.execute(select(users.c.password_hash).where(users.c.name == name)).scalar() is not None


def login(store: ReviewStore, name: str, password: str, *, ttl: timedelta = DEFAULT_SESSION_TTL) -> Session:
    """A new session for ``name`` once the password is right."""
    verify_password(store, name, password)
    return open_session(store, name, ttl=ttl)


def open_session(store: ReviewStore, name: str, *, ttl: timedelta = DEFAULT_SESSION_TTL) -> Session:
    """A session for a user whose identity is proven (by :func:`login`, or later by an identity provider)."""
    token = secrets.token_urlsafe(32)
    with store.write(name) as tx:
        user = get_user(tx.conn, name)
        expires = _iso(datetime.fromisoformat(tx.now) + ttl)
        tx.conn.execute(insert(sessions).values(user_id=user.id, token_sha256=_token_hash(token), created_at=tx.now,
                                                expires_at=expires))
        tx.record("session.open", details={"expires_at": expires})
    return Session(token, name, expires)


def session_user(store: ReviewStore, token: str) -> str:
    """The user a live session token belongs to; an expired, revoked or unknown token is refused and audited."""
    with store.read() as conn:
        row = conn.execute(select(users.c.name, sessions.c.expires_at, sessions.c.revoked_at)
                           .join(users, users.c.id == sessions.c.user_id)
                           .where(sessions.c.token_sha256 == _token_hash(token))).first()
    if row is not None and row.revoked_at is None and row.expires_at > _now():
        return row.name
    why = "unknown or altered token" if row is None else ("revoked session" if row.revoked_at else "expired session")
    audit_refusal(store, row.name if row is not None else UNKNOWN_ACTOR, "session", why)
    raise AuthenticationError(SESSION_INVALID)


def revoke_session(store: ReviewStore, token: str) -> None:
    """``logout``: the session ends now (an unknown token is refused like any other)."""
    name = session_user(store, token)
    with store.write(name) as tx:
        tx.conn.execute(update(sessions).where(sessions.c.token_sha256 == _token_hash(token)).values(
            revoked_at=tx.now))
        tx.record("session.revoke")


def unlock(store: ReviewStore, name: str, *, actor: str) -> None:
    """A lead lifts ``name``'s lock and clears their failure count."""
    with store.write(actor) as tx:
        acting = get_user(tx.conn, actor)
        if ReviewRole.LEAD not in acting.roles:
            raise PermissionDeniedError(f"{actor} cannot unlock {name}: only a lead can")
        get_user(tx.conn, name)
        tx.conn.execute(update(users).where(users.c.name == name).values(failed_logins=0, locked_until=None))
        tx.record("user.unlock", details={"user": name})


def list_users(store: ReviewStore) -> list[dict[str, Any]]:
    """Every user with roles and whether their account is locked now."""
    now = _now()
    with store.read() as conn:
        rows = conn.execute(select(users.c.id, users.c.name, users.c.full_name, users.c.locked_until,
                                   users.c.failed_logins).order_by(users.c.name)).all()
        roles: dict[int, list[str]] = {}
        for user_id, role in conn.execute(select(user_roles.c.user_id, user_roles.c.role)):
            roles.setdefault(user_id, []).append(role)
    return [{"name": r.name, "roles": sorted(roles.get(r.id, [])), "full_name": r.full_name,
             "locked": r.locked_until is not None and r.locked_until > now,
             "locked_until": r.locked_until if r.locked_until and r.locked_until > now else None,
             "failed_logins": r.failed_logins} for r in rows]


def audit_refusal(store: ReviewStore, actor: str, what: str, why: str, *, case: int | None = None,
                  project: str | None = None) -> None:
    """One audit record of a refused request, in its own transaction (the refused one changed nothing)."""
    with store.write(actor) as tx:
        tx.record("refused", project=project, case=case, reason=why[:500], details={"request": what})


def _count_failure(store: ReviewStore, name: str | None, purpose: str, *, locked: bool) -> None:
    with store.write(name or UNKNOWN_ACTOR) as tx:
        if name is not None:
            failures = tx.conn.execute(select(users.c.failed_logins).where(users.c.name == name)).scalar_one() + 1
            values: dict[str, Any] = {"failed_logins": failures}
            if failures >= LOCK_AFTER:
                values["locked_until"] = _iso(datetime.fromisoformat(tx.now) + LOCK_TIME)
            elif failures >= BACKOFF_AFTER:
                backoff = min(timedelta(seconds=2 ** (failures - BACKOFF_AFTER)), MAX_BACKOFF)
                values["locked_until"] = _iso(datetime.fromisoformat(tx.now) + backoff)
            tx.conn.execute(update(users).where(users.c.name == name).values(**values))
        tx.record("refused", reason="account locked" if locked else "wrong user name or password",
                  details={"request": purpose})


def _matches(stored: str | None, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    hasher = _hasher()
    try:
        if stored is None:  # the same work as a real check, so timing does not tell that the account is absent
            hasher.verify(_dummy_hash(), password + "\0")
            return False
        return hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


_DUMMY: list[str] = []


def _dummy_hash() -> str:
    if not _DUMMY:
        _DUMMY.append(_hasher().hash(secrets.token_hex(16)))
    return _DUMMY[0]


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _now() -> str:
    return _iso(datetime.now(timezone.utc))


def _iso(moment: datetime) -> str:
    """The store's time format (ISO 8601, UTC, microseconds), so that times compare as text."""
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")
