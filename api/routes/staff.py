"""People of the grid centre: each grid's staff, the people list, their keys and the roster (花名册).

Privacy: personal phone numbers go only to staff keys (worker and above); the public (no key, or an
app's reader key) gets names and the grid's service desk number (``desk_phone``) instead.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, File, Query, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CallerDep, ConsoleDep, ServiceDep, SnapshotDep, StaffDep, require
from api.routes.grids import grid_position
from api.schemas import StaffFullOut, StaffIn
from api.uploads import with_upload
from gridgis.access import Caller, key_id
from gridgis.cases.people import RosterRow
from gridgis.cases.roster import import_roster, write_roster
from gridgis.errors import InputError, NotFoundError
from gridgis.times import utc_now

router = APIRouter(tags=["staff"])


def _grid_staff(service, grid_id: str, *, phones: bool) -> dict:
    d = service.cases.people.directory()
    posts = d.posts_at("grid", grid_id)
    leader = next((p for p in posts if p.role == "leader"), None)

    def person(post, **extra):
        return {**d.people[post.person_id].as_dict(phone=phones), "schedule": post.schedule, **extra}

    doc = service.store.get_staff(grid_id) or {}
    now = utc_now()
    return {
        "grid_id": grid_id,
        "leader": person(leader) if leader else None,
        "workers": [person(p, on_duty=d.on_duty(p, now)) for p in posts if p.role == "worker"],
        "desk_phone": doc.get("desk_phone"),
    }


@router.get("/v1/grids/{grid_id}/staff", response_model=StaffFullOut, summary="All staff of a grid (on duty or not)")
def get_staff(grid_id: str, snap: SnapshotDep, service: ServiceDep, caller: CallerDep) -> dict:
    """The grid's leader and workers with their schedules; personal phones only for staff keys, else the
    grid's service desk number. 404: no such grid in the plan."""
    grid_position(snap, grid_id)
    return _grid_staff(service, grid_id, phones=caller.at_least("worker"))


@router.put(
    "/v1/grids/{grid_id}/staff",
    response_model=StaffFullOut,
    dependencies=[require("dispatcher")],
    summary="Replace the staff of a grid (key with role dispatcher or higher)",
)
def put_staff(grid_id: str, body: StaffIn, snap: SnapshotDep, service: ServiceDep) -> dict:
    """Replace the grid's people (a worker not on duty gets the schedule ``off``); locate answers it within
    ``poll_seconds``. 401/403: no dispatcher key; 404: no such grid; 422: bad body."""
    grid_position(snap, grid_id)
    rows = []
    if body.leader is not None:
        rows.append(RosterRow(1, "grid", grid_id, body.leader.name, "leader", body.leader.phone or "", "", ""))
    for i, w in enumerate(body.workers, start=2):
        rows.append(RosterRow(i, "grid", grid_id, w.name, "worker", w.phone or "", "" if w.on_duty else "off", ""))
    people = service.cases.people
    if rows:
        people.apply(rows)
    else:  # an empty body empties the grid
        people.clear_unit("grid", grid_id)
    service.refresh()
    return _grid_staff(service, grid_id, phones=True)


@router.get("/v1/people", summary="The people: name, role, unit, posts (phones for staff keys)")
def list_people(
    service: ServiceDep,
    caller: StaffDep,
    level: Annotated[str | None, Query(description="grid, community, town, county or department")] = None,
    unit: Annotated[str | None, Query(description="A unit's code or a department's name.")] = None,
) -> list[dict]:
    """Every person (or those posted to ``level``/``unit``) with posts and schedules; phones included (staff
    only). 401/403: no staff key."""
    d = service.cases.people.directory()
    out = []
    for pid, person in d.people.items():
        posts = [
            p for p in d.posts_of(pid) if (level is None or p.level == level) and (unit is None or p.unit_id == unit)
        ]
        if (level or unit) and not posts:
            continue
        out.append(
            {
                **person.as_dict(phone=True),
                "posts": [
                    {"level": p.level, "unit_id": p.unit_id, "role": p.role, "schedule": p.schedule}
                    for p in (posts or d.posts_of(pid))
                ],
            }
        )
    return out


class PersonKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["worker", "dispatcher"] | None = Field(
        None,
        description="Default: worker (with the grids of its grid and community posts), dispatcher for "
        "town, county, department and dispatcher posts.",
    )


