"""Who may do what: role × object, decided here and nowhere else (web routes and CLI commands ask this module).

Roles: admin (everything, users), supervisor (queue, review, assign), reviewer (queue, review), trainer (read
calls and scores, no decisions), agent (only their own calls, scores and review comments). A call a user may
not see is reported as not found (404), never as forbidden, so its existence does not leak.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["admin", "supervisor", "reviewer", "trainer", "agent"]
ROLES: tuple[Role, ...] = ("reviewer", "supervisor", "trainer", "agent", "admin")

Action = Literal["view_queue", "view_call", "review", "assign", "manage_users", "view_audit", "export"]

_ROLE_ACTIONS: dict[str, frozenset[str]] = {
    "admin": frozenset({"view_queue", "view_call", "review", "assign", "manage_users", "view_audit", "export"}),
    "supervisor": frozenset({"view_queue", "view_call", "review", "assign", "view_audit", "export"}),
    "reviewer": frozenset({"view_queue", "view_call", "review", "export"}),
    "trainer": frozenset({"view_queue", "view_call"}),
    "agent": frozenset({"view_call"}),
}


@dataclass(frozen=True)
class User:
    user_id: int
    username: str
    role: Role
    team: str | None = None
    agent_id: str | None = None


def allowed(user: User | None, action: Action, call_agent_id: str | None = None, *, on_call: bool = False) -> bool:
    """May `user` do `action` (on a call whose agent is `call_agent_id` when `on_call`)?"""
    if user is None or action not in _ROLE_ACTIONS.get(user.role, frozenset()):
        return False
    if on_call and user.role == "agent":
        # an agent: own calls only, and an agent account without an agent id sees nothing
        return bool(user.agent_id) and call_agent_id == user.agent_id
    return True


def home_path(user: User) -> str:
    return "/my" if user.role == "agent" else "/queue"
