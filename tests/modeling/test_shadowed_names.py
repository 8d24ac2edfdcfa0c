"""A generated package may not take the name of a module that its code, its tests or the
tools run on them import (rule 1): pytest, its plugins, mypy, ruff, hypothesis and aether,
with everything their installed distributions require."""

from __future__ import annotations

import importlib
import importlib.metadata
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from modeling.name_checks import model_name_problems, package_name_problem, unshadowed
from modeling.names import _DEPENDENCIES, SNAKE, shadowing, tool_modules
from modeling.types import Model


def name_problems(name: str) -> list[str]:
    return [message for _, message, _ in model_name_problems(Model.model_validate(
        {"model": name}))]


@pytest.mark.parametrize(("name", "user"), [
    # The four a newcomer's generated tests could not run with.
    ("pytest_asyncio", "that pytest loads as a plugin"),
    ("sortedcontainers", "that hypothesis imports"),
    ("py", "of pytest"),
    ("pygments", "that pytest imports"),
    ("packaging", "that pytest imports"),
    ("pluggy", "that pytest imports"),
    ("json", "of Python's standard library"),
])
def test_a_module_the_tools_import_is_refused_saying_who_imports_it(name: str,
                                                                     user: str) -> None:
    (message,) = name_problems(name)
    assert message == (f"model name {name!r} would name a generated package that shadows the "
                       f"module {name!r} {user}; write '{name}_model' or another name")
    assert package_name_problem(name) == (f"package name {name!r} would shadow the module "
                                          f"{name!r} {user}")


def test_every_module_the_tools_import_is_refused_for_a_name_that_is_not() -> None:
    computed = set(tool_modules())
    # What the installed tools need beyond the floor: the closure is really read.
    assert {"pytest_asyncio", "sortedcontainers", "py", "pygments", "packaging"} <= computed
    for name in sorted(computed | _DEPENDENCIES | set(sys.stdlib_module_names)):
        assert package_name_problem(name) is not None, name
        if SNAKE.fullmatch(name) and len(name) < 48:
            (message,) = name_problems(name)
            assert f"shadows the module {name!r}" in message
            assert name_problems(unshadowed(name)) == [], name  # what it says to write works


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory of installed distributions on sys.path, read afresh by ``tool_modules``."""
    monkeypatch.syspath_prepend(str(tmp_path))
    tool_modules.cache_clear()
    yield tmp_path
    tool_modules.cache_clear()  # the next reader sees the real install again


def install(site: Path, name: str, *requires: str, modules: tuple[str, ...] = (),
            plugin: str | None = None, metadata: bool = True) -> None:
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    if metadata:
        (info / "METADATA").write_text("".join(
            f"{line}\n" for line in ("Metadata-Version: 2.1", f"Name: {name}", "Version: 1.0",
                                     *(f"Requires-Dist: {r}" for r in requires))))
    (info / "top_level.txt").write_text("".join(f"{module}\n" for module in modules))
    for module in modules:
        (site / f"{module}.py").write_text("")
    if plugin is not None:
        (info / "entry_points.txt").write_text(f"[pytest11]\n{name} = {plugin}\n")
    importlib.invalidate_caches()


def test_a_pytest_plugin_and_what_it_requires_are_refused_and_nothing_else(site: Path) -> None:
    install(site, "fake-plugin", "Fake_Dep>=1", "fake-docs; extra == 'docs'",
            "fake-asked[x] ; python_version >= '3'", "fake-not-installed>=2",
            modules=("fake_plugin_mod",), plugin="fake_plugin_mod.plugin")
    install(site, "fake-dep", modules=("fake_dep_mod",))
    install(site, "fake-docs", modules=("fake_docs_mod",))
    install(site, "fake-asked", "fake-x; extra == 'x'", "fake-y; extra == \"y\"",
            modules=("fake_asked_mod",))
    install(site, "fake-x", modules=("fake_x_mod",))
    install(site, "fake-y", modules=("fake_y_mod",))
    install(site, "fake-unrelated", "pytest", modules=("fake_unrelated_mod",))
    # The user's own generated package, `pip install -e`d: it requires aether, aether
    # does not require it.
    install(site, "fake-shop", "aether", modules=("fake_shop",))
    assert shadowing("fake_plugin_mod") == "that pytest loads as a plugin"
    assert shadowing("fake_dep_mod") == "that fake-plugin imports"
    assert shadowing("fake_asked_mod") == "that fake-plugin imports"
    assert shadowing("fake_x_mod") == "that fake-asked imports"  # the extra asked for
    for accepted in ("fake_docs_mod", "fake_y_mod", "fake_unrelated_mod", "fake_shop"):
        assert shadowing(accepted) is None, accepted
        assert name_problems(accepted) == []


def test_damaged_metadata_leaves_the_rest_refused(site: Path) -> None:
    install(site, "fake-nameless", modules=("fake_nameless_mod",), plugin="fake_nameless_mod",
            metadata=False)
    install(site, "fake-odd", "", "  ", "[x]", modules=("fake_odd_mod",), plugin=":?")
    assert shadowing("fake_odd_mod") == "that pytest loads as a plugin"
    assert shadowing("sortedcontainers") == "that hypothesis imports"
    assert shadowing("fake_nameless_mod") == "that pytest loads as a plugin"  # by its entry


def test_without_metadata_the_floor_still_applies(monkeypatch: pytest.MonkeyPatch) -> None:
    tool_modules.cache_clear()
    monkeypatch.setattr(importlib.metadata, "packages_distributions", broken)
    try:
        assert tool_modules() == {}
        assert shadowing("pluggy") == "that aether or the tools run on generated code import"
        assert shadowing("pygments") is None  # known only from the metadata
    finally:
        tool_modules.cache_clear()


def broken() -> dict[str, list[str]]:
    raise OSError("unreadable site-packages")
