"""API keys (admin only): create one for a role (a worker key with its grids), list them (hashes are never shown)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import StoreDep, require
from api.schemas import KeyIn, KeyOut

router = APIRouter(prefix="/v1/keys", tags=["keys"], dependencies=[require("admin")])


@router.post("", response_model=KeyOut, status_code=201, summary="Create an API key (shown once)")
def create_key(body: KeyIn, store: StoreDep) -> dict:
    token = store.create_key(body.role, body.name, grids=body.grids)
    return {"key": token, "role": body.role, "name": body.name, "grids": list(store.lookup_key(token)["grids"])}


@router.get("", summary="List API keys (prefix, name, role, a worker's grids, dates)")
def list_keys(store: StoreDep) -> list[dict]:
    return [{k: (v if k == "grids" or v is None else str(v)) for k, v in row.items()} for row in store.list_keys()]
