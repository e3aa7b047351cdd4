"""Synthetic demo data: a realistic Heshan (鹤山市) built inside its real outline.

See :func:`build_heshan`. The outline and the town names and codes are real;
the borders inside, the buildings, households, shops, roads and facilities are
synthetic, deterministic for a seed.
"""

from gridgis.demo.heshan import TOWNS, build_heshan

__all__ = ["TOWNS", "build_heshan"]
