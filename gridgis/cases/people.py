"""People of the grid centre: who they are (name, phone, role, unit), where they are posted (grids,
communities, towns, departments, the county), when they are on duty, and which API keys they hold.

Tables of component ``people`` (migrated by :class:`PeopleStore` on the case store's database):

- ``people`` (person_id, name, phone, role, unit): ``person_id`` is ``p-`` and 10 hex digits of the
  SHA-1 of the phone (of name and first post without one), so re-importing a roster updates the same people;
- ``person_posts`` (person_id, level, grid_id, area_id, role, schedule): one row per attachment; a grid
  post keeps its grid in ``grid_id`` (the one column a re-plan remaps), the others their unit's code or
  department name in ``area_id``;
- ``person_keys`` (key_hash, person_id): the API keys a person holds (``api_keys`` itself is the core's).

Roles (:data:`ROLES`): ``worker`` 网格员, ``leader`` 负责人 (网格长, 社区书记, 镇街领导, 县领导 by the
level of the post), ``desk`` 服务台 (the public number of a unit), ``department`` 部门人员,
``dispatcher`` 调度员. A schedule is empty (always on duty), ``off`` (不在岗) or ``;``-separated
``DAYS HH:MM-HH:MM`` items in Beijing time: ``mon-fri 08:00-18:00; sat 09:00-12:00`` or
``周一至周五 08:00-18:00``.

The public staff document of each grid (the core's ``staff`` table, which locate answers from) is
written from these tables with names and the nearest service desk number, never personal phones.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gridgis.errors import InputError, NotFoundError
from gridgis.store import Store
from gridgis.times import shown, utc_now

COMPONENT = "people"
ROLES = ("worker", "leader", "desk", "department", "dispatcher")
ROLE_NAMES_ZH = {
    "worker": "网格员",
    "leader": "负责人",
    "desk": "服务台",
    "department": "部门人员",
    "dispatcher": "调度员",
}
LEADER_TITLES_ZH = {
    "grid": "网格长",
    "community": "社区书记",
    "town": "镇街领导",
    "county": "县领导",
    "department": "部门负责人",
}
ROLE_ALIASES = {
    **{r: r for r in ROLES},
    **{v: k for k, v in ROLE_NAMES_ZH.items()},
    **{v: "leader" for v in LEADER_TITLES_ZH.values()},
    "网格员": "worker",
    "专职网格员": "worker",
    "兼职网格员": "worker",
    "领导": "leader",
    "书记": "leader",
    "部门": "department",
}
POST_LEVELS = ("grid", "community", "town", "county", "department")
MAX_NAME, MAX_PHONE = 100, 40
PHONE = re.compile(r"^\+?[0-9][0-9 \-]{2,38}$")

_SQL = """
    CREATE TABLE people (person_id TEXT PRIMARY KEY, name TEXT NOT NULL, phone TEXT NOT NULL, role TEXT NOT NULL,
        unit TEXT NOT NULL, created_at {ts} NOT NULL, updated_at {ts} NOT NULL);
    CREATE TABLE person_posts (person_id TEXT NOT NULL REFERENCES people (person_id), level TEXT NOT NULL,
        grid_id TEXT, area_id TEXT, role TEXT NOT NULL, schedule TEXT NOT NULL, seq INTEGER NOT NULL);
    CREATE INDEX person_posts_grid ON person_posts (grid_id);
    CREATE INDEX person_posts_area ON person_posts (level, area_id);
    CREATE TABLE person_keys (key_hash TEXT PRIMARY KEY, person_id TEXT NOT NULL REFERENCES people (person_id))
