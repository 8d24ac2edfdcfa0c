"""aether-gen: validate, draw and compile EventStorming models.

Every user mistake ends as one line per problem (``file:line:col: error: ...`` for
models) and a non-zero exit; never a traceback. Set AETHER_DEBUG=1 to see one for
a bug in aether-gen itself.
"""

from __future__ import annotations

import os
import shlex
import sys
import traceback
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, NoReturn, TypeVar, cast

import click
import jinja2

from codegen.asyncapi import export as export_contract
from codegen.contract_cli import refuse_breaking, run_check, stale_lock, write_lock
from codegen.formatting import FormatError
from codegen.generator import OutputFile
from codegen.generator import generate as generate_files
from codegen.orphans import (
    OrphanedStub,
    UnhookedUpcaster,
    earlier_packages,
    find_unhooked_upcasters,
)
from codegen.writer import UnsafeOutputError
from codegen.writer import plan as plan_output
from codegen.writer import write as write_output
from modeling import LoadedModel, ModelError, load_model
from modeling.contract import LockError, lock_path
from modeling.diagram import FORMATS, DiagramError, Format, render
from modeling.evolution import new_lock
from modeling.export import json_schema, to_yaml
from modeling.name_checks import package_name_problem, snake_identifier, unshadowed
from modeling.source import one_line

F = TypeVar("F", bound=Callable[..., Any])

EXIT_PROBLEMS = 1
EXIT_INTERNAL = 2


def fail(message: str, code: int = EXIT_PROBLEMS) -> NoReturn:
    click.echo(f"aether-gen: error: {one_line(message)}", err=True)
    sys.exit(code)


def friendly(command: F) -> F:
    """Turn every failure into one line on stderr and an exit code."""

    @wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ModelError as error:
            for diagnostic in error.diagnostics:
                click.echo(str(diagnostic), err=True)
            if kwargs.get("strict") and all(
                    d.severity == "warning" for d in error.diagnostics):
                # Without this line a strict run that fails on warnings alone prints
                # nothing that says it failed.
                fail(f"{len(error.diagnostics)} warning(s), which --strict treats as "
                     f"errors: fix them, or leave out --strict")
            sys.exit(EXIT_PROBLEMS)
        except (DiagramError, LockError, UnsafeOutputError, OSError) as error:
            fail(str(error))
        except (RecursionError, MemoryError) as error:  # bounded by validate; never silent
            fail(f"internal error ({type(error).__name__}); rerun with AETHER_DEBUG=1 and "
                 f"report the model that caused it", EXIT_INTERNAL)
        except Exception as error:  # a bug in aether-gen, not the user's mistake
            if os.environ.get("AETHER_DEBUG"):
                raise
            fail(f"internal error ({type(error).__name__}: {error}); rerun with "
                 f"AETHER_DEBUG=1 and report the traceback", EXIT_INTERNAL)

    return cast(F, run)


def _load(model: Path, strict: bool = False) -> LoadedModel:
    loaded = load_model(model, strict=strict)
    for warning in loaded.warnings:
        click.echo(str(warning), err=True)
    return loaded


# Any path: a missing file or a directory is the loader's located error (exit 1), not a
# click usage error.
model_argument = click.argument("model", type=click.Path(path_type=Path))


