"""The typed errors and warnings gridgis raises.

Every error carries a message that names what is wrong (file, layer, row,
field, value) and, where there is one, the fix. The CLI prints them without a
traceback; the API maps them to HTTP statuses in one handler.
"""

from __future__ import annotations

from typing import Any


class GridgisError(Exception):
    """Base class of every error gridgis raises on purpose.

    Parameters
    ----------
    message
        What is wrong, quoting the bad value.
    fix
        What the user can do about it.
    details
        Machine-readable details (rows, allowed values...), passed on by the API.
    """

    code = "error"

    def __init__(self, message: str, *, fix: str | None = None, details: dict[str, Any] | None = None):
        self.message = message
        self.fix = fix
        self.details = details or {}
        super().__init__(self.__str__())

    def __str__(self) -> str:
        return f"{self.message} Fix: {self.fix}" if self.fix else self.message


class InputError(GridgisError, ValueError):
    """Input data or arguments that cannot be used as they are."""

    code = "invalid_input"


class FileFormatError(InputError):
    """A file that cannot be read: missing, empty, truncated, unknown format."""

    code = "bad_file"


class SchemaError(InputError):
    """A layer whose columns, ids or geometry types break the data model."""

    code = "bad_schema"


class CRSError(InputError):
    """A missing, wrong or unsupported coordinate reference system."""

    code = "bad_crs"


class GeometryError(InputError):
    """Geometries that are empty, null, or cannot be repaired."""

    code = "bad_geometry"


class PartitionError(GridgisError, ValueError):
    """A partition request that cannot be met (too many grids, too few...)."""

    code = "infeasible"


class NotFoundError(GridgisError, LookupError):
    """A plan, grid, layer, case or point that is not there."""

    code = "not_found"


class ConflictError(GridgisError):
    """A state change that is not allowed now (e.g. an illegal case transition)."""

    code = "conflict"


class EditRefused(ConflictError):
    """A plan edit that would break a hard grid rule (a grid in two pieces, across a community boundary,
    a moved building not touching its new grid, a locked grid changed); nothing is written."""

    code = "edit_refused"


class StoreError(GridgisError):
    """The store (SQLite or PostGIS) failed or is not reachable."""

    code = "store_error"


class AccessError(GridgisError):
    """The caller may not do this (see :mod:`gridgis.access`)."""

    code = "forbidden"


class UnauthenticatedError(AccessError):
    """No API key was given (``key_required``), or an unknown or revoked one (``bad_key``)."""

    code = "key_required"

    def __init__(self, message: str, *, code: str = "key_required", fix: str | None = None, details=None):
        super().__init__(message, fix=fix, details=details)
        self.code = code


class ForbiddenError(AccessError):
    """The caller's key is known but its role or its grids do not allow this."""

    code = "forbidden"


class GridgisWarning(UserWarning):
    """Base class of gridgis warnings: a documented repair or reprojection."""


class RepairWarning(GridgisWarning):
    """Geometries were repaired (invalid polygons made valid)."""


class FileWarning(GridgisWarning):
    """A file was read or written with a documented change: a guessed encoding, shortened column names."""


class CRSWarning(GridgisWarning):
    """Data were reprojected or a CRS was taken as equal to another."""
