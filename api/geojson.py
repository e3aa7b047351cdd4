"""GeoJSON writing: features serialized in bulk (shapely.to_geojson over arrays), returned as bytes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely
from fastapi.responses import Response

GEOJSON = "application/geo+json"


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_default)


def _default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def _finite(props: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and v != v else v) for k, v in props.items()}


def features_json(ids: Sequence[Any], props: Sequence[dict[str, Any]], geoms: np.ndarray) -> list[str]:
    """Each feature as a GeoJSON string."""
    geo = shapely.to_geojson(np.asarray(geoms, dtype=object)) if len(ids) else []
    return [
        f'{{"type":"Feature","id":{dumps(i)},"geometry":{g},"properties":{dumps(_finite(p))}}}'
        for i, p, g in zip(ids, props, geo, strict=True)
    ]


def feature_collection(
    ids: Sequence[Any], props: Sequence[dict[str, Any]], geoms: np.ndarray, **members: Any
) -> Response:
    """A FeatureCollection response; ``members`` (numberMatched, links...) are added at the top level."""
    head = "".join(f"{dumps(k)}:{dumps(v)}," for k, v in members.items())
    body = '{"type":"FeatureCollection",' + head + '"features":[' + ",".join(features_json(ids, props, geoms)) + "]}"
    return Response(body.encode(), media_type=GEOJSON)


def feature(fid: Any, props: dict[str, Any], geom: Any, **members: Any) -> Response:
    text = features_json([fid], [props], np.array([geom], dtype=object))[0]
    if members:
        text = text[:-1] + "," + ",".join(f"{dumps(k)}:{dumps(v)}" for k, v in members.items()) + "}"
    return Response(text.encode(), media_type=GEOJSON)


def parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    """``minx,miny,maxx,maxy`` in WGS84 degrees, or None."""
    from gridgis.errors import InputError

    if text is None or text == "":
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 4 or not all(np.isfinite(values)) or values[0] > values[2] or values[1] > values[3]:
        raise InputError(
            f"Bad bbox {text!r}.",
            fix="give minx,miny,maxx,maxy in WGS84 degrees with minx <= maxx and miny <= maxy, "
            "e.g. bbox=112.90,22.70,112.95,22.72.",
            details={"bbox": text},
        )
    return values[0], values[1], values[2], values[3]
