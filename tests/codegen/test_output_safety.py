"""generate never writes outside its output directory nor through a symlink, and never
silently replaces what is not its own: each such path is refused in one line saying what
to do, before anything is written."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli import aether_gen

ROOT = Path(__file__).resolve().parents[2]
MODEL = """\
model: shop
contexts:
  - name: Sales
    actors: [User]
    aggregates:
      - name: Order
        commands: [{name: PlaceOrder, actor: User, emits: [OrderPlaced]}]
        events: [{name: OrderPlaced}]
"""


def package_is_a_file(out: Path, outside: Path) -> None:
    (out / "shop").write_text("my notes\n")


def events_is_a_dangling_symlink_outside(out: Path, outside: Path) -> None:
    (out / "shop").mkdir()
    (out / "shop" / "events.py").symlink_to(outside / "events.py")


def stub_is_a_symlink_outside(out: Path, outside: Path) -> None:
    (out / "shop" / "aggregates").mkdir(parents=True)
    (outside / "order.py").write_text("# mine\n")
    (out / "shop" / "aggregates" / "order.py").symlink_to(outside / "order.py")


def subpackage_is_a_file(out: Path, outside: Path) -> None:
    (out / "shop").mkdir()
    (out / "shop" / "aggregates").write_text("my notes\n")


def subpackage_is_a_symlink(out: Path, outside: Path) -> None:
    (out / "shop").mkdir()
    (out / "shop" / "tests").symlink_to(outside, target_is_directory=True)


def module_is_a_directory(out: Path, outside: Path) -> None:
    (out / "shop" / "commands.py").mkdir(parents=True)


CASES: dict[str, tuple[Callable[[Path, Path], None], str]] = {
    "the package is a file": (
        package_is_a_file, "shop is a file where aether-gen writes a directory; move or "
                           "remove it, or pass another -o or --package"),
    "a dangling symlink to outside": (
        events_is_a_dangling_symlink_outside, "never writes through symlinks; remove it"),
    "a stub symlinked to outside": (
        stub_is_a_symlink_outside, "never writes through symlinks; remove it"),
    "a subpackage is a file": (
        subpackage_is_a_file, "aggregates is a file where aether-gen writes a directory"),
    "a subpackage is a symlink": (
        subpackage_is_a_symlink, "tests is a symlink (to "),
    "a module is a directory": (
        module_is_a_directory, "commands.py is a directory where aether-gen writes a file"),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("check", [False, True])
def test_generate_refuses_paths_it_would_write_through_or_replace(
    tmp_path: Path, case: str, check: bool,
) -> None:
    arrange, said = CASES[case]
    model, out, outside = tmp_path / "shop.yaml", tmp_path / "out", tmp_path / "outside"
    model.write_text(MODEL)
    out.mkdir()
    outside.mkdir()
    arrange(out, outside)
    before = sorted((p.as_posix(), p.is_symlink()) for p in tmp_path.rglob("*"))
    result = aether_gen("generate", model, "-o", out, *(["--check"] if check else []))
    assert result.returncode == 1, result.stdout
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"aether-gen: error: {out / 'shop'}"), line
    assert said in line
    assert ".aether-gen-" not in line  # never a temporary path
    assert sorted((p.as_posix(), p.is_symlink()) for p in tmp_path.rglob("*")) == before


def test_a_symlink_inside_the_output_is_replaced_not_written_through(tmp_path: Path) -> None:
    model, out = tmp_path / "shop.yaml", tmp_path / "out"
    model.write_text(MODEL)
    (out / "shop").mkdir(parents=True)
    (out / "elsewhere.py").write_text("# keep me\n")
    (out / "shop" / "events.py").symlink_to(out / "elsewhere.py")
    result = aether_gen("generate", model, "-o", out)
    assert result.returncode == 0, result.stderr
    assert not (out / "shop" / "events.py").is_symlink()
    assert "class OrderPlaced(" in (out / "shop" / "events.py").read_text()
    assert (out / "elsewhere.py").read_text() == "# keep me\n"
