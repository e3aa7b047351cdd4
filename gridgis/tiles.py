"""Vector tiles of a plan's layers: the WebMercatorQuad tile matrix set, Mapbox Vector Tile encoding, a tile cache.

Tiles follow OGC API - Tiles Part 1 (OGC 20-057) over the WebMercatorQuad tile matrix set of OGC Two
Dimensional Tile Matrix Set 2.0 (OGC 17-083r4, Annex D.1): EPSG:3857, origin at the top-left corner
(-20037508.3427892, 20037508.3427892), 256x256 cells, zoom ``z`` has 2^z x 2^z tiles. A tile holds one
MVT layer named after the collection (Mapbox Vector Tile 2.1: extent 4096, 256 units of buffer, y down).

PostGIS encodes with ``ST_AsMVT`` / ``ST_AsMVTGeom`` (:meth:`gridgis.store.postgis.PostGISStore.tile`); the
embedded store with :func:`encode_tile` (the ``mapbox-vector-tile`` package): both simplify by a quarter pixel
(:data:`SIMPLIFY`), clip to the tile with the same buffer and snap to the same 4096 grid, so a tile decodes to
the same features on both, their outlines within twice the simplification (a unit where nothing was
simplified).
"""

from __future__ import annotations

import json
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

import mapbox_vector_tile
import numpy as np
import shapely

from gridgis.errors import InputError, NotFoundError

