"""Sign-in sessions of the staff console: a browser holds a random token in a cookie; the store keeps its hash.

A session is opened with a staff member's API key (checked by the service like any key) and then
stands for that key: revoking the key ends its sessions at once. A session opened with a person's
password (:mod:`gridgis.console.logins`) stands for the person (key id ``person:ID``): ``persons(id)``
gives their caller as the roster says now, and setting or clearing their password ends it. Each session
carries a CSRF token that every changing request made with the cookie must echo (``X-CSRF-Token``
header or form field).

Component ``console_sessions`` (its own table). Times are aware UTC datetimes.

Examples
--------
>>> import tempfile
>>> from datetime import UTC, datetime
>>> from gridgis.access import PERSON_KEY, Caller
>>> from gridgis.store import open_store
>>> store = open_store(f"sqlite:///{tempfile.mkdtemp()}/s.db")
>>> sessions = SessionStore(store)
>>> now = datetime(2026, 11, 30, 8, tzinfo=UTC)
>>> caller = Caller.of_key("ggk_dispatch-secret", "dispatcher")
>>> token, csrf = sessions.open(caller, now=now)
>>> sessions.resolve(token, {caller.key_id: caller}, now=now)[0].role
'dispatcher'
>>> sessions.close(token); sessions.resolve(token, {caller.key_id: caller}, now=now) is None
True
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from gridgis.access import PERSON_KEY, Caller
from gridgis.store import Store
from gridgis.store.dialect import from_stored
from gridgis.times import utc_now

COMPONENT = "console_sessions"
#: how long a session lasts after sign-in
SESSION_TTL = timedelta(hours=12)

_SQL = """
    CREATE TABLE console_sessions (token_hash TEXT PRIMARY KEY, key_id TEXT NOT NULL, role TEXT NOT NULL,
        prefix TEXT NOT NULL, grids TEXT NOT NULL, csrf TEXT NOT NULL, created_at {ts} NOT NULL,
        expires_at {ts} NOT NULL);
    CREATE INDEX console_sessions_key ON console_sessions (key_id);
    CREATE INDEX console_sessions_expiry ON console_sessions (expires_at)
"""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionStore:
    """The console's sessions in ``store`` (table created on first use); ``persons(person_id)`` gives the
    caller of a person's session (None: it no longer stands)."""

    def __init__(
        self,
        store: Store,
        ttl: timedelta = SESSION_TTL,
        persons: Callable[[str], Caller | None] = lambda person_id: None,
    ):
        self.store = store
        self.ttl = ttl
        self.persons = persons
        self._q = store.dialect.q
        self._ts = store.dialect.ts
        store.migrate_component(COMPONENT, [store.dialect.schema(_SQL)])

    def open(self, caller: Caller, *, now: datetime | None = None) -> tuple[str, str]:
        """Open a session for ``caller`` (a signed-in key); return (session token, CSRF token). Expired
        sessions are swept on the way."""
        now = now or utc_now()
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)

        def work(cur):
            cur.execute(self._q("DELETE FROM console_sessions WHERE expires_at < ?"), (self._ts(now),))
            cur.execute(
                self._q(
                    "INSERT INTO console_sessions (token_hash, key_id, role, prefix, grids, csrf, created_at, "
                    "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                ),
                (
                    _hash(token),
                    caller.key_id,
                    caller.role,
                    caller.prefix or "",
                    json.dumps(list(caller.grids)),
                    csrf,
                    self._ts(now),
                    self._ts(now + self.ttl),
                ),
            )

        self.store.write(work)
        return token, csrf

    def resolve(
        self, token: str, env_callers: Mapping[str, Caller], *, now: datetime | None = None
    ) -> tuple[Caller, str] | None:
        """(caller, CSRF token) of a live session, else None (unknown, expired, or its key revoked).

        ``env_callers``: key id -> caller of the environment's keys (they are not in ``api_keys``). A stored
        key's current role and grids are used, so an admin's change applies to open sessions too."""
        now = now or utc_now()
        with self.store.cursor(readonly=True) as cur:
            cur.execute(
                self._q(
                    "SELECT s.key_id, s.role, s.prefix, s.grids, s.csrf, s.expires_at, k.key_hash, k.role, k.grids, "
                    "k.revoked_at FROM console_sessions s LEFT JOIN api_keys k ON k.key_hash = s.key_id "
                    "WHERE s.token_hash = ?"
                ),
                (_hash(token),),
            )
            row = cur.fetchone()
        if row is None or from_stored(row[5]) <= now:
            return None
        key_id, role, prefix, grids, csrf, _, stored, stored_role, stored_grids, revoked = row
        if key_id.startswith(PERSON_KEY):  # a person signed in with a password
            person = self.persons(key_id[len(PERSON_KEY) :])
            return (person, csrf) if person is not None else None
        if stored is None:  # an environment key: valid while the environment still gives it
            env = env_callers.get(key_id)
            return (env, csrf) if env is not None else None
        if revoked is not None:
            return None
        grids_t = tuple(json.loads(stored_grids) if isinstance(stored_grids, str) else stored_grids)
        return Caller(stored_role, prefix, grids_t, key_id), csrf

    def end_for(self, cur, key_id: str) -> None:
        """Within the transaction of ``cur``: end every session standing for ``key_id``."""
        cur.execute(self._q("DELETE FROM console_sessions WHERE key_id = ?"), (key_id,))

    def close(self, token: str) -> None:
        """End the session of ``token`` (signing out); nothing happens for an unknown token."""
        self.store.write(
            lambda cur: cur.execute(self._q("DELETE FROM console_sessions WHERE token_hash = ?"), (_hash(token),))
        )
