"""The Examples sections of the foundation modules run as written."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "gridgis.crs",
    "gridgis.listing",
    "gridgis.repair",
    "gridgis.io.describe",
    "gridgis.io.encoding",
    "gridgis.io.read",
    "gridgis.io.write",
    "gridgis.io.reproject",
    "gridgis.io.shapefile",
    "gridgis.io.stream",
]


@pytest.mark.parametrize("name", MODULES)
def test_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
