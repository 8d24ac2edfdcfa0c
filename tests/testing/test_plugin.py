"""The shipped plugin works outside this repository: a third party proves its backend with it."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

THIRD_PARTY_TESTS = '''
import pytest

from aether.store import InMemoryEventStore
from aether.testing.conformance import StoreConformance


class MyStore(InMemoryEventStore):
    pass


class TestMyStore(StoreConformance):
    @pytest.fixture
    def store(self):
        return MyStore()


async def test_plugin_fixtures_give_a_live_server(nc):
    assert nc.is_connected
'''

BROKEN_STORE_TESTS = '''
import pytest

from aether.store import InMemoryEventStore
from aether.testing.conformance import StoreConformance


class ForgetfulStore(InMemoryEventStore):
    async def get_latest_version(self, actor_id):
        return 0


class TestForgetfulStore(StoreConformance):
    @pytest.fixture
    def store(self):
        return ForgetfulStore()
'''


def test_a_third_party_backend_runs_the_shipped_suite(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_mode = auto\n"
                     "asyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_my_store=THIRD_PARTY_TESTS)
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    assert "failed" not in outcomes and "errors" not in outcomes, result.stdout.str()
    assert outcomes["passed"] >= 20  # the whole suite ran, plus the fixture test


def test_the_suite_catches_a_store_that_breaks_the_rules(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_mode = auto\n"
                     "asyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_forgetful=BROKEN_STORE_TESTS)
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) >= 1
    result.stdout.fnmatch_lines(["*test_gaps_are_allowed*"])

