"""API keys (admin only): create one for a role, list them (hashes are never shown)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import StoreDep, require
from api.schemas import KeyIn, KeyOut

router = APIRouter(prefix="/v1/keys", tags=["keys"], dependencies=[require("admin")])


@router.post("", response_model=KeyOut, status_code=201, summary="Create an API key (shown once)")
def create_key(body: KeyIn, store: StoreDep) -> dict:
    return {"key": store.create_key(body.role, body.name), "role": body.role, "name": body.name}


@router.get("", summary="List API keys (prefix, name, role, dates)")
def list_keys(store: StoreDep) -> list[dict]:
    return [{k: (str(v) if v is not None else None) for k, v in row.items()} for row in store.list_keys()]
