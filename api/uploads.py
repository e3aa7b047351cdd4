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


def with_upload(file: UploadFile, default_name: str, use: Callable[[Path], T], *, cli: str) -> T:
    """Save ``file`` under its own name in a temporary folder, call ``use(path)``, delete the folder.

    Errors quote the uploaded name, not the temporary path. A fix naming a reading option the upload
    route does not take (``--crs``, ``--encoding``...) gets a pointer to ``cli``, the command that takes it.
    """
    name = Path(file.filename or default_name).name
    if name in ("", ".", "..") or len(name.encode()) > 200:  # not a file name this machine can hold
        name = default_name
    with tempfile.TemporaryDirectory(prefix="gridgis-upload-") as tmp:
        path = Path(tmp) / name
        with path.open("wb") as out:
            shutil.copyfileobj(file.file, out)
        try:
            return use(path)
        except GridgisError as exc:
            exc.message = exc.message.replace(str(path), f"uploaded file {name!r}")
            if exc.fix and " --" in f" {exc.fix}":
                exc.fix += (
                    f" (An upload is read as it is: fix the file, or import it with `{cli}`, which takes that option.)"
                )
            raise
