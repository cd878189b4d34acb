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

Action = Literal[
    "view_queue",
    "view_call",
    "review",
    "assign",
    "manage_users",
    "view_audit",
    "export",
    # part 2 (issue 11)
    "appeal",  # open a 申诉 (agents, on their own calls only)
    "view_appeals",  # see appeals (agents: their own only, see `may_see_appeal`)
    "rule_appeal",  # 维持/改判 (never a reviewer)
    "calibrate",  # run calibration sessions and see their agreement
    "calibration_review",  # judge calls blind in a calibration session one is assigned to
    "view_dashboard",
    "view_accuracy",  # machine accuracy learned from reviews
    "collect",  # search transcripts, keep trainer collections, export them
]

_PART2: dict[str, frozenset[str]] = {
    "admin": frozenset(
        {"view_appeals", "rule_appeal", "calibrate", "calibration_review", "view_dashboard", "view_accuracy", "collect"}
    ),
    "supervisor": frozenset(
        {"view_appeals", "rule_appeal", "calibrate", "calibration_review", "view_dashboard", "view_accuracy", "collect"}
    ),
    "reviewer": frozenset({"view_appeals", "calibration_review", "view_accuracy"}),
    "trainer": frozenset({"collect"}),
    "agent": frozenset({"appeal", "view_appeals"}),
}

_ROLE_ACTIONS: dict[str, frozenset[str]] = {
    "admin": frozenset({"view_queue", "view_call", "review", "assign", "manage_users", "view_audit", "export"})
    | _PART2["admin"],
    "supervisor": frozenset({"view_queue", "view_call", "review", "assign", "view_audit", "export"})
    | _PART2["supervisor"],
    "reviewer": frozenset({"view_queue", "view_call", "review", "export"}) | _PART2["reviewer"],
    "trainer": frozenset({"view_queue", "view_call"}) | _PART2["trainer"],
    "agent": frozenset({"view_call"}) | _PART2["agent"],
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


def may_see_appeal(user: User | None, appeal_agent_id: str | None, opened_by: int) -> bool:
    """Agents see only the appeals on their own calls that they opened; other roles with view_appeals see all."""
    if not allowed(user, "view_appeals"):
        return False
    assert user is not None
    if user.role == "agent":
        return bool(user.agent_id) and appeal_agent_id == user.agent_id and opened_by == user.user_id
    return True


def may_read_collection(user: User | None, owner_id: int, shared: bool) -> bool:
    """A collection: its owner (and admins) read and change it; shared ones are readable by anyone who collects."""
    if not allowed(user, "collect"):
        return False
    assert user is not None
    return owner_id == user.user_id or shared or user.role == "admin"


def may_change_collection(user: User | None, owner_id: int) -> bool:
    """Shared means read-only: only the owner changes a collection."""
    return allowed(user, "collect") and user is not None and owner_id == user.user_id


def home_path(user: User) -> str:
    return "/my" if user.role == "agent" else "/queue"
