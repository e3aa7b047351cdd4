"""Redraw communities into balanced, contiguous, compact grids along streets.

:func:`partition` is the entry point; :class:`Partitioner` wraps it
spopt-style; :class:`PartitionInput` is the documented structure it works on.
The steps live in small modules: :mod:`.inputs` (layers projected, buildings
grouped into sites), :mod:`.apportion` (grids per community), :mod:`.bisect`
(weighted recursive bisection), :mod:`.refine` (contiguity repair, load
balancing), :mod:`.keep` (re-dividing an old plan), :mod:`.tessellate`
(footprint cells and street blocks, dissolve), :mod:`.smooth`,
:mod:`.community` (one community, the unit of parallel work) and :mod:`.report`.
"""

from gridgis.partition.apportion import apportion
from gridgis.partition.core import LOAD_COLUMNS, Partitioner, PartitionResult, partition
from gridgis.partition.inputs import CommunitySites, DedicatedGrid, KeptPlan, PartitionInput

__all__ = [
    "LOAD_COLUMNS",
    "CommunitySites",
    "DedicatedGrid",
    "KeptPlan",
    "PartitionInput",
    "PartitionResult",
    "Partitioner",
    "apportion",
    "partition",
]