class _Group(click.Group):
    """Usage mistakes (a bad option, a missing argument) exit 1 like every other user
    mistake; exit 2 stays reserved for aether-gen's own bugs."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            return super().main(*args, **kwargs)
        except click.ClickException as error:
            error.show()
            sys.exit(EXIT_PROBLEMS)
        except click.Abort:
            fail("aborted")


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="aether", prog_name="aether-gen")
def main() -> None:
    """Validate, draw and compile EventStorming models for the Aether runtime."""


@main.command(short_help="Check MODEL (YAML or Python); print every problem at once.")
@model_argument
@click.option("--strict", is_flag=True, help="Treat warnings (lints) as errors.")
@friendly
def validate(model: Path, strict: bool) -> None:
    """Check MODEL (YAML or Python); print every problem as file:line:col."""
    loaded = _load(model, strict)
    refuse_breaking(loaded)
    counts = {
        ("context", "contexts"): len(loaded.model.contexts),
        ("aggregate", "aggregates"): sum(len(c.aggregates) for c in loaded.model.contexts),
        ("policy", "policies"): sum(len(c.policies) for c in loaded.model.contexts),
    }
    summary = ", ".join(f"{n} {one if n == 1 else many}" for (one, many), n in counts.items())
    warnings = f", {len(loaded.warnings)} warning(s)" if loaded.warnings else ""
    click.echo(f"{model}: ok: model {loaded.model.name!r} ({summary}){warnings}")


def _package_like(name: str, model_name: str) -> str:
    """An accepted package name close to the refused ``name`` (else the model's own)."""
    snake = snake_identifier(name)
    for suggestion in (snake, snake and unshadowed(snake), model_name):
        if suggestion and package_name_problem(suggestion) is None:
            return suggestion
    return "app"


@main.command()
@model_argument
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False),
              required=True, help="File to write.")
@click.option("-f", "--format", "fmt", type=click.Choice(FORMATS),
              help="Output format (default: from the file suffix; svg when it has none).")
@click.option("--context", help="Draw one bounded context (and its direct neighbours).")
@friendly
def diagram(model: Path, output: Path, fmt: Format | None, context: str | None) -> None:
    """Draw MODEL's event flow in EventStorming colours."""
    chosen = fmt or _format_from_suffix(output)
    loaded = _load(model)
    try:
        content = render(loaded.model, chosen, context)
    except DiagramError as error:
        if chosen in ("svg", "png") and "dot" in str(error):
            fallback = output.with_suffix(".dot")
            fallback.write_bytes(render(loaded.model, "dot", context))
            fail(f"{error} (wrote the DOT source to {fallback} meanwhile)")
        raise
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(content)
    click.echo(f"wrote {output} ({chosen})")


def _template_problem(error: Exception, templates: Path) -> str | None:
    """Where a custom template failed, and why (``path:line: message``), or None when the
    error did not come from one of the templates in ``templates``."""
    if isinstance(error, jinja2.TemplateSyntaxError):
        return f"{error.filename or error.name}:{error.lineno}: {error.message}"
    if isinstance(error, UnicodeDecodeError):
        # Raised while jinja2's loader reads the file: the file is a local of that frame.
        tb = error.__traceback__
        while tb is not None:
            filename = tb.tb_frame.f_locals.get("filename")
            if isinstance(filename, str) and Path(filename).is_relative_to(templates):
                return (f"{filename}: not UTF-8 text (byte {error.object[error.start]:#04x} "
                        f"at offset {error.start}): save the template as UTF-8")
            tb = tb.tb_next
    # Rendering errors carry no line, but jinja2 puts template frames in the traceback.
    frames = [frame for frame in traceback.extract_tb(error.__traceback__)
              if Path(frame.filename).parent == templates]
    if not frames and not isinstance(error, jinja2.TemplateError):
        return None
    where = f"{frames[-1].filename}:{frames[-1].lineno}: " if frames else ""
    return f"{where}{type(error).__name__}: {error}"


def _regenerate(model: Path, output: Path, package: str | None,
                templates: Path | None) -> str:
    """The generate command that brings ``output`` up to date, as the user ran it."""
    words = ["aether-gen", "generate", str(model), "-o", str(output)]
    if package is not None:
        words += ["--package", package]
    if templates is not None:
        words += ["--templates", str(templates)]
    return shlex.join(words)


def _format_from_suffix(output: Path) -> Format:
    suffix = output.suffix.lstrip(".").lower()
    aliases: dict[str, Format] = {"svg": "svg", "png": "png", "dot": "dot", "gv": "dot",
                                  "mmd": "mermaid", "mermaid": "mermaid"}
    if suffix and suffix not in aliases:  # SVG bytes in orders.pdf would only surprise
        fail(f"cannot tell a diagram format from {output.name!r}: name the file .svg, .png, "
             f".dot or .mmd, or pass --format {'|'.join(FORMATS)}")
    return aliases.get(suffix, "svg")


