"""Request (``...In``) and response (``...Out``) models; GeoJSON bodies are documented, not re-validated."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

CRS = Literal["wgs84", "cgcs2000", "gcj02", "bd09"]


# --- locate -------------------------------------------------------------------------------
class PointOut(BaseModel):
    lon: float
    lat: float
    crs: CRS
    wgs84: tuple[float, float] = Field(description="The point in WGS84 (what the grids are stored in).")


class GridOut(BaseModel):
    grid_id: str
    grid_code: str = Field(description="15-digit grid code: town division code + community + sequence.")
    name: str | None = None
    kind: str | None = None
    households: int | None = None
    population: int | None = None
    buildings: int | None = None
    shops: int | None = None


class PersonOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    phone: str | None = None


class StaffOut(BaseModel):
    leader: PersonOut | None = None
    workers: list[PersonOut] = []
    desk_phone: str | None = Field(None, description="The grid's service desk number (personal phones are not public).")


class AreaOut(BaseModel):
    layer: str
    id: int
    name: str | None = None


class LocateOut(BaseModel):
    point: PointOut
    plan: str
    grid: GridOut
    community: dict[str, Any]
    town: dict[str, Any]
    staff: StaffOut
    layers: list[AreaOut] = Field(description="Every extra layer area (police beat, school district...) holding it.")


class LocateArraysIn(BaseModel):
    """Points as two arrays."""

    lon: list[float]
    lat: list[float]
    crs: CRS = "wgs84"


class PointGeometry(BaseModel):
    type: Literal["Point"]
    coordinates: list[float] = Field(min_length=2, max_length=3)


class PointFeature(BaseModel):
    type: Literal["Feature"]
    geometry: PointGeometry
    properties: dict[str, Any] | None = None


class FeatureCollectionIn(BaseModel):
    """Points as a GeoJSON FeatureCollection of Point features (``crs`` is gridgis' extension member)."""

    type: Literal["FeatureCollection"]
    features: list[PointFeature]
    crs: CRS = "wgs84"


class MultiPointIn(BaseModel):
    type: Literal["MultiPoint"]
    coordinates: list[list[float]]
    crs: CRS = "wgs84"


def _batch_kind(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return kind or "arrays"


#: a batch: arrays (no "type" member), a FeatureCollection or a MultiPoint, told apart by "type"
LocateBatchIn = Annotated[
    Annotated[LocateArraysIn, Tag("arrays")]
    | Annotated[FeatureCollectionIn, Tag("FeatureCollection")]
    | Annotated[MultiPointIn, Tag("MultiPoint")],
    Discriminator(_batch_kind),
]


class LocateBatchOut(BaseModel):
    plan: str
    count: int
    located: int
    grid_id: list[str | None] = Field(description="Grid of each point, in input order (null outside every grid).")
    errors: list[dict[str, Any] | None] = Field(
        description="Per point, in input order: null when located, else {code, message}; code is outside_coverage, "
        "missing, swapped, projected or outside (China); outside_coverage adds nearest_grid_id and distance_m."
    )
    properties: list[dict[str, Any] | None] | None = Field(
        None, description="A FeatureCollection's feature properties, echoed in input order."
    )
    grids: dict[str, dict[str, Any]] = Field(description="The answer (grid, community, town, staff) of each grid hit.")


# --- staff, plans, layers, keys -----------------------------------------------------------
class PersonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    phone: str | None = Field(None, max_length=40)
    on_duty: bool = True


class LeaderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    phone: str | None = Field(None, max_length=40)


class StaffIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    leader: LeaderIn | None = None
    workers: list[PersonIn] = Field(default_factory=list, max_length=200)


class StaffFullOut(BaseModel):
    grid_id: str
    leader: dict[str, Any] | None = None
    workers: list[dict[str, Any]] = []
    desk_phone: str | None = Field(None, description="The grid's service desk number.")


class PlanOut(BaseModel):
    plan_id: int
    name: str
    status: Literal["draft", "published", "retired"]
    created_at: str
    valid_from: str | None
    valid_to: str | None
    counts: dict[str, int]


class LayerOut(BaseModel):
    name: str
    title: str
    name_field: str | None
    n_features: int
    created_at: str


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["reader", "worker", "dispatcher", "planner", "admin"]
    name: str = Field("", max_length=100)
    grids: list[str] = Field(
        default_factory=list,
        max_length=1000,
        description="Grid ids a worker key covers (required for role worker, none for the others).",
    )


class KeyOut(BaseModel):
    key: str = Field(description="The token; shown once, stored hashed.")
    role: str
    name: str
    grids: list[str]
