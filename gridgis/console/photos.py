"""Photos of a case (处置照片), uploaded by staff: files in an upload directory, one row each in ``case_photos``.

A photo is checked before it is kept: at most :data:`MAX_PHOTO_BYTES`, and a JPEG, PNG or WebP by its
first bytes (the name and the browser's content type are not trusted). It is stored under a name
the service makes (``<case id>-<random>.<ext>``), never the uploaded one, so an uploaded name cannot
reach outside the directory; the uploaded name is kept only as text. The case refers to its photos
by their ids (``/console/photos/{id}``).

Component ``case_photos`` (its own table); the directory is ``GRIDGIS_UPLOAD_DIR``.

Examples
--------
>>> import tempfile
>>> from gridgis.store import open_store
>>> tmp = tempfile.mkdtemp()
>>> photos = PhotoStore(open_store(f"sqlite:///{tmp}/s.db"), f"{tmp}/uploads")
>>> png = bytes.fromhex("89504e470d0a1a0a") + bytes(64)
>>> photo = photos.add(7, png, "../../etc/passwd.png", actor="worker:ggk_w1")
>>> photo["media_type"], photo["name"], photos.path(photo).parent.name
('image/png', 'passwd.png', 'uploads')
>>> photos.add(7, b"GIF89a...", "x.gif", actor="w")
Traceback (most recent call last):
...
gridgis.errors.InputError: Photo 'x.gif' is not a JPEG, PNG or WebP image. ...
"""

from __future__ import annotations

import os
import secrets
from datetime import datetime
from pathlib import Path, PurePath
from typing import Any

from gridgis.errors import InputError, NotFoundError
from gridgis.store import Store
from gridgis.store.dialect import from_stored
from gridgis.times import utc_now

COMPONENT = "case_photos"
#: largest photo accepted, in bytes
MAX_PHOTO_BYTES = 8 * 1024 * 1024
#: most photos kept per case
MAX_PHOTOS_PER_CASE = 20

_SQL = """
    CREATE TABLE case_photos (id {serial} PRIMARY KEY, case_id BIGINT NOT NULL, file_name TEXT NOT NULL,
        name TEXT NOT NULL, media_type TEXT NOT NULL, size_bytes INTEGER NOT NULL, uploaded_by TEXT NOT NULL,
        created_at {ts} NOT NULL);
    CREATE INDEX case_photos_case ON case_photos (case_id, id)
"""
_COLUMNS = ("id", "case_id", "file_name", "name", "media_type", "size_bytes", "uploaded_by", "created_at")


def sniff(data: bytes) -> tuple[str, str] | None:
    """(media type, extension) of a JPEG, PNG or WebP by its first bytes, else None."""
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg", "jpg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png", "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", "webp"
    return None


class PhotoStore:
    """Case photos: rows in ``store``, files under ``directory`` (created when missing)."""

    def __init__(self, store: Store, directory: str | os.PathLike):
        self.store = store
        self.directory = Path(directory)
        self._q = store.dialect.q
        store.migrate_component(COMPONENT, [store.dialect.schema(_SQL)])

    def add(self, case_id: int, data: bytes, name: str, *, actor: str, now: datetime | None = None) -> dict[str, Any]:
        """Keep ``data`` as a photo of case ``case_id``; return its row (see :meth:`list`).

        Raises :class:`InputError` for an empty, too large or not-an-image file, or when the case has
        :data:`MAX_PHOTOS_PER_CASE` photos already. The file is written (and synced) before its row."""
        shown_name = PurePath(name.replace("\\", "/")).name[:200] or "photo"
        if not data:
            raise InputError(f"Photo {shown_name!r} is empty.", fix="choose the photo again.")
        if len(data) > MAX_PHOTO_BYTES:
            raise InputError(
                f"Photo {shown_name!r} has {len(data) / 1e6:.1f} MB; at most {MAX_PHOTO_BYTES / 1e6:.0f} MB.",
                fix="send a smaller photo (the phone's 'medium' size).",
                details={"field": "photo", "max_bytes": MAX_PHOTO_BYTES},
            )
        kind = sniff(data)
        if kind is None:
            raise InputError(
                f"Photo {shown_name!r} is not a JPEG, PNG or WebP image.",
                fix="send a .jpg, .png or .webp photo.",
                details={"field": "photo", "allowed": ["image/jpeg", "image/png", "image/webp"]},
            )
        media_type, ext = kind
        self.directory.mkdir(parents=True, exist_ok=True)
        file_name = f"{int(case_id)}-{secrets.token_hex(8)}.{ext}"
        path = self.directory / file_name
        with open(path, "xb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        now = now or utc_now()

        def work(cur):
            cur.execute(self._q("SELECT COUNT(*) FROM case_photos WHERE case_id = ?"), (case_id,))
            if int(cur.fetchone()[0]) >= MAX_PHOTOS_PER_CASE:
                raise InputError(
                    f"Case {case_id} has {MAX_PHOTOS_PER_CASE} photos already.",
                    fix="add a note instead, or ask a dispatcher.",
                )
            cur.execute(
                self._q(
                    "INSERT INTO case_photos (case_id, file_name, name, media_type, size_bytes, uploaded_by, "
                    f"created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING {', '.join(_COLUMNS)}"
                ),
                (case_id, file_name, shown_name, media_type, len(data), actor, self.store.dialect.ts(now)),
            )
            return self._row(cur.fetchone())

        try:
            return self.store.write(work)
        except BaseException:
            path.unlink(missing_ok=True)
            raise

    def list(self, case_id: int) -> list[dict[str, Any]]:
        """The photos of a case, oldest first: id, case_id, file_name, name, media_type, size_bytes,
        uploaded_by, created_at (aware UTC)."""
        with self.store.cursor(readonly=True) as cur:
            cur.execute(
                self._q(f"SELECT {', '.join(_COLUMNS)} FROM case_photos WHERE case_id = ? ORDER BY id"), (case_id,)
            )
            return [self._row(r) for r in cur.fetchall()]

    def get(self, photo_id: int) -> dict[str, Any]:
        """One photo's row; :class:`NotFoundError` when there is none."""
        with self.store.cursor(readonly=True) as cur:
            cur.execute(self._q(f"SELECT {', '.join(_COLUMNS)} FROM case_photos WHERE id = ?"), (photo_id,))
            row = cur.fetchone()
        if row is None:
            raise NotFoundError(f"No photo {photo_id}.", fix="open the case to see its photos.")
        return self._row(row)

    def path(self, photo: dict[str, Any]) -> Path:
        """Where the file of ``photo`` is."""
        return self.directory / photo["file_name"]

    @staticmethod
    def _row(row) -> dict[str, Any]:
        out = dict(zip(_COLUMNS, row, strict=True))
        out["id"], out["case_id"] = int(out["id"]), int(out["case_id"])
        out["created_at"] = from_stored(out["created_at"])
        return out