@main.command()
@model_argument
@click.option("-o", "--output", type=click.Path(path_type=Path, file_okay=False),
              required=True, help="Directory that receives the package.")
@click.option("--package", help="Package name (default: the model name).")
@click.option("--templates", type=click.Path(path_type=Path, file_okay=False, exists=True),
              help="Directory of templates overriding the built-in ones, file by file.")
@click.option("--check", is_flag=True,
              help="Write nothing; exit 1 listing missing, stale and orphaned files and "
                   "stubs.")
@friendly
def generate(model: Path, output: Path, package: str | None, templates: Path | None,
             check: bool) -> None:
    """Compile MODEL into a typed Python package on the Aether runtime."""
    loaded = _load(model)
    refuse_breaking(loaded)
    name = loaded.model.name if package is None else package  # "" is refused, not ignored
    problem = package_name_problem(name)
    if problem:
        fail(f"{problem}; pass another, e.g. --package "
             f"{_package_like(name, loaded.model.name)}")
    lock = new_lock(loaded)
    try:
        files = generate_files(loaded.model, name, templates, lock)
    except FormatError as error:
        if templates is None:
            raise  # the built-in templates made invalid Python: a bug, exit 2
        fail(f"{error}; check your templates in {templates}")
    except Exception as error:
        # A custom template that fails to render ({{ 1/0 }}) is the user's to fix; anything
        # else (a built-in template, aether-gen itself) is a bug, exit 2.
        problem = None if templates is None else _template_problem(error, templates)
        if problem is None:
            raise
        fail(f"{problem}; check your templates in {templates}")
    unhooked = find_unhooked_upcasters(files, output, lock)
    lock_name = lock_path(loaded.path).name
    _refuse_unhooked([u for u in unhooked if not u.removed], output, lock_name, check)
    # Those of an event the model dropped on purpose are harmless: reported as orphans are.
    dropped = [u.advice(output, lock_name) for u in unhooked if u.removed]
    if check:
        _check_package(files, output, loaded, _regenerate(model, output, package, templates),
                       dropped)
        click.echo(f"{output / name}: up to date")
        return
    earlier = [f"{output / other}: a package of model {loaded.model.name} too, whose stubs "
               f"hold your code; {output / name} is new, with fresh stubs (an upcaster's "
               f"guess passes its test): move your code into them, then delete {output / other}"
               for other in earlier_packages(files, output, loaded.model.name)]
    result = write_output(files, output)
    for path in result.created:
        click.echo(f"created {output / path}")
    for path in result.updated:
        click.echo(f"updated {output / path}")
    for path in result.removed:
        click.echo(f"removed {output / path}")
    lock_written = write_lock(loaded)
    if lock_written:
        click.echo(lock_written)
    orphaned = f", {len(result.orphaned)} orphaned stub(s)" if result.orphaned else ""
    click.echo(f"{output / name}: {len(result.created)} created, {len(result.updated)} "
               f"updated, {len(result.removed)} removed, {len(result.kept)} stub(s) kept"
               f"{orphaned}")
    # The rest is written and the orphans untouched; exit 1 says the package is not whole.
    for line in [*(orphan.advice(output) for orphan in result.orphaned), *dropped, *earlier]:
        click.echo(line, err=True)
    todo = _leftovers_todo(result.orphaned, dropped)
    if earlier:
        todo.append(f"{len(earlier)} earlier package(s) of this model beside the new one, as "
                    f"said above")
    if todo:
        fail("; ".join(todo))


