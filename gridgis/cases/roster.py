"""The roster (花名册) of the grid centre's people, read from and written to CSV or XLSX.

Columns (Chinese or English headers, any order; ``unit`` optional)::

    编码 code | 姓名 name | 角色 role | 电话 phone | 值班 schedule | 单位 unit

``code`` is a grid, community or town code of the published plan, the county's code, or a configured
department's name (for role ``department``). ``role`` is one of :data:`gridgis.cases.people.ROLES` or its
Chinese name (网格员, 网格长, 社区书记, 服务台, 部门人员, 调度员...). The whole file is checked first: every bad
line is listed (unknown codes together), and nothing is written unless all lines are good. Applying it
replaces the posts of every unit it names (``replace_all``: every post) in one transaction.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gridgis.cases.config import CaseConfig
from gridgis.cases.people import (
    LEADER_TITLES_ZH,
    MAX_NAME,
    MAX_PHONE,
    PHONE,
    ROLE_ALIASES,
    ROLE_NAMES_ZH,
    PeopleStore,
    RosterRow,
    parse_schedule,
    plan_units,
)
from gridgis.errors import FileFormatError, InputError

HEADERS = {
    "code": ("编码", "code", "网格编码", "单位编码"),
    "name": ("姓名", "name"),
    "role": ("角色", "role", "职务"),
    "phone": ("电话", "phone", "手机", "联系电话"),
    "schedule": ("值班", "schedule", "值班时间"),
    "unit": ("单位", "unit", "所属单位"),
}
REQUIRED = ("code", "name", "role")
MAX_ROWS = 100_000
#: export header order
EXPORT = ("code", "name", "role", "phone", "schedule", "unit")
_ZH = {"code": "编码", "name": "姓名", "role": "角色", "phone": "电话", "schedule": "值班", "unit": "单位"}


def _records(path: Path) -> Iterator[tuple[int, list[Any]]]:
    """(line number, cells) of a CSV (UTF-8 with or without BOM, else GB18030) or XLSX file."""
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        from openpyxl import load_workbook

        try:
            book = load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises several kinds for a damaged file
            raise FileFormatError(
                f"{path}: not a readable XLSX workbook ({exc}).", fix="save it again from Excel."
            ) from None
        try:
            sheet = book.worksheets[0]
            for n, row in enumerate(sheet.iter_rows(values_only=True), start=1):
                yield n, list(row)
        finally:
            book.close()
        return
    if suffix != ".csv":
        raise FileFormatError(f"{path}: a roster is a .csv or .xlsx file.", fix="save it as CSV (UTF-8) or XLSX.")
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise FileFormatError(f"{path}: neither UTF-8 nor GB18030 text.", fix="save it as CSV UTF-8 from Excel.")
    for n, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        yield n, row


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip().lstrip("\t").strip()


def read_roster(
    path: str | Path, config: CaseConfig, units: dict[str, tuple[str | None, str | None]]
) -> list[RosterRow]:
    """Check every line of a roster file against the plan's ``units`` (grid id -> (community, town)) and the
    configuration; return the rows, or raise :class:`InputError` listing every bad line (file named)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file.", fix="give the path of a roster .csv or .xlsx.")
    communities = {c for c, _ in units.values() if c}
    towns = {t for _, t in units.values() if t}
    counties = {config.county_of(t) for t in towns} - {None}
    records = _records(path)
    header = None
    for _n, cells in records:
        if any(_cell(c) for c in cells):
            header = [_cell(c).lower() for c in cells]
            break
    if header is None:
        raise InputError(f"{path}: the roster is empty.", fix=f"give a header line: {', '.join(_ZH.values())}.")
    columns: dict[str, int] = {}
    for key, names in HEADERS.items():
        for i, h in enumerate(header):
            if h in names:
                columns.setdefault(key, i)
    missing = [k for k in REQUIRED if k not in columns]
    if missing:
        raise InputError(
            f"{path}: the header lacks {missing} (found {header}).",
            fix="name the columns 编码, 姓名, 角色, 电话, 值班 (or code, name, role, phone, schedule).",
        )
    rows, errors, unknown = [], [], []
    for n, cells in records:
        if len(rows) + len(errors) > MAX_ROWS:
            raise InputError(f"{path}: more than {MAX_ROWS:,} lines.", fix="split the roster by town.")

        def get(key: str, cells: list[Any] = cells) -> str:
            i = columns.get(key)
            return _cell(cells[i]) if i is not None and i < len(cells) else ""

        if not any(_cell(c) for c in cells):
            continue
        code, name, role_text, phone = get("code"), get("name"), get("role"), get("phone")
        role = ROLE_ALIASES.get(role_text.lower()) or ROLE_ALIASES.get(role_text)
        problem = None
        if not name or len(name) > MAX_NAME:
            problem = f"name {name!r} must have 1 to {MAX_NAME} characters"
        elif role is None:
            problem = (
                f"unknown role {role_text!r} (use {', '.join(ROLE_NAMES_ZH.values())} or {', '.join(ROLE_NAMES_ZH)})"
            )
        elif phone and (len(phone) > MAX_PHONE or not PHONE.match(phone)):
            problem = f"phone {phone!r} is not a phone number"
        elif role == "desk" and not phone:
            problem = "a service desk (服务台) needs its phone number"
        if problem is None:
            try:
                parse_schedule(get("schedule"))
            except InputError as exc:
                problem = exc.message
        level = None
        if code in units:
            level = "grid"
        elif code in communities:
            level = "community"
        elif code in towns:
            level = "town"
        elif code in counties or (config.county_code and code == config.county_code):
            level = "county"
        elif role == "department" and (code in config.departments or not config.departments):
            level = "department"
        elif problem is None:
            unknown.append((n, code))
            continue
        if problem is not None:
            errors.append(f"line {n}: {problem}")
            continue
        rows.append(RosterRow(n, level, code, name, role, phone, get("schedule"), get("unit")))
    if unknown:
        codes = sorted({c for _, c in unknown})
        errors.insert(0, f"unknown code(s) {codes[:50]} on line(s) {[n for n, _ in unknown][:50]}")
    if errors:
        raise InputError(
            f"{path}: {len(errors)} problem(s), nothing was imported: "
            + "; ".join(errors[:20])
            + (" ..." if len(errors) > 20 else ""),
            fix="codes are grid, community or town codes of the published plan (GET /v1/grids), the county's "
            "code, or a department named in the configuration (GET /v1/cases/config); fix the lines and import again.",
            details={"problems": errors[:200], "unknown_codes": sorted({c for _, c in unknown})[:200]},
        )
    if not rows:
        raise InputError(f"{path}: the roster has a header but no people.", fix="add one line per post.")
    return rows


