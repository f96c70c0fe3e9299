"""Accounts: users, the reporting tree, passwords (argon2), bearer tokens, principals."""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from schema.kinds import USER_ROLES
from sync.log import mark_reset, now_ms
from sync.scope import Principal, ancestors, subtree

from . import tables as t
from .errors import BadRequest, Conflict, HTTPError, NotFound, Unauthorized

# Password guessing: past either count of failures within the window, passwords are not
# even tried until the window has passed. The address limit stops one client trying a
# few passwords on each of many accounts; it is higher, as an office shares one address.
FAILURE_WINDOW_MS = 15 * 60 * 1000
MAX_ACCOUNT_FAILURES = 10
MAX_ADDRESS_FAILURES = 30


class TooManyAttempts(HTTPError):
    status = 429
    code = "too_many_attempts"


_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("waiqin-timing-equaliser")


def set_password_cost(*, time_cost: int, memory_cost: int) -> None:
    """Change argon2's cost for new hashes (existing hashes keep verifying: their
    parameters are stored in them). Tests lower it; production keeps argon2's defaults."""
    global _hasher, _DUMMY_HASH
    _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost)
    _DUMMY_HASH = _hasher.hash("waiqin-timing-equaliser")


@dataclass(frozen=True, slots=True)
class User:
    id: str
    login: str
    name: str
    role: str
    manager_id: str | None
    disabled_at: int | None

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "login": self.login,
            "name": self.name,
            "role": self.role,
            "manager_id": self.manager_id,
            "disabled": self.disabled_at is not None,
        }


@dataclass(frozen=True, slots=True)
class TokenInfo:
    id: str
    user: User
    created_at: int


def _user(row: Any) -> User:
    return User(row.id, row.login, row.name, row.role, row.manager_id, row.disabled_at)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def audit(
    conn: AsyncConnection,
    action: str,
    *,
    user_id: str | None = None,
    doc_id: str | None = None,
    **detail: Any,
) -> None:
    await conn.execute(
        insert(t.audit).values(
            at=now_ms(),
            action=action,
            user_id=user_id,
            doc_id=doc_id,
            detail=json.dumps(detail, ensure_ascii=False, default=str),
        )
    )