def _refuse_unhooked(unhooked: list[UnhookedUpcaster], output: Path, lock: str,
                     check: bool) -> None:
    """Write nothing while upcaster stubs the lock no longer produces are there: writing
    would unhook them (and a new lock would forget the versions they read)."""
    for upcaster in unhooked:
        click.echo(upcaster.advice(output, lock), err=True)
    if unhooked:
        fail(f"{len(unhooked)} upcaster stub(s) that {lock} no longer produces, as said "
             f"above{'' if check else '; nothing written'}")


def _check_package(files: list[OutputFile], output: Path, loaded: LoadedModel,
                   regenerate: str, dropped: list[str]) -> None:
    """generate --check: one line per file out of date and per orphaned stub; exit 1 if any."""
    result = plan_output(files, output)
    problems = ([f"{output / p}: missing" for p in result.created] +
                [f"{output / p}: stale" for p in result.updated] +
                [f"{output / p}: orphaned" for p in result.removed] +
                stale_lock(loaded))
    for line in [*problems, *(orphan.advice(output) for orphan in result.orphaned),
                 *dropped]:
        click.echo(line, err=True)
    # Regenerating fixes the files, not the orphans: suggest it only for what it fixes.
    todo = [f"{len(problems)} file(s) out of date; run {regenerate}"] if problems else []
    todo += _leftovers_todo(result.orphaned, dropped)
    if todo:
        fail("; ".join(todo))


def _leftovers_todo(orphans: list[OrphanedStub], dropped: list[str]) -> list[str]:
    todo = [f"{len(orphans)} orphaned stub(s): the app no longer runs their code and the "
            f"package does not type-check until you move it and delete them, as said "
            f"above"] if orphans else []
    if dropped:
        todo.append(f"{len(dropped)} upcaster stub(s) of events no longer in the model: "
                    f"delete them, as said above")
    return todo


@main.command(short_help="Compare MODEL's events with its lock; report breaking changes.")
@model_argument
@click.option("--against", metavar="FILE|GIT-REV",
              help="A lock or model file, or a git revision of MODEL (default: MODEL's lock).")
@friendly
def check(model: Path, against: str | None) -> None:
    """Compare MODEL's events with its lock; exit 1 on an unversioned breaking change."""
    sys.exit(run_check(model, against))


@main.command(short_help="Write MODEL's catalog: a static site that opens from disk.")
@model_argument
@click.option("-o", "--output", type=click.Path(path_type=Path, file_okay=False),
              required=True, help="Directory for the site (new, empty or an earlier catalog).")
@friendly
def catalog(model: Path, output: Path) -> None:
    """Write MODEL's catalog: a static site, one page per element, that opens from disk."""
    from codegen.catalog import CatalogError, build_catalog, write_catalog

    site = build_catalog(_load(model).model)
    for warning in site.warnings:
        click.echo(f"aether-gen: warning: {warning}", err=True)
    try:
        written = write_catalog(site, output)
    except CatalogError as error:
        fail(str(error))
    click.echo(f"wrote {len(written)} files; open {(output / 'index.html').resolve().as_uri()}")


@main.command()
@model_argument
@click.option("-f", "--format", "fmt", type=click.Choice(["yaml", "asyncapi", "jsonschema"]),
              default="yaml", show_default=True,
              help="yaml: the model; asyncapi: an AsyncAPI 3 document of its events; "
                   "jsonschema: a JSON Schema per event payload.")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False),
              help="File to write (default: standard output).")
@friendly
def export(model: Path, fmt: str, output: Path | None) -> None:
    """Write MODEL in the YAML format, or publish its events' contract."""
    loaded = _load(model)
    text = to_yaml(loaded.model) if fmt == "yaml" else export_contract(loaded.model, fmt)
    _write(text, output)


@main.command(short_help="Print the JSON Schema of the YAML model format.")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False),
              help="File to write (default: standard output).")
@friendly
def schema(output: Path | None) -> None:
    """Print the JSON Schema of the YAML model format (for editor completion)."""
    _write(json_schema(), output)


def _write(text: str, output: Path | None) -> None:
    if output is None:
        click.echo(text, nl=False)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    click.echo(f"wrote {output}", err=True)
