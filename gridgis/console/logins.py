"""Password sign-in for the people of the grid centre, and the limit on failed sign-in attempts.

Passwords
    A person (:mod:`gridgis.cases.people`) may hold one password, set by an admin (``gridgis roster
    password``, ``PUT /v1/people/{id}/password``). Only its Argon2id hash is stored, made by argon2-cffi's
    :class:`argon2.PasswordHasher` with its defaults: RFC 9106's second recommended profile (time cost 3,
    64 MiB of memory, 4 lanes, 16-byte salt, 32-byte tag), about 0.2 s of CPU per check. A person signs in
    with their phone number (or person id) and the password; the session then stands for the person
    (:func:`gridgis.access.person_caller`): setting or clearing the password ends their open sessions.
    A password has :data:`MIN_PASSWORD` to :data:`MAX_PASSWORD` characters.

Attempt limit
    Failed sign-ins are counted per account (the phone or person id typed) and per client (its IP
    address) over the last :data:`WINDOW`. Past :data:`ACCOUNT_LIMIT` (per client: :data:`CLIENT_LIMIT`)
    failures, the next attempt must wait ``BACKOFF * 2 ** (failures - limit)`` after the last failure, at
    most :data:`MAX_WAIT`; an attempt made while waiting is refused unchecked (and not counted). A
    success clears the account's failures (not the client's). This follows OWASP's Authentication Cheat
    Sheet (exponential back-off rather than a hard lock an attacker could hold on someone else's account).

Component ``console_logins`` (tables ``person_passwords`` and ``sign_in_failures``). Times are aware UTC.

Examples
--------
>>> import tempfile
>>> from datetime import UTC, datetime, timedelta
>>> from gridgis.store import open_store
>>> logins = Logins(open_store(f"sqlite:///{tempfile.mkdtemp()}/l.db"))
>>> now = datetime(2026, 11, 30, 8, tzinfo=UTC)
>>> for i in range(ACCOUNT_LIMIT):
...     logins.failed("13800000000", "10.0.0.1", now=now)
>>> logins.wait("13800000000", "10.0.0.9", now=now)
30.0
>>> logins.wait("13800000000", "10.0.0.9", now=now + timedelta(seconds=31))
0.0
"""

from __future__ import annotations

import re
import secrets
import threading
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from gridgis.access import PERSON_KEY, Caller, person_caller
from gridgis.cases.people import PeopleStore
from gridgis.console.sessions import SessionStore
from gridgis.errors import InputError
from gridgis.store import Store
from gridgis.store.dialect import from_stored
from gridgis.times import utc_now

COMPONENT = "console_logins"
MIN_PASSWORD, MAX_PASSWORD = 10, 200
#: failures are counted over this time
WINDOW = timedelta(hours=1)
#: failures of one account / one client before attempts must wait
ACCOUNT_LIMIT, CLIENT_LIMIT = 5, 20
#: the first wait past the limit (it doubles with each further failure) and the longest
BACKOFF, MAX_WAIT = timedelta(seconds=30), timedelta(minutes=15)

_SQL = """
    CREATE TABLE person_passwords (person_id TEXT PRIMARY KEY, hash TEXT NOT NULL, set_at {ts} NOT NULL,
        set_by TEXT NOT NULL);
    CREATE TABLE sign_in_failures (kind TEXT NOT NULL, subject TEXT NOT NULL, at {ts} NOT NULL);
    CREATE INDEX sign_in_failures_subject ON sign_in_failures (kind, subject, at)
"""

_PHONE = re.compile(r"\+?[0-9][0-9 \-]*")
_HASHER = PasswordHasher()
#: Argon2 checks running at once in a process: each holds 64 MiB, and attempts made in parallel would
#: otherwise all pass the wait before any failure is counted
_CHECKS = threading.BoundedSemaphore(2)
#: checked when the account is unknown, so that an unknown account costs as long as a wrong password
_DUMMY = _HASHER.hash(secrets.token_urlsafe(16))


def account_of(text: str) -> str:
    """The account as typed, trimmed; a phone number without its spaces and dashes (``138-0000 0000`` ->
    ``13800000000``)."""
    text = text.strip()
    return re.sub(r"[ \-]", "", text) if _PHONE.fullmatch(text) else text


def check_password(password: str) -> str:
    """Return ``password`` if its length is allowed, else :class:`InputError` (``field`` password)."""
    if not (MIN_PASSWORD <= len(password) <= MAX_PASSWORD):
        raise InputError(
            f"A password has {MIN_PASSWORD} to {MAX_PASSWORD} characters; this one has {len(password)}.",
            fix=f"choose one of at least {MIN_PASSWORD} characters (a passphrase of a few words is good).",
            details={"field": "password"},
        )
    return password


def find_person(people: PeopleStore, account: str) -> str | None:
    """The person id of ``account`` (normalised by :func:`account_of`): a person id, else the one person
    whose phone it is; None for none or several."""
    d = people.directory()
    if account in d.people:
        return account
    found = [p.person_id for p in d.people.values() if p.phone and account_of(p.phone) == account]
    return found[0] if len(found) == 1 else None


