"""Fixtures every test file shares."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import autograd


@pytest.fixture(autouse=True)
def own_ops() -> Iterator[None]:
    """Whatever op a test registers (``@autograd.primitive``) leaves autograd.OPS when it ends."""
    before = set(autograd.OPS)
    yield
    for name in set(autograd.OPS) - before:
        autograd.OPS.pop(name, None)
    assert set(autograd.OPS) == before
