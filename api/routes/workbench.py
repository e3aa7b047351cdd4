"""The planners' workbench API: a plan's grids and county-wide figures, and edits checked by the library.

``POST /v1/plans/{name}/edits`` applies an edit list (:mod:`gridgis.planedit`) to plan ``name`` as
stored, and answers the grids it changed, every grid's figures and the county-wide distribution; with
``save_as`` the result is stored as a new draft plan. The stored plan itself is never changed (plans are
generations: a draft is published through ``POST /v1/plans/{name}/publish``). The workbench page sends its
whole list on every change, so undo is the list without its last operation; a plan is prepared once
per worker (projected, buildings indexed) and kept for the next request.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CallerDep, StoreDep, require
from api.geojson import dumps, feature_collection, features_json, parse_bbox
from api.routes.console import LangQuery, _page
from api.routes.tiles import page_tiles
from api.uploads import with_upload
from gridgis.access import require_role
from gridgis.errors import InputError, NotFoundError
from gridgis.planedit import MAX_OPS, Editor, Plan, figures
from gridgis.store import PLAN_LAYERS, Store

router = APIRouter(prefix="/v1/plans", tags=["workbench"])
PlannerDep = require("planner")
#: plans kept prepared per worker process (a Heshan plan takes about 100 MB prepared)
CACHED_PLANS = 2
#: the figures of each grid the page shows and colours by
GRID_FIELDS = ("grid_id", "grid_code", "community_id", "town_id", "name", "note", "households", "population",
               "buildings", "locked")  # fmt: skip
#: the figures of each street block (gridgis.partition.blocks)
BLOCK_FIELDS = ("block_id", "community_id", "buildings", "households")
MAX_BUILDINGS = 20_000

_cache: OrderedDict[tuple, Editor] = OrderedDict()
_lock = threading.Lock()


def editor_of(store: Store, name: str) -> Editor:
    """The prepared :class:`Editor` of stored plan ``name`` (NotFoundError: no such plan)."""
    info = store.get_plan(name)
    key = (id(store), info.plan_id, tuple(sorted(info.counts.items())))
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    if not info.counts.get("grids"):
        raise NotFoundError(f"Plan {name!r} has no grids.", fix="import a plan written by gridgis partition.")
    layers = {layer: store.load_layer(info.plan_id, layer) for layer in PLAN_LAYERS if info.counts.get(layer)}
    editor = Editor(Plan(layers))
    with _lock:
        _cache[key] = editor
        while len(_cache) > CACHED_PLANS:
            _cache.popitem(last=False)
    return editor


def rows_of(frame, fields) -> list[dict[str, Any]]:
    """JSON-ready rows of the ``fields`` ``frame`` has (missing values None)."""
    cols = [c for c in fields if c in frame.columns]
    rows = frame[cols].astype(object).where(frame[cols].notna(), None).to_dict("records")
    return [{k: (v.item() if isinstance(v, np.generic) else v) for k, v in r.items()} for r in rows]


def grid_rows(grids) -> list[dict[str, Any]]:
    return rows_of(grids, GRID_FIELDS)


class EditsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    edits: list[dict[str, Any]] = Field(
        max_length=MAX_OPS,
        description='Operations applied in order, e.g. {"op": "move", "buildings": [17], "to": "440784101001002"}; '
        "see `gridgis plan edit --help`.",
    )
    save_as: str | None = Field(None, max_length=64, description="Store the result as a new draft plan of this name.")


@router.get(
    "/{name}/workbench",
    dependencies=[PlannerDep],
    summary="A plan's grids with their figures, the county-wide distribution and the published plan's (planner)",
    responses={200: {"content": {"application/geo+json": {}}}, 401: {}, 403: {}, 404: {}},
)
def workbench(name: str, store: StoreDep):
    """The grids of plan ``name`` as GeoJSON with ``distribution`` (county-wide households per grid, see
    :func:`gridgis.planedit.figures`) and ``published`` (the published plan's name and distribution, to compare;
    null when none is published). 401/403: no planner key or session; 404: no such plan."""
    grids = editor_of(store, name).apply([], layers=False).grids  # with locked, name and note always present
    published = None
    try:
        pub = store.get_plan()
        if pub.name != name:
            published = {"name": pub.name, "distribution": figures(editor_of(store, pub.name).plan.grids)}
    except NotFoundError:
        pass
    return feature_collection(list(grids["grid_id"]), grid_rows(grids), grids.geometry.values,
                              plan=store.get_plan(name).as_dict(), distribution=figures(grids),
                              published=published)  # fmt: skip


@router.get(
    "/{name}/workbench/buildings",
    dependencies=[PlannerDep],
    summary="A plan's buildings in a bounding box with their grid (planner)",
    responses={200: {"content": {"application/geo+json": {}}}, 401: {}, 403: {}, 404: {}, 422: {}},
)
def workbench_buildings(
    name: str,
    store: StoreDep,
    bbox: Annotated[str | None, Query(max_length=200, description="minx,miny,maxx,maxy in WGS84 degrees")] = None,
):
    """Buildings (id, grid_id, households) intersecting ``bbox``; 422 when more than 20,000 match (zoom in).
    401/403: no planner key or session; 404: no such plan."""
    b = editor_of(store, name).plan.buildings
    if b is None:
        return feature_collection([], [], np.array([]))
    box = parse_bbox(bbox)
    if box is not None:
        b = b.cx[box[0] : box[2], box[1] : box[3]]
    if len(b) > MAX_BUILDINGS:
        raise InputError(f"{len(b)} buildings in the box, at most {MAX_BUILDINGS}.", fix="give a smaller bbox.")
    rows = rows_of(b, ("building_id", "grid_id", "households", "population"))
    return feature_collection(list(b["building_id"]), rows, b.geometry.values)


@router.get(
    "/{name}/workbench/blocks",
    dependencies=[PlannerDep],
    summary="A plan's street blocks in a bounding box, to move whole (planner)",
    responses={200: {"content": {"application/geo+json": {}}}, 401: {}, 403: {}, 404: {}, 422: {}},
)
def workbench_blocks(
    name: str,
    store: StoreDep,
    bbox: Annotated[str | None, Query(max_length=200, description="minx,miny,maxx,maxy in WGS84 degrees")] = None,
):
    """Street blocks (block_id, community_id, buildings, households) intersecting ``bbox``: the ids a move's
    ``"block"`` takes. An empty collection when the plan has no blocks layer (a plan partitioned before blocks
    were written); 422 when more than 20,000 match (zoom in). 401/403: no planner key or session; 404: no plan."""
    blocks = editor_of(store, name).plan.layers.get("blocks")
    if blocks is None:
        return feature_collection([], [], np.array([]))
    box = parse_bbox(bbox)
    if box is not None:
        blocks = blocks.cx[box[0] : box[2], box[1] : box[3]]
    if len(blocks) > MAX_BUILDINGS:
        raise InputError(f"{len(blocks)} blocks in the box, at most {MAX_BUILDINGS}.", fix="give a smaller bbox.")
    rows = rows_of(blocks, BLOCK_FIELDS)
    return feature_collection(list(blocks["block_id"]), rows, blocks.geometry.values)


@router.post(
    "/{name}/edits/names",
    dependencies=[PlannerDep],
    summary="Grid names and notes from a CSV or XLSX table, as rename and note operations (planner)",
    responses={
        200: {"description": "The operations, checked against the plan's grids; nothing is applied or stored."},
        401: {"description": "No key or session."},
        403: {"description": "Not a planner, or a console request without its CSRF token."},
        404: {"description": "No plan by that name."},
        413: {"description": "The file is larger than the service accepts."},
        422: {"description": "An unreadable table, a bad row (named), or grid ids the plan does not have."},
    },
)
def names_table(
    name: str,
    store: StoreDep,
    file: Annotated[UploadFile, File(description="names.csv or names.xlsx: columns grid_id, name and/or note")],
) -> dict:
    """Read a names table (columns ``grid_id``, ``name`` and/or ``note``; an empty cell changes nothing) into
    ``edits``: rename and note operations to append to an edit list (the workbench page appends them, so they
    undo like any edit; ``gridgis plan edit --names`` does the same). ``grids``: how many grids the table names."""
    from gridgis.planedit import edits_from_table

    editor = editor_of(store, name)
    ops = with_upload(file, "names.csv", edits_from_table, cli="gridgis plan edit --names")
    known = set(editor.plan.grids["grid_id"].astype(str))
    unknown = sorted({str(op["grid"]) for op in ops} - known)
    if unknown:
        raise InputError(f"uploaded names table: {len(unknown)} grid id(s) not in plan {name!r}: {unknown[:10]}.",
                         fix="use grid_id values of the plan (GET /v1/plans/NAME/workbench lists them).")  # fmt: skip
    return {"plan": name, "edits": ops, "grids": len({op["grid"] for op in ops})}


@router.post(
    "/{name}/edits",
    dependencies=[PlannerDep],
    summary="Apply an edit list to a plan: the changed grids and county-wide figures; save as a new draft (planner)",
    responses={
        200: {"description": "The edits hold; nothing was stored."},
        201: {"description": "The edits hold and the result is stored as draft plan `save_as`."},
        401: {"description": "No key or session."},
        403: {"description": "Not a planner, or a console request without its CSRF token."},
        404: {"description": "No plan by that name."},
        409: {"description": "An edit is refused: it would break a hard rule (`edit_refused`, details.op, rule)."},
        413: {"description": "The body is larger than the service accepts."},
        422: {"description": "A malformed edit, an unknown grid/building/community, or a `save_as` name taken."},
    },
)
def edit_plan(name: str, body: EditsIn, store: StoreDep):
    """Apply ``edits`` in order to plan ``name``; all or nothing. The answer: ``changed``/``added``/``removed``
    grid ids, ``grids`` (GeoJSON features of the changed and added grids), ``figures`` (every grid's row),
    ``moved`` (building id -> grid id for the buildings the edits moved), ``distribution`` (county-wide), and
    with ``save_as`` the stored ``plan``."""
    editor = editor_of(store, name)
    result = editor.apply(body.edits, layers=body.save_as is not None)
    grids = result.grids
    shown = grids[grids["grid_id"].isin(result.changed + result.added)]
    out: dict[str, Any] = {
        "plan": name,
        "operations": len(body.edits),
        "changed": result.changed,
        "added": result.added,
        "removed": result.removed,
        "moved": {str(k): v for k, v in result.moved.items()},
        "distribution": result.report,
        "figures": grid_rows(grids),
    }
    status = 200
    if body.save_as is not None:
        info = store.import_plan(body.save_as, {k: v for k, v in result.plan.layers.items() if k in PLAN_LAYERS},
                                 source=f"edits of {name}")  # fmt: skip
        out["saved"] = info.as_dict()
        status = 201
    features = ",".join(features_json(list(shown["grid_id"]), grid_rows(shown), shown.geometry.values))
    text = dumps(out)[:-1] + ',"grids":{"type":"FeatureCollection","features":[' + features + "]}}"
    return Response(text.encode(), status_code=status, media_type="application/json")


# --- the workbench page ------------------------------------------------------------------------------
page_router = APIRouter(prefix="/console", tags=["console"])
STATIC_DIR = Path(__file__).resolve().parent.parent / "console" / "static"
WORDS = {
    "zh": {
        "workbench": "规划工作台", "distribution": "全县网格户数分布", "mean": "全县均值", "grid": "网格",
        "grids": "个网格", "households": "户数", "buildings": "楼栋", "locked": "已锁定", "lock": "锁定",
        "unlock": "解锁",
        "rebalance": "重新平衡本社区", "merge": "合并到", "split": "一分为二", "rename": "改名", "note": "备注",
        "save_note": "保存备注", "move": "移动所选（楼栋或街区）到",
        "undo": "撤销", "redo": "重做", "save_as": "另存为草案",
        "compare": "与已发布方案比较", "published": "已发布", "draft": "本草案", "publish": "发布",
        "selected": "已选楼栋", "none": "点击地图上的网格或楼栋", "saved": "已保存为草案", "edits": "步编辑",
        "band": "相对均值", "refused": "不允许", "community": "社区",
        "plan": "方案", "status": "状态", "created": "创建时间",
        "pick": "选择", "mode_click": "点选", "mode_lasso": "圈选楼栋", "mode_block": "选街区", "unselect": "清除选择",
        "block": "街区", "names": "批量网格名称与备注（CSV/XLSX）", "names_apply": "导入",
        "compare_table": "逐社区比较（已保存的方案）", "total": "合计", "unattached": "未挂接",
        "unsaved": "（未保存的 {n} 步编辑不在其中：先另存为草案）",
        "diff_of": "{plan} 与已发布方案 {old} 比较", "publish_check": "发布 {plan}（替换 {old}）：迁移预演",
        "force": "仍然发布（未挂接的人员与案件留待映射）", "publish_yes": "确认发布", "cancel": "取消",
        "cols": {"kept": "保留", "new": "新增", "retired": "撤销", "buildings_moved": "楼栋变更",
                 "staff_moved": "人员迁移", "staff_unattached": "人员未挂接", "keys_moved": "密钥迁移",
                 "keys_unattached": "密钥未挂接",
                 "cases_rerouted": "案件改派", "cases_unrouted": "案件未改派"},
    },
    "en": {
        "workbench": "Planner workbench", "distribution": "County-wide households per grid", "mean": "county mean",
        "grid": "Grid", "grids": "grids", "households": "Households", "buildings": "Buildings", "locked": "locked",
        "lock": "Lock",
        "unlock": "Unlock", "rebalance": "Rebalance community", "merge": "Merge into", "split": "Split in two",
        "rename": "Rename", "note": "Note", "save_note": "Save note", "move": "Move the selection to",
        "undo": "Undo", "redo": "Redo", "save_as": "Save as draft", "compare": "Compare with the published plan",
        "published": "published", "draft": "this draft", "publish": "Publish", "selected": "Selected buildings",
        "none": "Click a grid or buildings on the map", "saved": "Saved as draft", "edits": "edits",
        "band": "of the mean", "refused": "Refused", "community": "Community",
        "plan": "Plan", "status": "Status", "created": "Created",
        "pick": "Select", "mode_click": "Click", "mode_lasso": "Lasso buildings", "mode_block": "Street blocks",
        "unselect": "Clear", "block": "Block", "names": "Grid names and notes from CSV/XLSX", "names_apply": "Apply",
        "compare_table": "Per community (the plan as saved)", "total": "total", "unattached": "Left unattached",
        "unsaved": "(the {n} unsaved edits are not in it: save them as a draft first)",
        "diff_of": "{plan} against the published plan {old}",
        "publish_check": "Publish {plan} (replacing {old}): dry run",
        "force": "Publish anyway (what is unattached waits for a mapping)", "publish_yes": "Confirm publish",
        "cancel": "Cancel",
        "cols": {"kept": "kept", "new": "new", "retired": "retired", "buildings_moved": "buildings moved",
                 "staff_moved": "staff moved", "staff_unattached": "staff left", "keys_moved": "keys moved",
                 "keys_unattached": "keys left", "cases_rerouted": "cases re-routed", "cases_unrouted": "cases left"},
    },
}  # fmt: skip


@page_router.get("/plans", response_class=HTMLResponse, summary="The plans a planner can open in the workbench")
def plans_page(request: Request, caller: CallerDep, store: StoreDep, lang: LangQuery = "zh"):
    """Every plan with its status and counts, each a link to its workbench. Without a session: to sign-in (303);
    403: not a planner."""
    if caller.role is None:
        return RedirectResponse(f"/console?lang={lang}", status_code=303)
    require_role(caller, "planner", f"GET {request.url.path}")
    return _page(request, "plans.html", caller, lang, w=WORDS[lang], plans=store.list_plans())


@page_router.get("/plans/{name}", response_class=HTMLResponse, summary="The planners' workbench page for plan NAME")
def workbench_page(request: Request, name: str, caller: CallerDep, store: StoreDep, lang: LangQuery = "zh"):
    """The workbench (a planner's session): the plan on the map coloured by households against the county mean,
    the county-wide distribution, moves, locks, rebalance, merge/split, names and notes, undo/redo, save as a
    new draft, compare with and publish. Without a session: to sign-in (303); 403: not a planner; 404: no plan."""
    if caller.role is None:
        return RedirectResponse(f"/console?lang={lang}", status_code=303)
    require_role(caller, "planner", f"GET {request.url.path}")
    info = store.get_plan(name)
    tiles = page_tiles(request, name, buildings_above=MAX_BUILDINGS)  # Heshan's 54,000 buildings come as tiles
    boot = {"plan": info.as_dict(), "words": WORDS[lang], "tiles": tiles}
    return _page(request, "workbench.html", caller, lang, w=WORDS[lang], plan=info,
                 wb_boot=json.dumps(boot, ensure_ascii=False).replace("</", "<\\/"))  # fmt: skip


@page_router.get("/workbench/{asset}", include_in_schema=False)
def workbench_asset(asset: str) -> FileResponse:
    """The workbench page's script and style sheet."""
    types = {"workbench.js": "text/javascript", "workbench.css": "text/css"}
    if asset not in types:
        raise NotFoundError(f"No console asset {asset!r}.", fix=f"one of {sorted(types)}.")
    return FileResponse(STATIC_DIR / asset, media_type=types[asset], headers={"Cache-Control": "no-cache"})
