"""Workstation accounts: Argon2id password hashes (argon2-cffi), roles from ``access.ROLES``."""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ..i18n import t
from ..store.db import Store
from . import tables as T
from .access import ROLES, User
from .service import audit

_hasher = PasswordHasher()
# verified against when the user does not exist, so a login takes the same time either way
_DUMMY_HASH = _hasher.hash("callqa-no-such-user")

MIN_PASSWORD = 8


class UserError(ValueError):
    """A user that cannot be created or changed; the message says why."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _user(row: sa.Row) -> User:
    return User(row.user_id, row.username, row.role, row.team, row.agent_id)


def create_user(
    store: Store, username: str, role: str, password: str, *, team: str | None = None, agent_id: str | None = None
) -> User:
    username = (username or "").strip()
    if not username or len(username) > 64:
        raise UserError(t("users.error.bad_name"))
    if role not in ROLES:
        raise UserError(t("users.error.bad_role", role=role, roles=", ".join(ROLES)))
    if role == "agent" and not agent_id:
        raise UserError(t("users.error.agent_id"))
    if len(password or "") < MIN_PASSWORD:
        raise UserError(t("users.error.short_password", n=MIN_PASSWORD))
    with store.engine.begin() as conn:
        if conn.execute(sa.select(T.users.c.user_id).where(T.users.c.username == username)).first():
            raise UserError(t("users.error.exists", username=username))
        uid = conn.execute(
            T.users.insert()
            .values(
                username=username,
                role=role,
                team=team,
                agent_id=agent_id,
                password_hash=_hasher.hash(password),
                active=True,
                created_at=_now(),
            )
            .returning(T.users.c.user_id)
        ).scalar_one()
        user = User(uid, username, role, team, agent_id)
        audit(
            conn,
            None,
            "user_add",
            object_type="user",
            object_id=str(uid),
            after={"username": username, "role": role, "team": team, "agent_id": agent_id},
        )
    return user


def set_password(store: Store, username: str, password: str) -> None:
    if len(password or "") < MIN_PASSWORD:
        raise UserError(t("users.error.short_password", n=MIN_PASSWORD))
    with store.engine.begin() as conn:
        n = conn.execute(
            T.users.update().where(T.users.c.username == username).values(password_hash=_hasher.hash(password))
        ).rowcount
        if not n:
            raise UserError(t("users.error.no_user", username=username))
        audit(conn, None, "user_password", object_type="user", object_id=username)


def authenticate(store: Store, username: str, password: str) -> User | None:
    with store.read() as conn:
        row = conn.execute(
            sa.select(T.users).where(T.users.c.username == (username or "").strip(), T.users.c.active.is_(True))
        ).first()
    try:
        _hasher.verify(row.password_hash if row else _DUMMY_HASH, password or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    return _user(row) if row else None


def get_user(store: Store, user_id: int) -> User | None:
    with store.read() as conn:
        row = conn.execute(sa.select(T.users).where(T.users.c.user_id == user_id, T.users.c.active.is_(True))).first()
    return _user(row) if row else None


def list_users(store: Store, role: str | None = None) -> list[User]:
    stmt = sa.select(T.users).where(T.users.c.active.is_(True)).order_by(T.users.c.username)
    if role:
        stmt = stmt.where(T.users.c.role == role)
    with store.read() as conn:
        return [_user(r) for r in conn.execute(stmt).all()]
