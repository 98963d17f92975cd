"""Fixtures shared by the visit tests: a settable clock (a module may pass its own) and the
customers and lead of tests.visits.test_visits.add_records."""
import pytest

from tests.visits.test_visits import Clock, add_records


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def records(demo_org):
    return add_records(demo_org)
