"""load_model: a YAML file or a Python module -> a validated Model (or every error at once)."""

from __future__ import annotations

import contextlib
import importlib.util
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path as FilePath
from typing import Any

from modeling.builder import ModelBuilder
from modeling.names import printable, shown
from modeling.repair import repair
from modeling.source import Diagnostic, Location, ModelError, Path, SourceMap
from modeling.structure import build_model, describe
from modeling.types import Model
from modeling.validate import check_model
from modeling.values import MAX_DEPTH as MAX_VALUE_DEPTH
from modeling.yaml_source import MAX_DEPTH, MAX_VALUES, load_yaml

YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class LoadedModel:
    model: Model
    source: SourceMap
    warnings: list[Diagnostic]
    path: FilePath


def load_model(path: str | FilePath, strict: bool = False) -> LoadedModel:
    """Load and validate; raises ModelError carrying every error (and, with ``strict``,
    every warning too)."""
    file = FilePath(path)
    data, source, diagnostics = _read(file)
    if data is None:
        # Never an error without a message: the CLI would exit 1 saying nothing.
        raise ModelError(diagnostics or [Diagnostic(
            Location(str(file), 1, 1), "error", "the model file holds no model; start with "
            "`model: <name>` and `contexts:`", "empty")])
    # The file parsed (a duplicate key or a refused tag leaves the rest readable): go on,
    # so one run shows every error, but say each place only once.
    reported = {d.location for d in diagnostics}

    def new(found: list[Diagnostic]) -> list[Diagnostic]:
        return [d for d in found if d.location not in reported]

    model, structure = build_model(data, source)
    if model is None:
        raise ModelError(diagnostics + new(structure + _errors_beyond_structure(data, source)))
    diagnostics += new(check_model(model, source))
    failing = [d for d in diagnostics if d.severity == "error" or strict]
    if failing:
        raise ModelError(diagnostics)
    return LoadedModel(model, source, sorted(diagnostics), file)


def load_builder(builder: ModelBuilder, file: str = "<python model>",
                 strict: bool = False) -> LoadedModel:
    """Validate a model built in Python right here (no file to import)."""
    data, source = builder.to_data(file)
    unbounded = _unbounded(data, source)
    if unbounded:
        raise ModelError(unbounded)
    model, structure = build_model(data, source)
    if model is None:
        raise ModelError(structure + _errors_beyond_structure(data, source))
    diagnostics = check_model(model, source)
    if any(d.severity == "error" or strict for d in diagnostics):
        raise ModelError(diagnostics)
    return LoadedModel(model, source, diagnostics, FilePath(file))


def _errors_beyond_structure(data: Any, source: SourceMap) -> list[Diagnostic]:
    """With structural errors found, mend the data just enough to report the name,
    reference and type errors of the rest too (lints wait until the structure is right:
    they would mostly repeat what the structural errors already say)."""
    mended, skipped = repair(data) if isinstance(data, dict) else (None, [])
    if mended is None:
        return []
    return [d for d in check_model(mended, source, skipped) if d.severity == "error"]


def _unbounded(data: Any, source: SourceMap) -> list[Diagnostic]:
    """Python data may nest as deep as it likes (or hold itself); pydantic, the repair's
    deepcopy and the checks all recurse. Bound it as a YAML file is bounded, before any of
    them runs: iteratively, each value linked to its parent instead of copying paths."""
    Link = tuple[str | int, Any] | None  # (key, parent's link): the path, built when needed
    stack: list[tuple[Any, int, Link]] = [(data, 0, None)]
    count = 0
    while stack:
        item, depth, link = stack.pop()
        count += 1
        if depth > MAX_DEPTH or count > MAX_VALUES:
            parts: list[str | int] = []
            while link is not None:
                parts.append(link[0])
                link = link[1]
            while parts and isinstance(parts[0], int):
                parts.pop(0)  # name the list the value is in, not "item 1" 60 times
            path: Path = tuple(reversed(parts))
            problem = (f"values nest deeper than {MAX_VALUE_DEPTH} levels (or contain "
                       f"themselves); flatten the value" if depth > MAX_DEPTH else
                       f"the model holds more than {MAX_VALUES} values (does a value repeat "
                       f"itself?); make it smaller")
            return [Diagnostic(source.locate(path), "error",
                               f"{describe(path, data)}: {problem}", "structure")]
        if isinstance(item, list):
            stack += [(child, depth + 1, (i, link)) for i, child in enumerate(item)]
        elif isinstance(item, dict):
            # A key is text in a valid model; any other key is refused later, by its type.
            stack += [(child, depth + 1, (key if isinstance(key, str) else "?", link))
                      for key, child in item.items()]
    return []