def caller_of_person(people: PeopleStore, person_id: str) -> Caller | None:
    """The caller a person's session stands for now (:func:`gridgis.access.person_caller` of their current
    role and posts); None once they left the roster."""
    d = people.directory()
    person = d.people.get(person_id)
    if person is None:
        return None
    return person_caller(person_id, person.role, [(p.level, p.unit_id) for p in d.posts_of(person_id)])


class Logins:
    """Passwords and failed attempts in ``store`` (tables created on first use)."""

    def __init__(self, store: Store, sessions: SessionStore | None = None):
        self.store = store
        self.sessions = sessions or SessionStore(store)
        self._q = store.dialect.q
        self._ts = store.dialect.ts
        # 2: the sweep of old failures (every failed sign-in runs it) reads an index, not the table
        sweep = "CREATE INDEX sign_in_failures_at ON sign_in_failures (at)"
        store.migrate_component(COMPONENT, [store.dialect.schema(_SQL), sweep])

    # --- passwords -----------------------------------------------------------------------------
    def set_password(self, person_id: str, password: str, *, by: str, now: datetime | None = None) -> None:
        """Store the hash of ``password`` for ``person_id`` (replacing any) and end the person's console
        sessions. :class:`InputError` for a password too short or too long. The caller checks the person exists."""
        digest = _HASHER.hash(check_password(password))
        at = self._ts(now or utc_now())

        def work(cur):
            cur.execute(self._q("DELETE FROM person_passwords WHERE person_id = ?"), (person_id,))
            cur.execute(
                self._q("INSERT INTO person_passwords (person_id, hash, set_at, set_by) VALUES (?, ?, ?, ?)"),
                (person_id, digest, at, by),
            )
            self.sessions.end_for(cur, PERSON_KEY + person_id)

        self.store.write(work)

    def clear_password(self, person_id: str) -> bool:
        """Remove the person's password and end their sessions; False when they had none."""

        def work(cur):
            cur.execute(self._q("DELETE FROM person_passwords WHERE person_id = ?"), (person_id,))
            had = cur.rowcount > 0
            self.sessions.end_for(cur, PERSON_KEY + person_id)
            return had

        return self.store.write(work)

    def has_password(self, person_id: str) -> bool:
        with self.store.cursor(readonly=True) as cur:
            cur.execute(self._q("SELECT 1 FROM person_passwords WHERE person_id = ?"), (person_id,))
            return cur.fetchone() is not None

    def verify(self, person_id: str | None, password: str) -> bool:
        """Whether ``password`` is ``person_id``'s (False for an unknown person or one without a password,
        after as much work as a real check). A hash made with older parameters is rehashed."""
        digest = None
        if person_id is not None:
            with self.store.cursor(readonly=True) as cur:
                cur.execute(self._q("SELECT hash FROM person_passwords WHERE person_id = ?"), (person_id,))
                row = cur.fetchone()
            digest = row[0] if row else None
        try:
            with _CHECKS:
                _HASHER.verify(digest or _DUMMY, password)
        except (VerificationError, InvalidHashError):
            return False
        if digest is None:
            return False
        if _HASHER.check_needs_rehash(digest):
            new = _HASHER.hash(password)
            self.store.write(
                lambda cur: cur.execute(
                    self._q("UPDATE person_passwords SET hash = ? WHERE person_id = ?"), (new, person_id)
                )
            )
        return True

    # --- the attempt limit -------------------------------------------------------------------------
    def wait(self, account: str | None, client: str, *, now: datetime | None = None) -> float:
        """Seconds before ``account`` (None: a key sign-in, no account) may try again from ``client``; 0 now."""
        now = now or utc_now()
        waits = [self._wait("client", client, CLIENT_LIMIT, now)]
        if account:
            waits.append(self._wait("account", account, ACCOUNT_LIMIT, now))
        return max(waits)

    def _wait(self, kind: str, subject: str, limit: int, now: datetime) -> float:
        with self.store.cursor(readonly=True) as cur:
            cur.execute(
                self._q("SELECT COUNT(*), MAX(at) FROM sign_in_failures WHERE kind = ? AND subject = ? AND at > ?"),
                (kind, subject, self._ts(now - WINDOW)),
            )
            count, last = cur.fetchone()
        if not count or count < limit:
            return 0.0
        wait = min(BACKOFF * 2 ** min(count - limit, 16), MAX_WAIT)  # 30 s * 2**16 is past any MAX_WAIT
        return max(0.0, (from_stored(last) + wait - now).total_seconds())

    def failed(self, account: str | None, client: str, *, now: datetime | None = None) -> None:
        """Count a failed sign-in of ``account`` (None: a key) from ``client``; failures past the window are swept."""
        at = now or utc_now()

        def work(cur):
            cur.execute(self._q("DELETE FROM sign_in_failures WHERE at <= ?"), (self._ts(at - WINDOW),))
            rows = [("client", client, self._ts(at))]
            if account:
                rows.append(("account", account, self._ts(at)))
            cur.executemany(self._q("INSERT INTO sign_in_failures (kind, subject, at) VALUES (?, ?, ?)"), rows)

        self.store.write(work)

    def succeeded(self, account: str) -> None:
        """Clear the failures of ``account`` (a successful sign-in)."""
        self.store.write(
            lambda cur: cur.execute(
                self._q("DELETE FROM sign_in_failures WHERE kind = 'account' AND subject = ?"), (account,)
            )
        )
