"""The offline geocoder: address layers (door plates 门牌, POIs) imported into the store place address-only reports.

``gridgis layer import doorplates.gpkg --name doorplates --address-field address`` keeps each point's address
text in the ``geocode`` component's table ``geocode_addresses`` (the case and layer tables are untouched).
:meth:`Geocoder.place` then matches an address in three steps, best first, and says how it matched:

1. ``exact``: the text as stored;
2. ``normalized``: after :func:`normalize` (NFKC full-width to half-width, Chinese numerals to digits, no
   spaces or punctuation), equal, or one a suffix of the other (a report often omits the province/city/
   district prefix, or a layer stores only street + number): ``广东省鹤山市沙坪街道中山路12号`` finds
   ``中山路12号``;
3. ``fuzzy``: rapidfuzz's ``fuzz.ratio`` (normalized Indel similarity, 0-100) of the normalized texts, at
   least :data:`FUZZY_MIN`, and only between addresses with the same house numbers (so 中山路12号 never
   becomes 中山路13号).

An address that matches nothing raises :class:`NotPlaced`; the Open311 intake then keeps the report in the
dispatcher queue ``geocode_queue`` (:meth:`Geocoder.enqueue`) to be placed by hand.
"""

from __future__ import annotations

import json
import re
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process

from gridgis.errors import ConflictError, InputError, NotFoundError
from gridgis.store import Store
from gridgis.store.base import check_name
from gridgis.times import utc_now

COMPONENT = "geocode"
#: the lowest fuzz.ratio (0-100) accepted as a fuzzy match
FUZZY_MIN = 85.0
MAX_ADDRESS = 200

MIGRATIONS = [
    """
    CREATE TABLE geocode_addresses (layer TEXT NOT NULL, seq INTEGER NOT NULL, address TEXT NOT NULL,
        normalized TEXT NOT NULL, lon {real} NOT NULL, lat {real} NOT NULL,
        PRIMARY KEY (layer, seq));
    CREATE INDEX geocode_addresses_normalized ON geocode_addresses (normalized);
    CREATE TABLE geocode_queue (id {serial} PRIMARY KEY, token TEXT NOT NULL UNIQUE, address TEXT NOT NULL,
        report TEXT NOT NULL, received_at TEXT NOT NULL, case_id BIGINT, placed_by TEXT, placed_at TEXT);
    CREATE TABLE geocode_cases (case_id BIGINT PRIMARY KEY, address TEXT NOT NULL, placement TEXT)
    """
]

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_NUMERAL = re.compile(r"[零〇一二两三四五六七八九十百千]+")
_DROP = re.compile(r"[\s\-_,.;:、，。；：（）()\[\]【】\"'“”‘’#＃]+")
_NUMBERS = re.compile(r"\d+")


def _numeral(text: str) -> str:
    """A Chinese numeral (十二, 一百零五, 三〇五) as digits."""
    if all(c in _DIGITS for c in text):  # digit by digit: 三〇五 -> 305
        return "".join(str(_DIGITS[c]) for c in text)
    total, current = 0, 0
    for c in text:
        if c in _DIGITS:
            current = _DIGITS[c]
        else:
            unit = {"十": 10, "百": 100, "千": 1000}[c]
            total += (current or 1) * unit
            current = 0
    return str(total + current)


def normalize(address: str) -> str:
    """The comparable form of an address: NFKC, Chinese numerals as digits, no spaces or punctuation.

    >>> normalize("沙坪街道 中山路十二号（农商行）")
    '沙坪街道中山路12号农商行'
    >>> normalize("ＸＸ路１０５號")
    'xx路105号'
    """
    text = unicodedata.normalize("NFKC", address).lower().replace("號", "号")
    text = _NUMERAL.sub(lambda m: _numeral(m.group()), text)
    return _DROP.sub("", text)


@dataclass(frozen=True)
class Placement:
    """Where an address was placed: WGS84 lon/lat, how (exact, normalized, fuzzy), the score, what it matched."""

    lon: float
    lat: float
    method: str
    score: float
    matched: str
    layer: str

    def quality(self) -> dict[str, Any]:
        """The match quality as recorded with the case."""
        return {"method": self.method, "score": round(self.score, 1), "matched": self.matched, "layer": self.layer}


class NotPlaced(NotFoundError):
    """No address of any address layer matches."""

    code = "address_not_placed"


