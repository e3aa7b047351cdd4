"""Fixtures of the partition tests."""

from __future__ import annotations

import pytest

from tests.partition.partition_cases import lattice


@pytest.fixture
def block4():
    """4 x 4 equal buildings (10 households each) in one square community."""
    return lattice(4)
