"""The shipped plugin works outside this repository: a third party proves its backend with it."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

TESTING_DOC = Path(__file__).resolve().parents[2] / "docs" / "testing.md"

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



USER_TESTS = '''
import pytest


@pytest.mark.asyncio
async def test_plugin_fixtures_serve_a_marked_test(nc, jetstream_store):
    assert nc.is_connected
    assert await jetstream_store.get_latest_version("a") == 0


async def test_unmarked_coroutine_of_the_user():
    pass  # strict mode leaves it alone: the plugin does not change how the user's tests run
'''

# A few tests of each suite the doc shows: plain, property (hypothesis), on the plugin's
# JetStream fixtures and on a user's own async fixture.
DOC_SUBSET = " or ".join([
    "gaps_are_allowed", "any_snapshot_is_refused", "publish_reaches_every_subscriber",
    "any_two_namespaces_stay_apart", "follow_catches_up", "paging_any_history",
    "send_returns_the_events", "saved_positions_read_back", "user", "marked_test",
])


def doc_snippets() -> list[str]:
    text = TESTING_DOC.read_text()
    return re.findall(r"^```python\n(.*?)^```", text, re.MULTILINE | re.DOTALL)


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_the_docs_suites_run_in_a_project_with_no_pytest_config(
    pytester: pytest.Pytester, mode: str
) -> None:
    """docs/testing.md's snippets, copied as they are into a fresh project: in strict mode
    (pytest-asyncio's default, no setting at all) and in auto mode, everything they inherit
    passes."""
    snippets = doc_snippets()
    assert len(snippets) >= 2, "docs/testing.md shows the suites in ```python blocks"
    for index, snippet in enumerate(snippets):
        pytester.makepyfile(**{f"test_doc_snippet_{index}": snippet})
    pytester.makepyfile(test_user=USER_TESTS)
    options = ["-v", "-p", "no:cacheprovider", "--rootdir", str(pytester.path), "-k", DOC_SUBSET]
    if mode == "strict":
        options += ["-c", os.devnull]  # no ini file at all
    else:
        options += ["-o", "asyncio_mode=auto", "-o", "asyncio_default_fixture_loop_scope=function"]
    result = pytester.runpytest_subprocess(*options)
    result.stdout.fnmatch_lines([f"asyncio: mode=*{mode.upper()}*"])
    for suite in ("TestMyStore", "TestMyBus", "TestMyFeed", "TestMySender", "TestMyCheckpoints"):
        result.stdout.fnmatch_lines([f"*::{suite}::* PASSED*"])
    result.stdout.fnmatch_lines(["*::test_plugin_fixtures_serve_a_marked_test PASSED*"])
    outcomes = result.parseoutcomes()
    assert "errors" not in outcomes, result.stdout.str()
    if mode == "strict":  # the user's unmarked coroutine fails, as strict mode has it
        assert outcomes.get("failed") == 1, result.stdout.str()
        result.stdout.fnmatch_lines(["*::test_unmarked_coroutine_of_the_user FAILED*"])
    else:
        assert "failed" not in outcomes, result.stdout.str()
