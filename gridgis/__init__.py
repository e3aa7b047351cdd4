"""gridgis: grid partitioning, point-in-grid assignment and a grid service."""

__version__ = "0.1.0"
