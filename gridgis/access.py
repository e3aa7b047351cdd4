"""Who may do what: the roles, the caller, its scope and the access rules, as pure functions.

A caller is identified by its key's id, :func:`key_id` (the SHA-256 of the token, the value the store
keeps as ``api_keys.key_hash``), never by a prefix of the token: two keys whose first characters are
the same are two callers. The ``prefix`` (the token's first :data:`PREFIX_LENGTH` characters) only
names a key in messages, listings and the audit log.

Roles, lowest first (:data:`ROLES`):

- ``reader`` (an app): submits cases and reads only the cases it submitted; moves none;
- ``worker``: reads and moves the cases of the grids its key carries, and a person signed in with a
  password (:func:`person_caller`) also those of the communities, towns and departments they are
  posted to (``units``: the community and town handlers who take escalated cases);
- ``dispatcher``: every case, the routing table, escalation runs, grid staff;
- ``planner``: plans and extra layers; ``admin``: API keys.

The rules raise :class:`~gridgis.errors.UnauthenticatedError` (no key: the API answers 401) or
:class:`~gridgis.errors.ForbiddenError` (403); the API wraps them as dependencies (``api.deps``).

Examples
--------
>>> app = Caller.of_key("ggk_hotline-app-one-secret", "reader")
>>> other = Caller.of_key("ggk_hotline-app-two-secret", "reader")
>>> app.prefix == other.prefix, app.key_id == other.key_id
(True, False)
>>> case = {"grid_id": "G1", "submitter_id": app.key_id}
>>> may_read(app, case), may_read(other, case)
(True, False)
>>> secretary = person_caller("p-1a2b3c4d5e", "leader", [("community", "440784101001")])
>>> secretary.role, secretary.units, may_read(secretary, {"grid_id": "G9", "community_id": "440784101001"})
('worker', (('community', '440784101001'),), True)
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gridgis.errors import ForbiddenError, UnauthenticatedError

#: key roles, lowest first
ROLES = ("reader", "worker", "dispatcher", "planner", "admin")
#: characters of a token shown to name its key (never used to identify it)
PREFIX_LENGTH = 10
#: a person's post level -> the case column naming that unit (a person's ``units`` give access by it)
UNIT_COLUMNS = {"community": "community_id", "town": "town_id", "department": "department"}
#: the key id a person's password session stands for: this prefix and the person id
PERSON_KEY = "person:"


def key_id(token: str) -> str:
    """The identity of the key ``token``: its SHA-256 as 64 hex characters (also its stored form)."""
    return hashlib.sha256(token.encode()).hexdigest()


def rank(role: str) -> int:
    """0 for ``reader`` up to 4 for ``admin``; ValueError for another string."""
    return ROLES.index(role)


@dataclass(frozen=True)
class Caller:
    """Who calls: the key's ``role`` (None without a key), its ``prefix`` (display only), the
    ``grids`` a ``worker`` key covers and the key's identity ``key_id`` (see :func:`key_id`). A person
    signed in with a password (:func:`person_caller`) also has ``person_id`` and the ``units``
    ((level, code or department name) of their community, town and department posts) whose cases they
    handle; ``key_id`` is then ``person:ID``."""

    role: str | None = None
    prefix: str | None = None
    grids: tuple[str, ...] = ()
    key_id: str | None = None
    units: tuple[tuple[str, str], ...] = ()
    person_id: str | None = None

    @classmethod
    def of_key(cls, token: str, role: str, grids: tuple[str, ...] = ()) -> Caller:
        """The caller holding ``token`` with ``role`` (and a worker's ``grids``)."""
        return cls(role, token[:PREFIX_LENGTH], tuple(grids), key_id(token))

    def at_least(self, role: str) -> bool:
        """True when the caller's role ranks at or above ``role``."""
        return self.role is not None and rank(self.role) >= rank(role)

    @property
    def scope(self) -> tuple[str, ...] | None:
        """Grid ids this caller's grid-bound data (cases) is limited to: None (all) for dispatcher and above."""
        return None if self.at_least("dispatcher") else self.grids

    @property
    def kind(self) -> str:
        """How messages and the audit log name the caller: anonymous, app (reader), worker or dispatcher (and above)."""
        if self.role is None:
            return "anonymous"
        if self.at_least("dispatcher"):
            return "dispatcher"
        return "worker" if self.role == "worker" else "app"

    @property
    def actor(self) -> str:
        """The audit log's name of the caller: kind and key prefix, e.g. ``worker:ggk_ab12cd``."""
        return f"{self.kind}:{self.prefix}"


#: the caller without a key
ANONYMOUS = Caller()


def person_caller(person_id: str, role: str, posts: Iterable[tuple[str, str]]) -> Caller:
    """The caller of a person signed in with a password: ``role`` their roster role (``dispatcher``...),
    ``posts`` the (level, unit id) they are posted to (:mod:`gridgis.cases.people`).

    A dispatcher, or a person posted to the county, acts as a ``dispatcher`` (every case); anyone else as a
    ``worker`` whose grids are their grid posts and whose units are their community, town and department
    posts. Keys are never issued this way: revoking the password ends the person's sessions.
    """
    posts = list(posts)
    if role == "dispatcher" or any(level == "county" for level, _ in posts):
        return Caller("dispatcher", person_id, (), PERSON_KEY + person_id, person_id=person_id)
    grids = tuple(dict.fromkeys(unit for level, unit in posts if level == "grid"))
    units = tuple(dict.fromkeys((level, unit) for level, unit in posts if level in UNIT_COLUMNS))
    return Caller("worker", person_id, grids, PERSON_KEY + person_id, units, person_id)


def identify(
    token: str | None,
    env_callers: Mapping[str, Caller],
    lookup: Callable[[str], Mapping[str, Any] | None],
) -> Caller | None:
    """The caller holding ``token``: :data:`ANONYMOUS` for None, a key of ``env_callers`` (token -> caller,
    from GRIDGIS_API_KEYS), else the store's key ``lookup(token)`` (``{"role", "grids"}`` or None);
    None when the key is unknown or revoked."""
    if token is None:
        return ANONYMOUS
    caller = env_callers.get(token)
    if caller is not None:
        return caller
    key = lookup(token)
    return Caller.of_key(token, key["role"], tuple(key["grids"])) if key else None


def unknown_key(token: str) -> UnauthenticatedError:
    """The error for an unknown or revoked key (401 ``bad_key``), naming only its prefix."""
    return UnauthenticatedError(
        f"The API key {token[:PREFIX_LENGTH]!r}... is unknown or revoked.",
        code="bad_key",
        fix="ask an admin for a key (gridgis key create --role ROLE).",
    )


def require_role(caller: Caller, role: str | None = None, what: str = "This request") -> Caller:
    """Return ``caller`` if it holds a key (of ``role`` or higher when given).

    Raises :class:`UnauthenticatedError` (``key_required``) without a key and :class:`ForbiddenError`
    when the role ranks below ``role``; ``what`` names the request in the message.
    """
    if caller.role is None:
        needed = f" with role {role!r} or higher" if role else ""
        raise UnauthenticatedError(
            f"{what} needs an API key{needed}.",
            fix="send it in the X-API-Key header (an admin creates one: gridgis key create --role ROLE).",
            details={"required_role": role} if role else {},
        )
    if role is not None and not caller.at_least(role):
        raise ForbiddenError(
            f"{what} needs a key with role {role!r} or higher; this key ({caller.prefix}...) has role {caller.role!r}.",
            fix=f"use a key with one of the roles {list(ROLES[rank(role) :])}.",
            details={"required_role": role, "role": caller.role},
        )
    return caller


def in_scope(caller: Caller, case: Mapping[str, Any]) -> bool:
    """True when ``case`` lies in one of the caller's grids or units (see :class:`Caller`)."""
    return case["grid_id"] in caller.grids or any(case.get(UNIT_COLUMNS[level]) == unit for level, unit in caller.units)


def may_read(caller: Caller, case: Mapping[str, Any]) -> bool:
    """True when ``caller`` may read ``case`` (a mapping with ``grid_id`` and ``submitter_id``; ``community_id``,
    ``town_id`` and ``department`` for a person's units): dispatchers and above every case, a worker the
    cases of its grids and units, an app the cases it submitted."""
    if caller.at_least("dispatcher"):
        return True
    if caller.role == "worker":
        return in_scope(caller, case)
    return caller.role == "reader" and caller.key_id is not None and case.get("submitter_id") == caller.key_id


def may_act(caller: Caller, case: Mapping[str, Any]) -> bool:
    """True when ``caller`` may move ``case`` (its status, assignee): dispatchers and above, or a worker of its
    grid or unit (which moves, the chain's table says: :mod:`gridgis.cases.lifecycle`)."""
    return caller.at_least("dispatcher") or (caller.role == "worker" and in_scope(caller, case))


def check_case(caller: Caller, case: Mapping[str, Any], *, act: bool = False) -> None:
    """Raise unless ``caller`` may read (``act``: move) ``case``: :class:`UnauthenticatedError` without a key,
    :class:`ForbiddenError` naming the case's grid (or town desk) otherwise."""
    require_role(caller, None, "Reading a case")
    if (may_act if act else may_read)(caller, case):
        return
    where = f"grid {case['grid_id']}" if case["grid_id"] else f"the desk of town {case['town_id']}"
    units = [f"{level} {unit}" for level, unit in caller.units]
    mine = f"grids {list(caller.grids)}" + (f" and {units}" if units else "")
    mine = mine if caller.role == "worker" else "the cases it submitted"
    raise ForbiddenError(
        f"Case {case['id']} belongs to {where}; this key may {'move' if act else 'read'} only {mine}.",
        fix="ask a dispatcher, or use the key of that grid's worker.",
        details={"case_id": case["id"], "grid_id": case["grid_id"]},
    )