"""


# --- schedules ---------------------------------------------------------------------------------
_DAYS = {
    "mon": 0,
    "tue": 1,
    "wed": 2,
    "thu": 3,
    "fri": 4,
    "sat": 5,
    "sun": 6,
    "周一": 0,
    "周二": 1,
    "周三": 2,
    "周四": 3,
    "周五": 4,
    "周六": 5,
    "周日": 6,
    "周天": 6,
}
_ITEM = re.compile(
    r"^(?:(?P<days>[^\d\s]+)\s*)?(?:(?P<h1>\d{1,2}):(?P<m1>\d{2})\s*-\s*(?P<h2>\d{1,2}):(?P<m2>\d{2}))?$"
)
OFF = ("off", "不在岗", "休")


def parse_schedule(text: str | None) -> tuple[tuple[frozenset[int], int, int], ...] | None:
    """A schedule as (weekdays 0=Monday, start minute, end minute) items; None for always on duty, ``()``
    for never (``off``). :class:`InputError` for text it cannot read.

    >>> parse_schedule("mon-fri 08:00-18:00")
    ((frozenset({0, 1, 2, 3, 4}), 480, 1080),)
    >>> parse_schedule("周六 09:00-12:00")[0][0]
    frozenset({5})
    >>> parse_schedule(""), parse_schedule("off")
    (None, ())
    """
    text = (text or "").strip()
    if not text or text.lower() in ("always", "全天", "每天"):
        return None
    if text.lower() in OFF:
        return ()
    items = []
    for part in re.split(r"[;；,，]", text):
        part = part.strip()
        if not part:
            continue
        m = _ITEM.match(part)
        if not m or not (m["days"] or m["h1"]):
            raise InputError(
                f"Unreadable schedule {text!r} (at {part!r}).",
                fix='write e.g. "mon-fri 08:00-18:00; sat 09:00-12:00", "周一至周五 08:00-18:00" or "off".',
            )
        days = _days(m["days"], text) if m["days"] else frozenset(range(7))
        start, end = 0, 24 * 60
        if m["h1"]:
            start, end = int(m["h1"]) * 60 + int(m["m1"]), int(m["h2"]) * 60 + int(m["m2"])
            if start >= 24 * 60 or end > 24 * 60 or int(m["m1"]) > 59 or int(m["m2"]) > 59:
                raise InputError(f"Bad time in schedule {text!r}.", fix="use HH:MM between 00:00 and 24:00.")
        items.append((days, start, end))
    return tuple(items)


def _days(spec: str, text: str) -> frozenset[int]:
    spec = spec.lower().replace("至", "-").replace("~", "-").replace("、", "/")
    if spec in ("daily", "每天", "每日"):
        return frozenset(range(7))
    out: set[int] = set()
    for piece in spec.split("/"):
        ends = piece.split("-")
        if len(ends) > 2 or any(e not in _DAYS for e in ends):
            raise InputError(
                f"Unknown days {piece!r} in schedule {text!r}.",
                fix="use mon..sun or 周一..周日, ranges with '-' or '至' (e.g. mon-fri, 周一至周五).",
            )
        a, b = _DAYS[ends[0]], _DAYS[ends[-1]]
        out.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return frozenset(out)


def on_duty_at(schedule: tuple | None, when: datetime) -> bool:
    """Whether a parsed schedule is on duty at ``when`` (aware; read in Beijing time). Items whose end is
    before their start run past midnight."""
    if schedule is None:
        return True
    local = shown(when)
    day, minute = local.weekday(), local.hour * 60 + local.minute
    for days, start, end in schedule:
        if start <= end:
            if day in days and start <= minute < end:
                return True
        elif (day in days and minute >= start) or ((day - 1) % 7 in days and minute < end):
            return True
    return False


# --- the directory: an immutable view of every person and post, cached per process -------------------
@dataclass(frozen=True)
class Person:
    person_id: str
    name: str
    phone: str
    role: str
    unit: str

    def as_dict(self, *, phone: bool) -> dict[str, Any]:
        out = {
            "person_id": self.person_id,
            "name": self.name,
            "role": self.role,
            "role_name": ROLE_NAMES_ZH[self.role],
            "unit": self.unit,
        }
        if phone:
            out["phone"] = self.phone
        return out


@dataclass(frozen=True)
class Post:
    person_id: str
    level: str
    unit_id: str  # grid id, community/town/county code or department name
    role: str
    schedule: str


@dataclass(frozen=True)
class Directory:
    """Every person and post, read at one time (a value: never changed in place)."""

    people: dict[str, Person] = field(default_factory=dict)
    posts: tuple[Post, ...] = ()
    keys: dict[str, str] = field(default_factory=dict)  # key hash -> person id

    def __post_init__(self) -> None:
        by_unit: dict[tuple[str, str], list[Post]] = {}
        by_person: dict[str, list[Post]] = {}
        for p in self.posts:
            by_unit.setdefault((p.level, p.unit_id), []).append(p)
            by_person.setdefault(p.person_id, []).append(p)
        object.__setattr__(self, "_by_unit", by_unit)
        object.__setattr__(self, "_by_person", by_person)
        object.__setattr__(self, "_schedules", {s: parse_schedule(s) for s in {p.schedule for p in self.posts}})

    def posts_at(self, level: str, unit_id: str) -> list[Post]:
        return self._by_unit.get((level, unit_id), [])

    def posts_of(self, person_id: str) -> list[Post]:
        return self._by_person.get(person_id, [])

    def person_of_key(self, key_hash: str | None) -> Person | None:
        pid = self.keys.get(key_hash) if key_hash else None
        return self.people.get(pid) if pid else None

    def person_of(self, caller) -> Person | None:
        """The person behind an API caller (:class:`gridgis.access.Caller`): signed in as one, or holding a
        person's key; None for a key of nobody."""
        return self.people.get(caller.person_id) if caller.person_id else self.person_of_key(caller.key_id)

    def on_duty(self, post: Post, when: datetime) -> bool:
        return on_duty_at(self._schedules[post.schedule], when)

    def handler_of(self, grid_id: str, when: datetime) -> tuple[str, str]:
        """(assignee, kind) of a new case in ``grid_id`` at ``when``: its first worker on duty, else its
        leader, else the grid's desk ``grid:ID``."""
        posts = self.posts_at("grid", grid_id)
        for p in posts:
            if p.role == "worker" and self.on_duty(p, when):
                return f"person:{p.person_id}", "person"
        for p in posts:
            if p.role == "leader":
                return f"person:{p.person_id}", "person"
        return f"grid:{grid_id}", "grid"

    def leader_of(self, level: str, unit_id: str) -> str | None:
        """``person:ID`` of the named leader of a unit, else None."""
        for p in self.posts_at(level, unit_id):
            if p.role == "leader":
                return f"person:{p.person_id}"
        return None

    def desk_phone(self, units: Iterable[tuple[str, str | None]]) -> str | None:
        """The service desk number of the first of ``units`` ((level, id), nearest first) that has one."""
        for level, unit_id in units:
            for p in self.posts_at(level, unit_id) if unit_id else ():
                if p.role == "desk" and self.people[p.person_id].phone:
                    return self.people[p.person_id].phone
        return None

    def name_of(self, assignee: str | None) -> str | None:
        """The person's name of ``person:ID``; None for another assignee."""
        if assignee and assignee.startswith("person:"):
            person = self.people.get(assignee[7:])
            return person.name if person else None
        return None