class Accounts:
    """Users and tokens over the database; caches the reporting tree for principals."""

    def __init__(self, engine: AsyncEngine, *, token_ttl: float = 90 * 24 * 3600) -> None:
        self.engine = engine
        self.token_ttl_ms = int(token_ttl * 1000)
        self._tree: dict[str, str | None] | None = None
        self._roles: dict[str, str] = {}

    # -- users ------------------------------------------------------------------------------

    async def add_user(
        self,
        login: str,
        password: str,
        *,
        role: str,
        name: str | None = None,
        manager_login: str | None = None,
    ) -> User:
        login = login.strip()
        if not login or len(login) > 64 or any(c.isspace() for c in login):
            raise BadRequest("login must be 1-64 characters without spaces", field="login")
        if role not in USER_ROLES:
            raise BadRequest(f"role must be one of {', '.join(USER_ROLES)}", field="role")
        if len(password) < 8:
            raise BadRequest("password must be at least 8 characters", field="password")
        async with self.engine.begin() as conn:
            if await conn.scalar(select(t.users.c.id).where(t.users.c.login == login)):
                raise Conflict(f"login {login!r} is taken", field="login")
            manager_id = None
            if manager_login:
                manager_id = await conn.scalar(
                    select(t.users.c.id).where(t.users.c.login == manager_login)
                )
                if manager_id is None:
                    raise NotFound(f"no user {manager_login!r} to report to", field="manager")
            user_id = str(uuid.uuid4())
            await conn.execute(
                insert(t.users).values(
                    id=user_id,
                    login=login,
                    name=name or login,
                    role=role,
                    manager_id=manager_id,
                    password_hash=_hasher.hash(password),
                    created_at=now_ms(),
                    disabled_at=None,
                )
            )
            await audit(conn, "user.create", user_id=user_id, login=login, role=role)
        self._tree = None
        return User(user_id, login, name or login, role, manager_id, None)

    async def get(self, user_id: str) -> User | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(t.users).where(t.users.c.id == user_id))).first()
        return None if row is None else _user(row)

    async def by_login(self, login: str) -> User | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(t.users).where(t.users.c.login == login))).first()
        return None if row is None else _user(row)

    async def all_users(self) -> list[User]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(t.users).order_by(t.users.c.login))
            return [_user(r) for r in rows]

    async def set_manager(self, user_id: str, manager_id: str | None) -> set[str]:
        """Move a user in the tree; returns the managers whose scope changed."""
        if manager_id is not None and manager_id in await self._subtree(user_id):
            raise BadRequest("a user cannot report to someone who reports to them")
        tree = dict(await self._load_tree())
        before = ancestors(tree, user_id)
        tree[user_id] = manager_id
        async with self.engine.begin() as conn:
            await conn.execute(
                update(t.users).where(t.users.c.id == user_id).values(manager_id=manager_id)
            )
            # The managers who gain or lose this user's records see it on their devices at
            # the next connection (a cursor cannot express a change of the tree).
            changed = set(before) ^ set(ancestors(tree, user_id))
            await mark_reset(conn, changed)
            await audit(conn, "user.manager", user_id=user_id, manager_id=manager_id)
        self._tree = None
        return changed

    async def disable(self, user_id: str) -> list[str]:
        """Disable a user and revoke their tokens; returns the revoked token ids."""
        async with self.engine.begin() as conn:
            await conn.execute(
                update(t.users).where(t.users.c.id == user_id).values(disabled_at=now_ms())
            )
            ids = await self._revoke_where(conn, t.tokens.c.user_id == user_id)
            await audit(conn, "user.disable", user_id=user_id)
        return ids

    # -- the tree ---------------------------------------------------------------------------

    async def _load_tree(self) -> dict[str, str | None]:
        if self._tree is None:
            async with self.engine.connect() as conn:
                rows = list(await conn.execute(select(t.users.c.id, t.users.c.manager_id,
                                                      t.users.c.role)))
            self._tree = {r.id: r.manager_id for r in rows}
            self._roles = {r.id: r.role for r in rows}
        return self._tree

    def invalidate(self) -> None:
        self._tree = None

    async def _subtree(self, user_id: str) -> frozenset[str]:
        return subtree(await self._load_tree(), user_id)

    async def principal(self, user: User) -> Principal:
        if user.role == "admin":
            return Principal(user.id, user.role, None)
        return Principal(user.id, user.role, await self._subtree(user.id))

    # -- sessions and tokens ----------------------------------------------------------------

    async def login(
        self, login: str, password: str, *, label: str = "", address: str = ""
    ) -> tuple[str, User]:
        """A token for the right password; TooManyAttempts while this account or this client
        address (empty: unknown, not counted) has failed too often lately."""
        login, address = login[:200], address[:64]
        await self._check_throttle(login, address)
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(t.users).where(t.users.c.login == login))).first()
        try:
            _hasher.verify(row.password_hash if row else _DUMMY_HASH, password)
            ok = row is not None
        except (VerificationError, InvalidHashError):
            ok = False
        if not ok or row is None or row.disabled_at is not None:
            now = now_ms()
            async with self.engine.begin() as conn:
                await conn.execute(insert(t.login_failures).values(
                    at=now, login=login, address=address))
                # nothing older than the window is ever read again
                await conn.execute(delete(t.login_failures).where(
                    t.login_failures.c.at < now - FAILURE_WINDOW_MS))
                await audit(conn, "login.fail", user_id=row.id if row else None, login=login,
                            address=address)
            raise Unauthorized("wrong login or password", code="bad_credentials")
        user = _user(row)
        token = await self.issue_token(user.id, label=label)
        return token, user

    async def _check_throttle(self, login: str, address: str) -> None:
        f = t.login_failures
        since = now_ms() - FAILURE_WINDOW_MS
        async with self.engine.connect() as conn:
            by_login = await conn.scalar(select(func.count()).select_from(f).where(
                f.c.login == login, f.c.at >= since))
            by_address = 0
            if address:
                by_address = await conn.scalar(select(func.count()).select_from(f).where(
                    f.c.address == address, f.c.at >= since)) or 0
        minutes = FAILURE_WINDOW_MS // 60_000
        if int(by_login or 0) >= MAX_ACCOUNT_FAILURES:
            raise TooManyAttempts(
                f"too many failed logins for {login!r}; try again in {minutes} minutes",
                scope="account", retry_after_s=FAILURE_WINDOW_MS // 1000)
        if int(by_address) >= MAX_ADDRESS_FAILURES:
            raise TooManyAttempts(
                f"too many failed logins from {address}; try again in {minutes} minutes",
                scope="address", retry_after_s=FAILURE_WINDOW_MS // 1000)

    async def issue_token(self, user_id: str, *, label: str = "") -> str:
        token = secrets.token_urlsafe(32)
        now = now_ms()
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(t.tokens).values(
                    id=secrets.token_hex(8),
                    token_hash=hash_token(token),
                    user_id=user_id,
                    created_at=now,
                    expires_at=now + self.token_ttl_ms,
                    last_used_at=now,
                    revoked_at=None,
                    label=label[:200],
                )
            )
            await audit(conn, "login", user_id=user_id, label=label[:200])
        return token

    async def authenticate(self, token: str | None) -> TokenInfo:
        if not token:
            raise Unauthorized("a bearer token is required", code="no_token")
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(t.tokens, t.users)
                    .join(t.users, t.users.c.id == t.tokens.c.user_id)
                    .where(t.tokens.c.token_hash == hash_token(token))
                )
            ).first()
        if row is None:
            raise Unauthorized("unknown token", code="bad_token")
        if row.revoked_at is not None:
            raise Unauthorized("this token was revoked; log in again", code="revoked_token")
        if row.expires_at < now_ms():
            raise Unauthorized("this token expired; log in again", code="expired_token")
        if row.disabled_at is not None:
            raise Unauthorized("this account is disabled", code="disabled_user")
        user = User(row.user_id, row.login, row.name, row.role, row.manager_id, row.disabled_at)
        return TokenInfo(row.id, user, row.created_at)

    async def revoke(self, token_id: str) -> None:
        async with self.engine.begin() as conn:
            await self._revoke_where(conn, t.tokens.c.id == token_id)

    async def _revoke_where(self, conn: AsyncConnection, cond: Any) -> list[str]:
        ids = [
            r[0]
            for r in await conn.execute(
                select(t.tokens.c.id).where(cond, t.tokens.c.revoked_at.is_(None))
            )
        ]
        if ids:
            await conn.execute(
                update(t.tokens).where(t.tokens.c.id.in_(ids)).values(revoked_at=now_ms())
            )
            await audit(conn, "token.revoke", token_ids=ids)
        return ids

    # -- administration (the back office) -----------------------------------------------------

    async def set_password(self, user_id: str, password: str) -> list[str]:
        """Replace a user's password and revoke their tokens (every session logs in again);
        returns the revoked token ids so live sockets can be closed."""
        if len(password) < 8:
            raise BadRequest("password must be at least 8 characters", field="password")
        async with self.engine.begin() as conn:
            done = await conn.execute(
                update(t.users).where(t.users.c.id == user_id)
                .values(password_hash=_hasher.hash(password))
            )
            if done.rowcount == 0:
                raise NotFound("no such user")
            ids = await self._revoke_where(conn, t.tokens.c.user_id == user_id)
            await audit(conn, "user.password", user_id=user_id)
        return ids

    async def set_role(self, user_id: str, role: str) -> None:
        """A new role can change what the user sees (an admin sees everything): their
        devices reset at the next connection."""
        if role not in USER_ROLES:
            raise BadRequest(f"role must be one of {', '.join(USER_ROLES)}", field="role")
        async with self.engine.begin() as conn:
            done = await conn.execute(
                update(t.users).where(t.users.c.id == user_id).values(role=role)
            )
            if done.rowcount == 0:
                raise NotFound("no such user")
            await mark_reset(conn, {user_id})
            await audit(conn, "user.role", user_id=user_id, role=role)
        self._tree = None