#: the media type of a Mapbox Vector Tile
MVT = "application/vnd.mapbox-vector-tile"
TMS_ID = "WebMercatorQuad"
TMS_URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
CRS_3857 = "http://www.opengis.net/def/crs/EPSG/0/3857"
#: half the side of the square world in EPSG:3857 metres (pi * 6378137)
ORIGIN = 20037508.3427892
#: WGS84 semi-major axis in metres, the sphere radius of EPSG:3857
RADIUS = 6378137.0
#: the deepest tile matrix of WebMercatorQuad (OGC 17-083r4 defines 0-24)
MAX_ZOOM = 24
#: MVT grid units per tile side, and the buffer around the tile kept by clipping (the ST_AsMVTGeom defaults)
EXTENT, BUFFER = 4096, 256
#: simplification tolerance in grid units before clipping (GEOS's topology-preserving simplifier, after a grid
#: unit's Douglas-Peucker, on both stores): a quarter pixel of a 256-pixel tile. A grid following streets has
#: hundreds of vertices a pixel apart at zoom 8; without it a prefecture's overview tile is megabytes and seconds
#: to encode. The two stores' GEOS versions may treat a tiny ring differently (a 4 x 8 unit box kept, or cut to
#: a triangle): outlines agree to twice this tolerance, and to a unit where nothing was simplified
SIMPLIFY = EXTENT / 256 / 4
#: the shallowest zoom at which each plan layer is served: below it a tile would hold too many features to
#: be useful (half a million buildings of a prefecture in one tile); they are the tileMatrixSetLimits
MIN_ZOOMS = {"towns": 0, "communities": 6, "grids": 6, "buildings": 13}
#: the deepest zoom served; clients over-zoom past it (a 4096 grid at z18 is 1 cm)
SERVED_MAX_ZOOM = 18


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(minx, miny, maxx, maxy) of tile z/x/y (column x, row y from the top) in EPSG:3857 metres.

    >>> tile_bounds(0, 0, 0) == (-ORIGIN, -ORIGIN, ORIGIN, ORIGIN)
    True
    """
    size = 2 * ORIGIN / (1 << z)
    return (-ORIGIN + x * size, ORIGIN - (y + 1) * size, -ORIGIN + (x + 1) * size, ORIGIN - y * size)


def to_lonlat(x: float, y: float) -> tuple[float, float]:
    """EPSG:3857 metres to WGS84 degrees (spherical Mercator, OGC 17-083r4 D.1)."""
    return math.degrees(x / RADIUS), math.degrees(2 * math.atan(math.exp(y / RADIUS)) - math.pi / 2)


def lonlat_bounds(z: int, x: int, y: int, buffer: float = 0.0) -> tuple[float, float, float, float]:
    """The WGS84 box of tile z/x/y grown by ``buffer`` tile units (of :data:`EXTENT`) on each side.

    A Mercator rectangle is a longitude/latitude rectangle, so the box is exact.
    """
    minx, miny, maxx, maxy = tile_bounds(z, x, y)
    pad = (maxx - minx) * buffer / EXTENT
    west, south = to_lonlat(minx - pad, max(miny - pad, -ORIGIN))
    east, north = to_lonlat(maxx + pad, min(maxy + pad, ORIGIN))
    return west, south, east, north


def _mercator(xy: np.ndarray) -> np.ndarray:
    lon, lat = xy[:, 0], np.clip(xy[:, 1], -85.05112878, 85.05112878)
    return np.column_stack((np.radians(lon) * RADIUS, np.log(np.tan(np.pi / 4 + np.radians(lat) / 2)) * RADIUS))


def tile_index(lon: float, lat: float, z: int) -> tuple[int, int]:
    """(column, row) of the tile of zoom ``z`` holding the WGS84 point."""
    x, y = _mercator(np.array([[lon, lat]], dtype=float))[0]
    n = 1 << z
    size = 2 * ORIGIN / n
    return min(n - 1, max(0, int((x + ORIGIN) // size))), min(n - 1, max(0, int((ORIGIN - y) // size)))


def check_tms(tms: str) -> None:
    """Raise :class:`NotFoundError` unless ``tms`` is WebMercatorQuad, the one tile matrix set served."""
    if tms != TMS_ID:
        raise NotFoundError(
            f"No tile matrix set {tms[:40]!r}.",
            fix=f"use {TMS_ID} (GET /ogc/tileMatrixSets).",
            details={"allowed": [TMS_ID]},
        )


def check_tile(tms: str, z: str, y: str, x: str) -> tuple[int, int, int]:
    """(z, y, x) as integers inside WebMercatorQuad.

    Raises
    ------
    NotFoundError
        ``tms`` is not WebMercatorQuad (the one tile matrix set served).
    InputError
        z, y or x is not an integer, or lies outside the tile matrix set (z 0-24, row and column 0 to 2^z - 1).
    """
    check_tms(tms)
    out = []
    for name, value, top in (("tileMatrix", z, MAX_ZOOM), ("tileRow", y, None), ("tileCol", x, None)):
        if not (value.isascii() and value.isdigit()) or len(value) > 9:
            raise InputError(
                f"{name} {value[:20]!r} is not a whole number.", fix="ask for /tiles/WebMercatorQuad/{z}/{y}/{x}."
            )
        number = int(value)
        limit = top if top is not None else (1 << out[0]) - 1
        if number > limit:
            raise InputError(
                f"{name} {number} is outside WebMercatorQuad (0 to {limit}"
                + (f" at zoom {out[0]})." if top is None else ")."),
                fix=f"use a {name} from 0 to {limit}.",
                details={"tileMatrix": out[0] if out else number, name: number, "max": limit},
            )
        out.append(number)
    return out[0], out[1], out[2]


def limits(bbox: Sequence[float] | None, min_zoom: int, max_zoom: int = SERVED_MAX_ZOOM) -> list[dict[str, Any]]:
    """OGC tileMatrixSetLimits of a WGS84 extent: per zoom from ``min_zoom`` to ``max_zoom``, the rows and columns
    whose tiles meet it (OGC 17-083r4, 7.4)."""
    out = []
    if bbox is None:
        return out
    west, south, east, north = bbox
    for z in range(min_zoom, max_zoom + 1):
        x0, y0 = tile_index(west, north, z)
        x1, y1 = tile_index(east, south, z)
        out.append({"tileMatrix": str(z), "minTileRow": y0, "maxTileRow": y1, "minTileCol": x0, "maxTileCol": x1})
    return out


def cover(bbox: Sequence[float], z: int) -> list[tuple[int, int, int]]:
    """The tiles (z, x, y) of zoom ``z`` meeting the WGS84 ``bbox``, from its centre outwards."""
    x0, y0 = tile_index(bbox[0], bbox[3], z)
    x1, y1 = tile_index(bbox[2], bbox[1], z)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    tiles = [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
    return sorted(tiles, key=lambda t: (t[1] - cx) ** 2 + (t[2] - cy) ** 2)


def within_limits(bbox: Sequence[float] | None, min_zoom: int, z: int, y: int, x: int) -> bool:
    """Whether tile z/y/x lies inside the :func:`limits` of the extent."""
    if bbox is None or z < min_zoom or z > SERVED_MAX_ZOOM:
        return False
    x0, y0 = tile_index(bbox[0], bbox[3], z)
    x1, y1 = tile_index(bbox[2], bbox[1], z)
    return x0 <= x <= x1 and y0 <= y <= y1


def first_view(bbox: Sequence[float], width: int = 1280, height: int = 800) -> tuple[int, list[tuple[int, int, int]]]:
    """The deepest zoom whose tiles over the WGS84 ``bbox`` fit a ``width`` x ``height`` map (give or take a
    tile: what Leaflet's fitBounds shows), and those tiles as (z, x, y).

    >>> first_view((112.48, 22.47, 113.05, 22.86))[0]  # Heshan on a laptop screen
    11
    """
    west, south, east, north = bbox
    for z in range(SERVED_MAX_ZOOM, -1, -1):
        x0, y0 = tile_index(west, north, z)
        x1, y1 = tile_index(east, south, z)
        if (x1 - x0) * 256 <= width and (y1 - y0) * 256 <= height:
            return z, [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
    return 0, [(0, 0, 0)]


def tile_matrix_set() -> dict[str, Any]:
    """The WebMercatorQuad definition in the JSON encoding of OGC 17-083r4 (Annex D.1)."""
    matrices = []
    for z in range(MAX_ZOOM + 1):
        matrices.append(
            {
                "id": str(z),
                "scaleDenominator": 559082264.028717 / (1 << z),
                "cellSize": 156543.033928041 / (1 << z),
                "cornerOfOrigin": "topLeft",
                "pointOfOrigin": [-ORIGIN, ORIGIN],
                "tileWidth": 256,
                "tileHeight": 256,
                "matrixWidth": 1 << z,
                "matrixHeight": 1 << z,
            }
        )
    return {
        "id": TMS_ID,
        "title": "Google Maps Compatible for the World",
        "uri": TMS_URI,
        "crs": CRS_3857,
        "orderedAxes": ["X", "Y"],
        "wellKnownScaleSet": "http://www.opengis.net/def/wkss/OGC/1.0/GoogleMapsCompatible",
        "tileMatrices": matrices,
    }


def mvt_properties(props: dict[str, Any]) -> dict[str, Any]:
    """Feature properties as MVT values: strings, numbers and booleans as they are, lists and objects as their
    JSON text, nulls left out (MVT has no null), as PostGIS's ``ST_AsMVT`` writes a JSONB column."""
    out = {}
    for key, value in props.items():
        if value is None:
            continue
        out[key] = value if isinstance(value, str | bool | int | float) else json.dumps(value, ensure_ascii=False)
    return out


def encode_tile(
    layer: str, properties: Sequence[dict[str, Any]], geometries: np.ndarray, z: int, x: int, y: int
) -> bytes:
    """One MVT tile (one layer named ``layer``) of WGS84 features, clipped to the tile and its buffer.

    Parameters
    ----------
    layer
        The MVT layer name (the collection id).
    properties, geometries
        The features: property dicts (see :func:`mvt_properties`) and shapely geometries in EPSG:4326.
    z, x, y
        The tile (zoom, column, row from the top).

    Returns
    -------
    bytes
        The encoded tile; ``b""`` when no feature meets it (an empty tile is a valid MVT).
    """
    if not len(geometries):
        return b""
    minx, miny, maxx, maxy = tile_bounds(z, x, y)
    scale = EXTENT / (maxx - minx)

    def to_grid(xy: np.ndarray) -> np.ndarray:  # WGS84 -> tile units, y up (the encoder turns y down)
        merc = _mercator(xy)
        return np.column_stack(((merc[:, 0] - minx) * scale, (merc[:, 1] - miny) * scale))

    grid = shapely.transform(np.asarray(geometries, dtype=object), to_grid)
    # a grid unit's Douglas-Peucker first: it drops most vertices of a street-following outline at a tenth of the
    # topology-preserving simplifier's cost, which then runs on what is left
    grid = shapely.simplify(shapely.simplify(grid, 1.0, preserve_topology=False), SIMPLIFY, preserve_topology=True)
    clipped = shapely.clip_by_rect(grid, -BUFFER, -BUFFER, EXTENT + BUFFER, EXTENT + BUFFER)
    # snapped to the integer grid, as ST_AsMVTGeom does: repeated vertices merge, slivers collapse and go
    snapped = shapely.set_precision(clipped, 1.0)
    features = [
        {"geometry": geom, "properties": mvt_properties(props)}
        for geom, props in zip(snapped, properties, strict=True)
        if geom is not None and not geom.is_empty
    ]
    if not features:
        return b""
    return mapbox_vector_tile.encode(
        [{"name": layer, "features": features}],
        default_options={
            "extents": EXTENT,
            "on_invalid_geometry": mapbox_vector_tile.encoder.on_invalid_geometry_make_valid,
        },
    )


class TileCache:
    """Encoded tiles in memory, at most ``max_bytes`` and ``max_tiles`` of them (empty tiles weigh nothing but
    still hold a key), least recently used dropped first.

    Keys carry the store's revision (:meth:`gridgis.store.base.Store.revision`, bumped by every publish): the
    first lookup under a newer revision drops every tile of the old ones, so a publish invalidates the cache; a
    lookup under an older one (a warm-up started before the publish) misses without touching it.
    """

    def __init__(self, max_bytes: int = 64 * 1024 * 1024, max_tiles: int = 100_000):
        self.max_bytes, self.max_tiles = max_bytes, max_tiles
        self._tiles: OrderedDict[tuple, bytes] = OrderedDict()
        self._size = 0
        self._revision: int | None = None
        self._rendering: dict[tuple, Future] = {}
        self._lock = threading.Lock()

    def get(self, revision: int, key: tuple) -> bytes | None:
        """The tile cached under ``key`` at ``revision``, else None (a new revision empties the cache)."""
        with self._lock:
            if self._revision is None or revision > self._revision:
                self._tiles.clear()
                self._size, self._revision = 0, revision
            tile = self._tiles.get(key) if revision == self._revision else None
            if tile is not None:
                self._tiles.move_to_end(key)
            return tile

    def get_or_render(self, revision: int, key: tuple, render: Callable[[], bytes]) -> bytes:
        """The tile cached under ``key``, else ``render()``'s, kept; a tile being rendered by another thread (a
        browser's parallel requests, the warm-up) is waited for, not rendered twice."""
        tile = self.get(revision, key)
        if tile is not None:
            return tile
        with self._lock:
            job = self._rendering.get(key)
            mine = job is None
            if mine:
                job = self._rendering[key] = Future()
        if not mine:
            return job.result()
        try:
            tile = render()
        except BaseException as exc:
            job.set_exception(exc)
            raise
        finally:
            with self._lock:
                self._rendering.pop(key, None)
        job.set_result(tile)
        self.put(revision, key, tile)
        return tile

    def put(self, revision: int, key: tuple, tile: bytes) -> None:
        """Keep ``tile`` (unless the revision moved on meanwhile, or the tile alone is over the budget)."""
        with self._lock:
            if revision != self._revision or len(tile) > self.max_bytes or key in self._tiles:
                return
            self._tiles[key] = tile
            self._size += len(tile)
            while self._size > self.max_bytes or len(self._tiles) > self.max_tiles:
                _, old = self._tiles.popitem(last=False)
                self._size -= len(old)

    def __len__(self) -> int:
        return len(self._tiles)
