"""Uploaded files: saved to a temporary folder for gridgis.io, errors quoting the uploaded name."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from fastapi import UploadFile

from gridgis.errors import GridgisError

T = TypeVar("T")


def with_upload(file: UploadFile, default_name: str, use: Callable[[Path], T]) -> T:
    """Save ``file`` under its own name in a temporary folder, call ``use(path)``, delete the folder."""
    name = Path(file.filename or default_name).name or default_name
    with tempfile.TemporaryDirectory(prefix="gridgis-upload-") as tmp:
        path = Path(tmp) / name
        with path.open("wb") as out:
            shutil.copyfileobj(file.file, out)
        try:
            return use(path)
        except GridgisError as exc:
            exc.message = exc.message.replace(str(path), f"uploaded file {name!r}")
            raise