class Geocoder:
    """The address layers of a :class:`gridgis.store.Store` and the dispatcher queue of unplaced reports."""

    def __init__(self, store: Store):
        self.store = store
        store.migrate_component(COMPONENT, [store.dialect.schema(step) for step in MIGRATIONS])
        self._lock = threading.Lock()
        self._index: tuple[int, list[tuple[str, str, str, float, float]]] | None = None

    # --- address layers ----------------------------------------------------------------------
    def import_frame(self, name: str, frame, address_field: str, *, replace: bool = False) -> int:
        """Keep the points of ``frame`` (a GeoDataFrame in EPSG:4326) with their ``address_field`` text as
        address layer ``name``; the number kept. :class:`InputError` naming the rows for non-points or empty
        addresses; :class:`ConflictError` when it would replace a layer with fewer addresses and not ``replace``."""
        check_name(name, "layer")
        before = self.layers().get(name, 0)
        if before > len(frame) and not replace:
            raise ConflictError(
                f"Address layer {name!r} holds {before:,} addresses; the file has {len(frame):,}. Nothing changed.",
                fix="pass --replace to replace it with fewer addresses.",
            )
        if address_field not in frame.columns:
            raise InputError(
                f"Address layer {name!r} has no column {address_field!r}.",
                fix=f"name the address column with --address-field: one of "
                f"{[c for c in frame.columns if c != frame.geometry.name]}.",
            )
        points = frame.geometry.geom_type == "Point"
        if not points.all():
            rows = list(frame.index[~points.to_numpy()][:10])
            raise InputError(
                f"Address layer {name!r} has non-point geometries at row(s) {rows}.",
                fix="import door plates or POIs as points (centroids of buildings work too).",
            )
        texts = frame[address_field].astype("string").str.strip().str.slice(0, MAX_ADDRESS)
        empty = texts.isna() | (texts == "")
        if empty.any():
            rows = list(frame.index[empty.to_numpy()][:10])
            raise InputError(
                f"Address layer {name!r} has empty addresses at row(s) {rows}.", fix="fill them or drop those rows."
            )
        rows = [
            (name, i, text, normalize(text), float(geom.x), float(geom.y))
            for i, (text, geom) in enumerate(zip(texts.tolist(), frame.geometry, strict=True))
        ]

        def work(cur):
            cur.execute(self.store.dialect.q("DELETE FROM geocode_addresses WHERE layer = ?"), (name,))
            cur.executemany(
                self.store.dialect.q(
                    "INSERT INTO geocode_addresses (layer, seq, address, normalized, lon, lat) "
                    "VALUES (?, ?, ?, ?, ?, ?)"
                ),
                rows,
            )

        self.store.write(work)
        with self._lock:
            self._index = None
        return len(rows)

    def import_file(
        self,
        path: str | Path,
        name: str,
        address_field: str,
        *,
        layer: str | None = None,
        replace: bool = False,
        **read_options,
    ) -> int:
        """:meth:`import_frame` of a file gridgis.io reads (reprojected to WGS84 as every import is;
        ``read_options`` ``crs``, ``encoding``, ``lon``, ``lat`` go to :func:`gridgis.io.read_layer`)."""
        from gridgis.io import read_layer

        frame = read_layer(path, layer, validate=False, **read_options)
        return self.import_frame(name, frame, address_field, replace=replace)

    def layers(self) -> dict[str, int]:
        """address layer -> number of addresses."""
        with self.store.cursor(readonly=True) as cur:
            cur.execute("SELECT layer, COUNT(*) FROM geocode_addresses GROUP BY layer ORDER BY layer")
            return {layer: int(n) for layer, n in cur.fetchall()}

    def points(self, layer: str) -> list[tuple[str, str, float, float]]:
        """(id, address, lon, lat) of each point of address layer ``layer``, ids 1, 2, ... in file order."""
        rows = [r for r in self._addresses() if r[0] == layer]
        return [(str(i), r[1], r[3], r[4]) for i, r in enumerate(rows, start=1)]

    def _addresses(self) -> list[tuple[str, str, str, float, float]]:
        with self.store.cursor(readonly=True) as cur:
            cur.execute("SELECT COUNT(*) FROM geocode_addresses")
            count = int(cur.fetchone()[0])
            with self._lock:
                if self._index is not None and self._index[0] == count:
                    return self._index[1]
            cur.execute("SELECT layer, address, normalized, lon, lat FROM geocode_addresses ORDER BY layer, seq")
            rows = [(r[0], r[1], r[2], float(r[3]), float(r[4])) for r in cur.fetchall()]
        with self._lock:
            self._index = (count, rows)
        return rows

    # --- placing ----------------------------------------------------------------------------
    def place(self, address: str) -> Placement:
        """Place ``address`` (see the module docstring); :class:`NotPlaced` when nothing matches."""
        if not address or not address.strip():
            raise InputError("The address is empty.", fix="send the address text, or lon and lat.")
        if len(address) > MAX_ADDRESS:
            raise InputError(f"The address is longer than {MAX_ADDRESS} characters.", fix="shorten it.")
        rows = self._addresses()
        text = address.strip()
        for layer, stored, _, lon, lat in rows:
            if stored == text:
                return Placement(lon, lat, "exact", 100.0, stored, layer)
        key = normalize(text)
        if not key:
            raise NotPlaced(f"Address {text[:60]!r} has nothing to match.", fix="place it by hand.")
        suffixes = [r for r in rows if r[2] == key or key.endswith(r[2]) or r[2].endswith(key)]
        if suffixes:
            layer, stored, norm, lon, lat = max(suffixes, key=lambda r: (r[2] == key, len(r[2])))
            score = 100.0 * min(len(norm), len(key)) / max(len(norm), len(key))
            return Placement(lon, lat, "normalized", score, stored, layer)
        numbers = _NUMBERS.findall(key)
        same = [r for r in rows if _NUMBERS.findall(r[2]) == numbers]
        best = process.extractOne(key, [r[2] for r in same], scorer=fuzz.ratio, score_cutoff=FUZZY_MIN)
        if best is not None:
            _, score, i = best
            layer, stored, _, lon, lat = same[i]
            return Placement(lon, lat, "fuzzy", float(score), stored, layer)
        raise NotPlaced(
            f"Address {text[:60]!r} matches no address of the address layers {sorted({r[0] for r in rows})}.",
            fix="it waits in the dispatcher queue to be placed by hand; or send lon and lat.",
        )

    # --- the dispatcher queue ---------------------------------------------------------------------
    def enqueue(self, token: str, address: str, report: dict[str, Any]) -> None:
        """Keep an unplaced report (its fields as received) under ``token`` until a dispatcher places it."""
        sql = self.store.dialect.q(
            "INSERT INTO geocode_queue (token, address, report, received_at) VALUES (?, ?, ?, ?)"
        )
        self.store.write(
            lambda cur: cur.execute(
                sql, (token, address, json.dumps(report, ensure_ascii=False), utc_now().isoformat())
            )
        )

    def queued(self, *, waiting_only: bool = True) -> list[dict[str, Any]]:
        """The queued reports, oldest first (``waiting_only``: those not placed yet)."""
        where = " WHERE case_id IS NULL" if waiting_only else ""
        with self.store.cursor(readonly=True) as cur:
            cur.execute(
                "SELECT token, address, report, received_at, case_id, placed_by, placed_at FROM geocode_queue"
                + where
                + " ORDER BY id"
            )
            return [
                {
                    "token": r[0],
                    "address": r[1],
                    "report": json.loads(r[2]),
                    "received_at": r[3],
                    "case_id": r[4],
                    "placed_by": r[5],
                    "placed_at": r[6],
                }
                for r in cur.fetchall()
            ]

    def ticket(self, token: str) -> dict[str, Any]:
        """One queued report; :class:`NotFoundError` for an unknown token."""
        for item in self.queued(waiting_only=False):
            if item["token"] == token:
                return item
        raise NotFoundError(f"No queued request {token[:40]!r}.", fix="tokens come from POST requests.")

    def address_writer(self, address: str, placement: dict[str, Any] | None) -> Callable[[Any, dict[str, Any]], None]:
        """The write keeping the address a new case was reported with (``POST /v1/cases``) and how it was placed,
        as ``write(cursor, case)``: pass it as ``also`` to :func:`gridgis.cases.submit` (one transaction)."""
        sql = self.store.dialect.q(
            "INSERT INTO geocode_cases (case_id, address, placement) VALUES (?, ?, ?) ON CONFLICT (case_id) DO NOTHING"
        )
        text = json.dumps(placement, ensure_ascii=False) if placement else None
        return lambda cur, case: cur.execute(sql, (case["id"], address, text))

    def address_of(self, case_id: int) -> dict[str, Any] | None:
        """{address, placement} kept for ``case_id``, or None."""
        with self.store.cursor(readonly=True) as cur:
            cur.execute(
                self.store.dialect.q("SELECT address, placement FROM geocode_cases WHERE case_id = ?"), (case_id,)
            )
            row = cur.fetchone()
        return {"address": row[0], "placement": json.loads(row[1]) if row[1] else None} if row else None

    def placed_writer(self, token: str, actor: str) -> Callable[[Any, dict[str, Any]], None]:
        """The write recording that the queued report ``token`` became a new case, placed by ``actor``, as
        ``write(cursor, case)`` for ``also`` of :func:`gridgis.cases.submit` (one transaction). A report another
        dispatcher placed meanwhile raises :class:`ConflictError`, and the new case is not kept."""
        sql = self.store.dialect.q(
            "UPDATE geocode_queue SET case_id = ?, placed_by = ?, placed_at = ? WHERE token = ? AND case_id IS NULL"
        )

        def write(cur, case: dict[str, Any]) -> None:
            cur.execute(sql, (case["id"], actor, utc_now().isoformat(), token))
            if cur.rowcount != 1:
                raise ConflictError(f"Request {token} was placed meanwhile.", fix="nothing to do.")

        return write