@router.post(
    "/v1/people/{person_id}/keys",
    status_code=201,
    dependencies=[require("admin")],
    summary="Create an API key held by a person (admin); shown once",
)
def create_person_key(person_id: str, body: PersonKeyIn, service: ServiceDep, snap: SnapshotDep) -> dict:
    """A key held by the person: the audit log then names them. 201; 401/403: no admin key; 404: no such
    person; 422: a worker key for a person without grid or community posts."""
    people = service.cases.people
    person = people.get(person_id)
    posts = people.directory().posts_of(person_id)
    grids = set()
    for p in posts:
        if p.level == "grid":
            grids.add(p.unit_id)
        elif p.level == "community":
            grids.update(
                str(g)
                for g, a in zip(snap.grid_ids, snap.answers, strict=True)
                if str(a["community"].get("community_id")) == p.unit_id
            )
    role = body.role or ("worker" if grids and all(p.level in ("grid", "community") for p in posts) else "dispatcher")
    if role == "worker" and not grids:
        raise InputError(
            f"{person.name} ({person_id}) has no grid or community post for a worker key.",
            fix='post them to a grid first (roster import), or ask for "role": "dispatcher".',
        )
    token = service.store.create_key(role, person.name, grids=sorted(grids) if role == "worker" else ())
    people.link_key(key_id(token), person_id)
    return {
        "key": token,
        "role": role,
        "person_id": person_id,
        "name": person.name,
        "grids": sorted(grids) if role == "worker" else [],
    }


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: str = Field(description="10 to 200 characters; only its Argon2id hash is kept.")


@router.put(
    "/v1/people/{person_id}/password",
    status_code=204,
    summary="Set a person's console password (admin); their open sessions end",
)
def set_person_password(
    person_id: str,
    body: PasswordIn,
    service: ServiceDep,
    console: ConsoleDep,
    caller: Annotated[Caller, require("admin")],
) -> Response:
    """The person then signs in to ``/console`` with their phone number (or person id) and this password.
    204; 401/403: no admin key; 404: no such person; 422: a password too short or too long."""
    service.cases.people.get(person_id)
    console.logins.set_password(person_id, body.password, by=caller.actor)
    return Response(status_code=204)


@router.delete(
    "/v1/people/{person_id}/password",
    status_code=204,
    dependencies=[require("admin")],
    summary="Remove a person's console password (admin); their open sessions end",
)
def clear_person_password(person_id: str, service: ServiceDep, console: ConsoleDep) -> Response:
    """204; 401/403: no admin key; 404: no such person, or they have no password."""
    service.cases.people.get(person_id)
    if not console.logins.clear_password(person_id):
        raise NotFoundError(f"{person_id} has no console password.", fix="set one: PUT /v1/people/{id}/password.")
    return Response(status_code=204)


@router.post(
    "/v1/roster",
    dependencies=[require("dispatcher")],
    summary="Import a roster (CSV or XLSX): checked whole first, then applied in one transaction",
)
def post_roster(
    service: ServiceDep,
    file: Annotated[UploadFile, File(description="roster.csv or roster.xlsx")],
    replace: Annotated[bool, Query(description="Replace every post, not only those of the units in the file.")] = False,
) -> dict:
    """Import a roster (columns 编码, 姓名, 角色, 电话, 值班[, 单位]). Nothing is written unless every line is good.
    200 with counts; 401/403: no dispatcher key; 422: bad lines listed (unknown codes together)."""
    counts = with_upload(
        file,
        "roster.csv",
        lambda path: import_roster(service.cases.people, path, service.cases.config(), replace_all=replace),
        cli="gridgis roster import",
    )
    service.refresh()
    return counts


@router.get("/v1/roster.{fmt}", summary="Export the roster as CSV or XLSX (staff: phones included)")
def get_roster(fmt: str, service: ServiceDep, caller: StaffDep, lang: str = "zh") -> Response:
    """The roster, one line per post, as ``csv`` or ``xlsx``; re-importable. 401/403: no staff key; 404: other
    format."""
    if fmt not in ("csv", "xlsx"):
        raise NotFoundError(f"No roster format {fmt!r}.", fix="use /v1/roster.csv or /v1/roster.xlsx.")
    with tempfile.TemporaryDirectory(prefix="gridgis-roster-") as tmp:
        path = Path(tmp) / f"roster.{fmt}"
        write_roster(service.cases.people, path, fmt=fmt, lang=lang)
        data = path.read_bytes()
    media = (
        "text/csv; charset=utf-8"
        if fmt == "csv"
        else ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    )
    return Response(data, media_type=media, headers={"Content-Disposition": f'attachment; filename="roster.{fmt}"'})