def person_id_of(name: str, phone: str, first_unit: str) -> str:
    """The stable id of a person: from the phone, else the name and first post."""
    key = phone.replace(" ", "").replace("-", "") if phone else f"{name}|{first_unit}"
    return "p-" + hashlib.sha1(key.encode()).hexdigest()[:10]


@dataclass(frozen=True)
class RosterRow:
    """One checked roster line: a post of a person."""

    line: int
    level: str
    unit_id: str
    name: str
    role: str
    phone: str
    schedule: str
    unit: str


class PeopleStore:
    """The people tables of ``store`` (migrated on creation)."""

    TTL = 1.0

    def __init__(self, store: Store):
        self.store = store
        self.dialect = store.dialect
        self._cache: tuple[float, Directory] | None = None
        self._lock = threading.Lock()
        before = store.schema_version(COMPONENT)
        store.migrate_component(COMPONENT, [self.dialect.schema(_SQL), _import_staff_docs])
        if before < 2:
            self.sync_staff_docs()

    def _q(self, sql: str) -> str:
        return self.dialect.q(sql)

    # --- reads --------------------------------------------------------------------------------
    def directory(self) -> Directory:
        """Every person, post and key link (read at most once a second per process; at once after a write here)."""
        cached = self._cache
        if cached is not None and time.monotonic() - cached[0] < self.TTL:
            return cached[1]
        with self.store.cursor(readonly=True) as cur:
            cur.execute("SELECT person_id, name, phone, role, unit FROM people ORDER BY person_id")
            people = {r[0]: Person(*r) for r in cur.fetchall()}
            cur.execute(
                "SELECT person_id, level, grid_id, area_id, role, schedule FROM person_posts ORDER BY "
                "level, grid_id, area_id, seq"
            )
            posts = tuple(Post(r[0], r[1], r[2] if r[1] == "grid" else r[3], r[4], r[5]) for r in cur.fetchall())
            cur.execute("SELECT key_hash, person_id FROM person_keys")
            keys = dict(cur.fetchall())
        directory = Directory(people, posts, keys)
        self._cache = (time.monotonic(), directory)
        return directory

    def get(self, person_id: str) -> Person:
        person = self.directory().people.get(person_id)
        if person is None:
            raise NotFoundError(
                f"No person {person_id!r}.", fix="list them: GET /v1/people.", details={"person_id": person_id}
            )
        return person

    # --- writes -------------------------------------------------------------------------------
    def apply(self, rows: list[RosterRow], *, replace_all: bool = False) -> dict[str, int]:
        """Write checked roster rows in one transaction: the posts of every unit they name are replaced
        by theirs (with ``replace_all``, every post); people are added or updated, those left without a post
        or a key removed. Returns counts."""
        now = self.dialect.ts(utc_now())
        people: dict[str, RosterRow] = {}
        posts = []
        for row in rows:
            pid = person_id_of(row.name, row.phone, f"{row.level}:{row.unit_id}")
            first = people.setdefault(pid, row)
            if first.name != row.name:
                raise InputError(
                    f"line {row.line}: phone {row.phone} is {first.name!r} on line {first.line}, not {row.name!r}.",
                    fix="one phone number belongs to one person.",
                )
            posts.append(
                (
                    pid,
                    row.level,
                    row.unit_id if row.level == "grid" else None,
                    None if row.level == "grid" else row.unit_id,
                    row.role,
                    row.schedule,
                    len(posts),
                )
            )
        units = sorted({(r.level, r.unit_id) for r in rows})

        def work(cur):
            if replace_all:
                cur.execute("DELETE FROM person_posts")
            else:
                for level, unit_id in units:
                    col = "grid_id" if level == "grid" else "area_id"
                    cur.execute(self._q(f"DELETE FROM person_posts WHERE level = ? AND {col} = ?"), (level, unit_id))
            for pid, row in people.items():
                cur.execute(
                    self._q(
                        "UPDATE people SET name = ?, phone = ?, role = ?, unit = ?, updated_at = ? WHERE person_id = ?"
                    ),
                    (row.name, row.phone, row.role, row.unit, now, pid),
                )
                if cur.rowcount == 0:
                    cur.execute(
                        self._q(
                            "INSERT INTO people (person_id, name, phone, role, unit, created_at, "
                            "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                        ),
                        (pid, row.name, row.phone, row.role, row.unit, now, now),
                    )
            cur.executemany(
                self._q(
                    "INSERT INTO person_posts (person_id, level, grid_id, area_id, role, schedule, seq) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)"
                ),
                posts,
            )
            # people left without a post or a key are gone from the roster
            cur.execute(
                "DELETE FROM people WHERE person_id NOT IN (SELECT person_id FROM person_posts) "
                "AND person_id NOT IN (SELECT person_id FROM person_keys)"
            )

        self.store.write(work)
        self._cache = None
        self.sync_staff_docs()
        return {"people": len(people), "posts": len(posts), "units": len(units)}

    def clear_unit(self, level: str, unit_id: str) -> None:
        """Remove every post of one unit (a grid emptied of its staff)."""
        col = "grid_id" if level == "grid" else "area_id"
        self.store.write(
            lambda cur: cur.execute(
                self._q(f"DELETE FROM person_posts WHERE level = ? AND {col} = ?"), (level, unit_id)
            )
        )
        self._cache = None
        self.sync_staff_docs()

    def link_key(self, token_hash: str, person_id: str) -> None:
        """Record that the key with hash ``token_hash`` is held by ``person_id``."""
        self.get(person_id)
        self.store.write(
            lambda cur: cur.execute(
                self._q("INSERT INTO person_keys (key_hash, person_id) VALUES (?, ?)"), (token_hash, person_id)
            )
        )
        self._cache = None

    def remap_grids(self, cur, mapping: Mapping[str, str]) -> None:
        """Within the transaction of ``cur``: move grid posts from old to new grid ids (a re-plan)."""
        for old, new in mapping.items():
            cur.execute(self._q("UPDATE person_posts SET grid_id = ? WHERE level = 'grid' AND grid_id = ?"), (new, old))
        self._cache = None

    # --- the public staff documents ----------------------------------------------------------------
    def sync_staff_docs(self) -> int:
        """Rewrite the public staff document of every grid of the published plan (and of every grid with
        posts) from the people tables: leader and workers by name, the nearest desk number; no personal
        phones. Returns how many were written (0 without a published plan)."""
        units = plan_units(self.store)
        d = self.directory()
        grids = dict(units)
        for post in d.posts:
            if post.level == "grid":
                grids.setdefault(post.unit_id, (None, None))
        docs = {}
        for grid_id, (community_id, town_id) in grids.items():
            posts = d.posts_at("grid", grid_id)
            leader = next((p for p in posts if p.role == "leader"), None)
            docs[grid_id] = {
                "leader": {"name": d.people[leader.person_id].name, "title": "网格长"} if leader else None,
                "workers": [
                    {
                        "name": d.people[p.person_id].name,
                        "on_duty": p.schedule.lower() not in OFF,
                        **({"schedule": p.schedule} if p.schedule and p.schedule.lower() not in OFF else {}),
                    }
                    for p in posts
                    if p.role == "worker"
                ],
                "desk_phone": d.desk_phone(
                    [
                        ("grid", grid_id),
                        ("community", community_id),
                        ("town", town_id),
                        ("county", town_id[:6] if town_id else None),
                    ]
                ),
            }
        if docs:
            self.store.set_staff_docs(docs)
        return len(docs)


def plan_units(store: Store) -> dict[str, tuple[str | None, str | None]]:
    """grid id -> (community id, town id) of the published plan ({} when none is published)."""
    try:
        plan = store.get_plan(None)
    except NotFoundError:
        return {}
    page = store.features(plan.plan_id, "grids", limit=None)
    return {
        str(fid): (_s(p.get("community_id")), _s(p.get("town_id")))
        for fid, p in zip(page.ids, page.properties, strict=True)
    }


def _s(value: Any) -> str | None:
    return None if value is None else str(value)


def _import_staff_docs(store: Store, cur) -> None:
    """Step 2: the staff documents written before people existed become people and grid posts (a worker
    not on duty gets the schedule ``off``)."""
    cur.execute("SELECT grid_id, doc FROM staff")
    now = store.dialect.ts(utc_now())
    import json

    seen: set[str] = set()
    for grid_id, text in cur.fetchall():
        doc = json.loads(text) if isinstance(text, str | bytes) else text
        entries = [(doc.get("leader"), "leader")] + [(w, "worker") for w in doc.get("workers") or []]
        for seq, (entry, role) in enumerate(entries):
            if not isinstance(entry, Mapping) or not entry.get("name"):
                continue
            name, phone = str(entry["name"])[:MAX_NAME], str(entry.get("phone") or "")[:MAX_PHONE]
            pid = person_id_of(name, phone, f"grid:{grid_id}")
            if pid not in seen:
                seen.add(pid)
                cur.execute(
                    store.dialect.q(
                        "INSERT INTO people (person_id, name, phone, role, unit, created_at, "
                        "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                    ),
                    (pid, name, phone, role, "", now, now),
                )
            schedule = "" if entry.get("on_duty", True) else "off"
            cur.execute(
                store.dialect.q(
                    "INSERT INTO person_posts (person_id, level, grid_id, area_id, role, schedule, seq) "
                    "VALUES (?, 'grid', ?, NULL, ?, ?, ?)"
                ),
                (pid, grid_id, role, schedule, seq),
            )
