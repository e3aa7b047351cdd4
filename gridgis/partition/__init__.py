"""Redraw communities into balanced, contiguous, compact grids.

:func:`partition` is the entry point; :class:`Partitioner` wraps it
spopt-style. The steps live in small modules: :mod:`.apportion` (grids per
community), :mod:`.bisect` (weighted recursive bisection), :mod:`.refine`
(contiguity repair, load balancing), :mod:`.tessellate` (Voronoi regions of
buildings, dissolve), :mod:`.community` (one community, the unit of parallel
work) and :mod:`.report`.
"""

from gridgis.partition.apportion import apportion
from gridgis.partition.core import LOAD_COLUMNS, Partitioner, PartitionResult, partition

__all__ = ["LOAD_COLUMNS", "PartitionResult", "Partitioner", "apportion", "partition"]
