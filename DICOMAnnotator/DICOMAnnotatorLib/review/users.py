"""Users and their roles (annotator, reviewer, radiologist, lead); a user may hold several.

The first user of a new store must be a lead and adds themself; from then on only a lead
adds users or grants roles, so the set of people who can sign is itself audited.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, func, insert, select

from ..protocols import ReviewRole
from .errors import AlreadyExistsError, NotFoundError, PermissionDeniedError, ReviewError
from .schema import user_roles, users
from .states import require_role
from .store import ReviewStore, Transaction


@dataclass(frozen=True)
class User:
    id: int
    name: str
    roles: frozenset[ReviewRole]

    def has(self, role: ReviewRole) -> bool:
        return role in self.roles


def get_user(conn: Connection, name: str) -> User:
    """The user called ``name``; an unknown name raises, saying how to add it."""
    rows = conn.execute(
        select(users.c.id, user_roles.c.role).select_from(users.outerjoin(user_roles))
        .where(users.c.name == name)).all()
    if not rows:
        raise NotFoundError(f"No user {name!r} in the review store; a lead adds it with: "
                            f"user add {name} --role annotator|reviewer|radiologist|lead")
    return User(rows[0].id, name, frozenset(ReviewRole(r.role) for r in rows if r.role is not None))


def acting_lead(tx: Transaction, doing: str) -> User:
    """The transaction's actor, who must be a lead to ``doing``."""
    user = get_user(tx.conn, tx.actor)
    require_role(user.roles, frozenset({ReviewRole.LEAD}), user.name, doing)
    return user


def add_user(store: ReviewStore, name: str, roles: Iterable[ReviewRole | str], *, actor: str | None,
             full_name: str | None = None) -> User:
    """Add user ``name`` with ``roles`` (and the full name signatures print), or grant an existing user more
    roles; returns the user.

    ``actor`` must be a lead, except for the first user of an empty store (a lead adding themself).
    """
    name = _valid_name(name)
    roles = frozenset(ReviewRole(r) for r in roles)
    if not roles:
        raise ReviewError(f"Give {name} at least one role (--role annotator|reviewer|radiologist|lead)")
    with store.write(actor or name) as tx:
        if tx.conn.execute(select(func.count()).select_from(users)).scalar() == 0:
            if ReviewRole.LEAD not in roles or tx.actor != name:
                raise PermissionDeniedError(f"The review store has no users yet: its first user must be a lead who "
                                            f"adds themself (user add {actor or name} --role lead)")
        elif actor is None:
            raise PermissionDeniedError(f"Adding {name} needs a lead to act: pass --user LEAD")
        else:
            acting_lead(tx, f"add user {name} or grant roles")
        existing = tx.conn.execute(select(users.c.id).where(users.c.name == name)).scalar()
        held = get_user(tx.conn, name).roles if existing is not None else frozenset()
        new_roles = roles - held
        if not new_roles:
            raise AlreadyExistsError(f"{name} already has the role(s) {', '.join(sorted(r.value for r in roles))}")
        if existing is None:
            existing = tx.conn.execute(insert(users).values(name=name, created_at=tx.now, full_name=full_name)
                                       .returning(users.c.id)).scalar_one()
        tx.conn.execute(insert(user_roles), [{"user_id": existing, "role": r.value, "granted_at": tx.now}
                                             for r in sorted(new_roles, key=lambda r: r.value)])
        tx.record("user.add" if not held else "user.grant", reason=None,
                  details={"user": name, "roles": sorted(r.value for r in new_roles)})
        return User(existing, name, held | new_roles)


def _valid_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 128 or not name.isprintable():
        raise ReviewError(f"User name {name!r} must be 1 to 128 printable characters")
    return name
