"""Live connections: every open socket by token (the hub knows them by user and device), and
every operation that closes some of them here and announces it to the other instances:
revoke tokens, revoke devices, change users' scopes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterable
from typing import Any

from sync import protocol as p
from sync.fanout import PgListener
from sync.hub import Hub, Subscriber

log = logging.getLogger(__name__)


class Connections:
    """The registry of live sockets and the one owner of closing them for a reason."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.listener: PgListener | None = None  # set while other instances share the log
        self._by_token: dict[str, set[Subscriber]] = {}

    @property
    def count(self) -> int:
        return sum(len(s) for s in self._by_token.values())

    def track(self, token_id: str, sub: Subscriber) -> None:
        self._by_token.setdefault(token_id, set()).add(sub)

    def untrack(self, token_id: str, sub: Subscriber) -> None:
        subs = self._by_token.get(token_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._by_token[token_id]

    # -- here and on every other instance -----------------------------------------------------

    def revoke_tokens(self, token_ids: list[str], reason: str) -> None:
        """The tokens were revoked (log out, password reset, a disabled user)."""
        self.close_tokens_here(token_ids, reason)
        if self.listener is not None and token_ids:
            self._tell_others(self.listener.announce_revoked(token_ids))

    def revoke_devices(self, devices: list[tuple[str, str]], reason: str) -> None:
        """The (user id, device id) pairs were revoked; the users' other devices stay."""
        self.close_devices_here(devices, reason)
        if self.listener is not None and devices:
            self._tell_others(self.listener.announce_devices_revoked(devices))

    def change_scopes(self, user_ids: Iterable[str], reason: str) -> None:
        """The users' scope changed (tree, role): their devices reconnect at once and catch up
        to the new scope. Until then a session would keep receiving what the old one saw."""
        users = sorted(set(user_ids))
        self.close_scopes_here(users, reason)
        if self.listener is not None and users:
            self._tell_others(self.listener.announce_scope_changed(users))

    # -- here only: what another instance's announcement asks of this one ------------------------

    def close_tokens_here(self, token_ids: list[str], reason: str = "revoked") -> None:
        for token_id in token_ids:
            for sub in list(self._by_token.get(token_id, ())):
                sub.close_soon(p.CloseCode.BAD_TOKEN, reason)

    def close_devices_here(
        self, devices: list[tuple[str, str]], reason: str = "this device was revoked"
    ) -> None:
        for key in devices:
            for sub in self.hub.sessions_of(key[0]):
                if sub.device_key == key:
                    sub.close_soon(p.CloseCode.DEVICE_REVOKED, reason)

    def close_scopes_here(self, user_ids: Iterable[str], reason: str = "scope changed") -> None:
        for user_id in user_ids:
            for sub in self.hub.sessions_of(user_id):
                sub.close_soon(p.CloseCode.SCOPE_CHANGED, reason)

    def close_all_here(self, reason: str) -> None:
        """Every socket here reconnects at once and is authenticated afresh: for when this
        instance may have missed another's announcements."""
        for sub in self.hub.subscribers():
            sub.close_soon(p.CloseCode.SCOPE_CHANGED, reason)

    @staticmethod
    def _tell_others(announcement: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(announcement)
        task.add_done_callback(_log_failure)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("announcing to the other instances failed", exc_info=task.exception())