def import_roster(
    people: PeopleStore, path: str | Path, config: CaseConfig, *, replace_all: bool = False
) -> dict[str, int]:
    """Check and apply a roster file (see the module doc); the counts written."""
    rows = read_roster(path, config, plan_units(people.store))
    return people.apply(rows, replace_all=replace_all)


def roster_table(people: PeopleStore, *, lang: str = "zh") -> list[list[str]]:
    """The roster as rows (header first): one line per post, as :func:`read_roster` reads it back."""
    d = people.directory()
    out = [[_ZH[k] if lang != "en" else k for k in EXPORT]]
    for post in d.posts:
        person = d.people[post.person_id]
        role = post.role
        label = LEADER_TITLES_ZH.get(post.level, "负责人") if role == "leader" else ROLE_NAMES_ZH[role]
        out.append(
            [post.unit_id, person.name, label if lang != "en" else role, person.phone, post.schedule, person.unit]
        )
    return out


def write_roster(people: PeopleStore, out, *, fmt: str, lang: str = "zh") -> int:
    """Write the roster as ``fmt`` (``csv``: UTF-8 with BOM, codes with a leading tab so Excel keeps them as
    text; ``xlsx``: text cells) to ``out`` (a path or a binary file); the number of posts."""
    table = roster_table(people, lang=lang)
    if fmt == "xlsx":
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell

        book = Workbook(write_only=True)
        sheet = book.create_sheet("花名册")
        for r, row in enumerate(table):
            cells = []
            for value in row:
                cell = WriteOnlyCell(sheet, value=value)
                if r:
                    cell.number_format = "@"
                cells.append(cell)
            sheet.append(cells)
        book.save(out)
    elif fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\r\n")
        for r, row in enumerate(table):
            writer.writerow([("\t" + row[0]) if r and row[0].isdigit() else row[0], *row[1:]])
        data = ("\ufeff" + buf.getvalue()).encode("utf-8")
        if isinstance(out, str | Path):
            Path(out).write_bytes(data)
        else:
            out.write(data)
    else:
        raise InputError(f"Unknown roster format {fmt!r}.", fix="use csv or xlsx.")
    return len(table) - 1
