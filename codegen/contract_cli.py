"""aether-gen's contract commands and hooks: the lock beside the model, ``check`` for
breaking changes, and the guard validate and generate run (see docs/evolution.md)."""

from __future__ import annotations

import io
import subprocess
import tarfile
import tempfile
from pathlib import Path

import click

from modeling import LoadedModel, ModelError, load_model
from modeling.changes import Change
from modeling.contract import (
    Lock,
    LockError,
    contract,
    lock_path,
    merged_lock,
    parse_lock,
    read_lock,
    read_lock_text,
)
from modeling.evolution import breaking_diagnostics, changes_against, lock_update
from modeling.names import shown


def refuse_breaking(loaded: LoadedModel) -> None:
    """validate and generate: a breaking change since the lock, without a version bump,
    is an error like any other in the model."""
    errors = breaking_diagnostics(loaded)
    if errors:
        raise ModelError(errors)


def stale_lock(loaded: LoadedModel) -> list[str]:
    """generate --check: the lock as a missing or stale file ("path: state")."""
    update = lock_update(loaded)
    return [] if update.state == "fresh" else [f"{update.path}: {update.state}"]


def write_lock(loaded: LoadedModel) -> str | None:
    """generate: bring the lock up to date; what happened to it, or None if nothing."""
    update = lock_update(loaded)
    if update.state == "fresh":
        return None
    Path(update.path).write_text(update.text, encoding="utf-8")
    return f"{'created' if update.state == 'missing' else 'updated'} {update.path}"


def _against(loaded: LoadedModel, against: str | None) -> tuple[Lock, str]:
    """The old contract: the lock beside the model, a lock or model file, or the model at
    a git revision (with the lock beside it there: its older versions and removed events)."""
    if against is None:
        path = lock_path(loaded.path)
        old = read_lock(path)
        if old is None:
            raise LockError(f"{path}: no lock yet; run aether-gen generate {loaded.path} -o DIR "
                            f"to write one, or pass --against FILE|GIT-REV")
        return old, str(path)
    if not against.strip():  # git would read "" as the index
        raise LockError("--against is empty: pass a lock, a model file or a git revision "
                        "such as HEAD~1")
    candidate = Path(against)
    if candidate.is_file():
        if candidate.name.endswith(".json"):
            lock = parse_lock(read_lock_text(candidate, against), against)
            return _same_model(loaded, lock, against), against
        return _same_model(loaded, contract(load_model(candidate).model), against), against
    name = f"{against}:{loaded.path}"
    then = contract(_model_at_revision(loaded.path, against).model)
    lock_file = lock_path(loaded.path).name
    lock_text = _file_at_revision(loaded.path.resolve().parent, against, lock_file)
    if lock_text is not None:
        then = merged_lock(parse_lock(lock_text.decode("utf-8", "replace"),
                                      f"{against}:{lock_file}"), then)
    return _same_model(loaded, then, name), name


def _same_model(loaded: LoadedModel, old: Lock, name: str) -> Lock:
    """``old``, unless it is plainly another model's contract: another name and not one
    event in common (it would report each of this model's events as added, and pass). A
    model renamed since keeps its events."""
    was = old.get("model", "")
    events = contract(loaded.model)["events"]
    if was and was != loaded.model.name and old["events"] and not set(old["events"]) & set(
            events):
        raise LockError(f"{name} is the contract of model {shown(was, 80)}, which has none "
                        f"of the events of {shown(loaded.model.name, 80)}; compare against "
                        f"this model's own lock, file or revision")
    return old


def _git_show(folder: Path, revision: str, file: str) -> subprocess.CompletedProcess[bytes]:
    """``git show`` of ``file`` (in ``folder``) at a git revision."""
    return subprocess.run(["git", "-C", str(folder), "show", f"{revision}:./{file}"],
                          capture_output=True, check=False)


def _file_at_revision(folder: Path, revision: str, file: str) -> bytes | None:
    """The bytes of ``file`` (beside the model) at a git revision, or None."""
    result = _git_show(folder, revision, file)
    return result.stdout if result.returncode == 0 else None


def _model_at_revision(model: Path, revision: str) -> LoadedModel:
    if revision.startswith("-"):
        raise LockError(f"--against {revision[:80]!r} is neither a file nor a git revision")
    result = _git_show(model.resolve().parent, revision, model.name)
    if result.returncode != 0:
        detail = result.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
        raise LockError(f"--against {revision[:80]!r} is neither a file nor a git revision "
                        f"holding {model.name} ({detail[0][:200]}); pass a lock, a model file "
                        f"or a revision such as HEAD~1")
    with tempfile.TemporaryDirectory(prefix="aether-against-") as tmp:
        old_file = Path(tmp) / model.name
        old_file.write_bytes(result.stdout)
        if model.suffix == ".py":  # the modules it imports from beside it, as they were then
            _folder_at_revision(model.resolve().parent, revision, Path(tmp))
        try:
            return load_model(old_file)
        except ModelError as error:
            first = str(error.errors[0]) if error.errors else ""
            raise LockError(f"the model at {revision[:80]} does not load "
                            f"({len(error.errors)} error(s), the first: {first[:300]}); "
                            f"compare against another revision") from None


def _folder_at_revision(folder: Path, revision: str, into: Path) -> None:
    """The files of ``folder`` as they were at ``revision``, written into ``into``."""
    archive = subprocess.run(["git", "-C", str(folder), "archive", "--format=tar",
                              f"{revision}:./"], capture_output=True, check=False)
    # Python before 3.11.4 lacks the "data" filter: the model alone is read then.
    if archive.returncode == 0 and hasattr(tarfile, "data_filter"):
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(into, filter="data")  # "data": nothing outside ``into``


def run_check(model: Path, against: str | None) -> int:
    """``aether-gen check``: print every change; 1 on an unversioned breaking change."""
    loaded = load_model(model)
    old, name = _against(loaded, against)
    changes: list[Change] = changes_against(loaded, old)
    for change in changes:
        click.echo(str(change))
    failing = [c for c in changes if c.failing]
    breaking = [c for c in changes if c.breaking]
    # A versioned change to another context's published language still fails (see
    # modeling/changes.py).
    published = [c for c in changes if c.flagged and not c.failing]
    also = (f", {len(published)} to a published language other contexts rely on (agree "
            f"the change with them, or publish the new shape as a new event beside the old)"
            if published else "")
    click.echo(f"{model}: {len(changes)} change(s) since {name}, {len(breaking)} breaking, "
               f"{len(failing)} without a version bump{also}", err=bool(failing or published))
    return 1 if failing or published else 0