def _read(file: FilePath) -> tuple[Any, SourceMap, list[Diagnostic]]:
    name = str(file)
    if not file.exists():
        return None, SourceMap(name), [Diagnostic(
            Location(name, 1, 1), "error", "no such file; check the path", "no-file")]
    if file.is_dir():
        return None, SourceMap(name), [Diagnostic(
            Location(name, 1, 1), "error", "this is a directory; pass the model file in it "
            "(a .yaml/.yml file or a .py module)", "no-file")]
    if file.suffix in YAML_SUFFIXES:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            return None, SourceMap(name), [Diagnostic(
                Location(name, 1, 1), "error", f"cannot read the model: {exc}", "no-file")]
        return load_yaml(text, name)
    if file.suffix == ".py":
        return _python_model(file)
    return None, SourceMap(name), [Diagnostic(
        Location(name, 1, 1), "error",
        f"unknown model format {file.suffix!r}: use a .yaml/.yml file or a .py module "
        f"that defines `model`", "format")]


def _python_model(file: FilePath) -> tuple[Any, SourceMap, list[Diagnostic]]:
    name = str(file)
    module_name = f"_aether_model_{abs(hash(file.resolve()))}"
    spec = importlib.util.spec_from_file_location(module_name, file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    # The model may import modules beside it, as `python model.py` could. Last on the path,
    # so an installed package is never shadowed; and forgotten afterwards, so the next load
    # (another model, or this one at another git revision) reads its own.
    folder = str(file.resolve().parent)
    known = set(sys.modules)
    sys.path.append(folder)
    try:
        spec.loader.exec_module(module)
        exposed = getattr(module, "model", None)
        if isinstance(exposed, ModelBuilder):
            data, source = exposed.to_data(name)
            unbounded = _unbounded(data, source)
            return (None if unbounded else data), source, unbounded
        if isinstance(exposed, Model):
            return exposed.model_dump(by_alias=True, exclude_unset=True), SourceMap(name), []
    # The user's code: every way it can end (an exception, sys.exit(0), KeyboardInterrupt,
    # a bare BaseException) becomes one located error, never a silent exit or a traceback.
    except BaseException as exc:
        return None, SourceMap(name), [Diagnostic(
            _raise_site(exc, file), "error", _ended(exc), "python-error")]
    finally:
        sys.modules.pop(module_name, None)
        _forget_beside(folder, known)
    return None, SourceMap(name), [Diagnostic(
        Location(name, 1, 1), "error",
        "the module defines no `model`; assign a modeling.builder.ModelBuilder (or a "
        "modeling.Model) to a top-level name `model`", "no-model")]


def _forget_beside(folder: str, known: set[str]) -> None:
    """Take ``folder`` off the path again, and forget the modules imported from it (or from
    a package in it) since ``known`` was taken."""
    with contextlib.suppress(ValueError):  # the model's code may have changed sys.path
        sys.path.remove(folder)
    for name in set(sys.modules) - known:
        where = getattr(sys.modules.get(name), "__file__", None)
        if isinstance(where, str) and FilePath(folder) in FilePath(where).resolve().parents:
            del sys.modules[name]


def _ended(exc: BaseException) -> str:
    # Every text here comes from the user's code: escaped (one line, no terminal control
    # characters) and computed so that a __str__ or __repr__ that raises cannot escape.
    if isinstance(exc, SystemExit):
        code = _users_text(repr, exc.code)
        return (f"the Python model called sys.exit({printable(code, 60) if code else '...'}) while "
                f"loading; a model module only defines `model`: remove the exit")
    text = _users_text(str, exc)
    said = ("" if text == "" else f": {shown(text, 300)}" if text is not None
            else " (and its message could not be shown: its __str__ failed)")
    return f"the Python model raised {printable(type(exc).__name__, 60)}{said}"


def _users_text(show: Callable[[object], str], value: object) -> str | None:
    """``show(value)``, or None when the user's __str__/__repr__ fails (whichever way)."""
    try:
        text = show(value)
    except BaseException:  # the user's code: its failing is what we report, not a crash
        return None
    return text if isinstance(text, str) else None


def _raise_site(exc: BaseException, file: FilePath) -> Location:
    if isinstance(exc, SyntaxError) and exc.lineno is not None:
        return Location(str(file), exc.lineno, exc.offset or 1)
    target = file.resolve()
    line, column = 1, 1
    for frame in traceback.extract_tb(exc.__traceback__):
        if FilePath(frame.filename).resolve() == target and frame.lineno is not None:
            line = frame.lineno  # the innermost line of the model file
            column = (frame.colno or 0) + 1
    return Location(str(file), line, column)
