"""Checking a submitted report: location (any supported lon/lat CRS), category, text, photos, contact.

One function, :func:`check_report`, used by ``POST /v1/cases``, Open311 and the
benchmarks, so every door gives the same answer to the same bad input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from gridgis.cases.categories import CHANNELS, get_category
from gridgis.errors import InputError

MAX_DESCRIPTION = 4000
MAX_PHOTOS = 10
MAX_URL = 2048
MAX_CONTACT = 200
CONTACT_FIELDS = ("name", "phone", "email")
_CRS_ALIASES = {"epsg:4326": "wgs84", "epsg:4490": "cgcs2000"}


@dataclass(frozen=True)
class Report:
    """A checked report, its location converted to WGS84 (EPSG:4326)."""

    category: str
    description: str
    lon: float
    lat: float
    channel: str = "app"
    source_crs: str = "wgs84"
    photo_urls: tuple[str, ...] = ()
    contact: dict[str, str] = field(default_factory=dict)


def check_report(
    *,
    category: Any,
    description: Any,
    lon: Any,
    lat: Any,
    crs: str | None = "wgs84",
    channel: str | None = "app",
    photo_urls: Any = (),
    contact: dict[str, Any] | None = None,
    categories: Any = None,
) -> Report:
    """Validate one report; raise :class:`~gridgis.errors.InputError` naming the field, the value and the fix.

    Parameters
    ----------
    category
        One of :data:`gridgis.cases.categories.CATEGORIES`.
    description
        1 to 4,000 characters.
    lon, lat
        Degrees in ``crs``; both required.
    crs
        ``wgs84`` (default), ``cgcs2000``, ``gcj02`` (Amap, Tencent, WeChat) or ``bd09`` (Baidu).
    channel
        ``app``, ``hotline``, ``patrol`` or ``wechat``.
    photo_urls
        Up to 10 absolute http(s) URLs.
    contact
        Optional ``name``, ``phone``, ``email`` of the reporter.
    categories
        The category table (:attr:`gridgis.cases.config.CaseConfig.categories`); default the built-in one.

    Examples
    --------
    >>> r = check_report(category="fire", description="blocked exit", lon=112.95, lat=22.71)
    >>> r.category, r.lon, r.lat
    ('fire', 112.95, 22.71)
    """
    get_category(category, categories)
    text = _check_description(description)
    lon84, lat84, crs_name = _check_location(lon, lat, crs)
    if channel is None:
        channel = "app"
    if channel not in CHANNELS:
        raise InputError(
            f"Unknown channel {channel!r}.",
            fix=f"use one of {list(CHANNELS)}.",
            details={"field": "channel", "allowed": list(CHANNELS)},
        )
    return Report(
        category=category,
        description=text,
        lon=lon84,
        lat=lat84,
        channel=channel,
        source_crs=crs_name,
        photo_urls=_check_photos(photo_urls),
        contact=_check_contact(contact or {}),
    )


def _check_description(description: Any) -> str:
    if not isinstance(description, str) or not description.strip():
        raise InputError(
            "A case needs a description (got none).",
            fix="describe what is wrong and where, in 1 to 4,000 characters.",
            details={"field": "description"},
        )
    if len(description) > MAX_DESCRIPTION:
        raise InputError(
            f"The description has {len(description):,} characters; at most {MAX_DESCRIPTION:,} are accepted.",
            fix="shorten it, or attach the rest as a photo or document URL.",
            details={"field": "description", "length": len(description), "max": MAX_DESCRIPTION},
        )
    return description.strip()


def _check_location(lon: Any, lat: Any, crs: str | None) -> tuple[float, float, str]:
    from gridgis.crs import LONLAT_CRS, point_to_wgs84

    if lon is None or lat is None or lon == "" or lat == "":
        raise InputError(
            f"A case needs a location: lon and lat (got lon={lon!r}, lat={lat!r}).",
            fix="send the point in degrees, e.g. lon=112.96&lat=22.76 (and crs=gcj02 or bd09 for map-app points).",
            details={"field": "location"},
        )
    try:
        x, y = float(lon), float(lat)
    except (TypeError, ValueError):
        raise InputError(
            f"The location must be numbers; got lon={lon!r}, lat={lat!r}.",
            fix="send decimal degrees, e.g. lon=112.96&lat=22.76.",
            details={"field": "location"},
        ) from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise InputError(f"The location is not finite: lon={lon!r}, lat={lat!r}.", fix="send decimal degrees.")
    name = (crs or "wgs84").strip().lower()
    name = _CRS_ALIASES.get(name, name)
    if name not in LONLAT_CRS:
        raise InputError(
            f"Unknown location CRS {crs!r}.",
            fix=f"use one of {list(LONLAT_CRS)} (or EPSG:4326 / EPSG:4490).",
            details={"field": "crs", "allowed": list(LONLAT_CRS)},
        )
    lon84, lat84 = point_to_wgs84(x, y, name, source=f"case location (lon={x}, lat={y})")
    return lon84, lat84, name


def _check_photos(photo_urls: Any) -> tuple[str, ...]:
    if photo_urls is None:
        return ()
    if isinstance(photo_urls, str):
        photo_urls = [photo_urls]
    urls = list(photo_urls)
    if len(urls) > MAX_PHOTOS:
        raise InputError(
            f"{len(urls)} photo URLs sent; at most {MAX_PHOTOS} are accepted.",
            fix="send the most telling ones.",
            details={"field": "photo_urls", "max": MAX_PHOTOS},
        )
    for url in urls:
        try:
            parts = urlsplit(url) if isinstance(url, str) else None
            host = parts and parts.hostname  # raises ValueError on a bad host such as "http://["
        except ValueError:
            parts = host = None
        if parts is None or not host or parts.scheme not in ("http", "https") or len(url) > MAX_URL:
            raise InputError(
                f"Bad photo URL {url!r}.",
                fix=f"send absolute http:// or https:// URLs of at most {MAX_URL} characters "
                "(upload the photo first, then send its address).",
                details={"field": "photo_urls", "value": str(url)[:200]},
            )
    return tuple(urls)


def _check_contact(contact: dict[str, Any]) -> dict[str, str]:
    unknown = sorted(set(contact) - set(CONTACT_FIELDS))
    if unknown:
        raise InputError(
            f"Unknown contact field(s) {unknown}.",
            fix=f"use {list(CONTACT_FIELDS)}.",
            details={"field": "contact", "allowed": list(CONTACT_FIELDS)},
        )
    out = {}
    for key, value in contact.items():
        if value is None or value == "":
            continue
        if not isinstance(value, str) or len(value) > MAX_CONTACT:
            raise InputError(
                f"Contact {key!r} must be text of at most {MAX_CONTACT} characters; got {str(value)[:40]!r}.",
                fix="shorten it.",
                details={"field": f"contact.{key}"},
            )
        out[key] = value
    return out


#: a photo reference the console gives after an upload: an id (letters, digits, ``_.:-``) or an http(s) URL
_PHOTO_ID = __import__("re").compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")


def check_photo_refs(refs: Any) -> tuple[str, ...]:
    """Photo references of a move or note: up to 10 http(s) URLs or upload ids; :class:`InputError` otherwise.

    >>> check_photo_refs(["upl_3f2a", "https://img.example.cn/b.jpg"])
    ('upl_3f2a', 'https://img.example.cn/b.jpg')
    """
    refs = list(refs or [])
    urls = [r for r in refs if not (isinstance(r, str) and _PHOTO_ID.match(r))]
    _check_photos(urls)
    if len(refs) > MAX_PHOTOS:
        raise InputError(
            f"{len(refs)} photos sent; at most {MAX_PHOTOS} are accepted.",
            fix="send fewer.",
            details={"field": "photos", "max": MAX_PHOTOS},
        )
    return tuple(refs)
