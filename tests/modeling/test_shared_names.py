"""Names are unique only where they become Python names: actors become none."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from modeling import ModelError, load_model
from modeling.graph import build_graph

PATRON = Path(__file__).parent / "models" / "patron.yaml"


def test_actor_and_aggregate_of_one_name_validate_generate_and_pass_their_tests(
        tmp_path: Path) -> None:
    loaded = load_model(PATRON, strict=True)
    assert {a.name for c in loaded.model.contexts for a in c.actors} == {"Patron"}
    generate = subprocess.run([sys.executable, "-m", "codegen", "generate", str(PATRON),
                               "-o", str(tmp_path)], capture_output=True, text=True, check=False)
    assert generate.returncode == 0, generate.stderr
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            "lending"], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert tests.returncode == 0, tests.stdout
    # The scenario test and one round-trip test per event ran, and passed.
    assert "4 passed" in tests.stdout


def test_elements_that_become_classes_still_may_not_share_a_name(tmp_path: Path) -> None:
    model = tmp_path / "m.yaml"
    model.write_text(PATRON.read_text().replace("name: BookPlacedOnHold", "name: Patron")
                     .replace("[BookPlacedOnHold]", "[Patron]")
                     .replace("{BookPlacedOnHold:", "{Patron:"))
    with pytest.raises(ModelError) as caught:
        load_model(model)
    assert [str(d).removeprefix(f"{model}:") for d in caught.value.errors] == [
        "16:19: error: event name 'Patron' is already used by the aggregate at line 8; names "
        "of everything but actors are unique across the model (they become classes of one "
        "package)"]


def test_a_hot_spot_about_the_shared_name_is_about_the_aggregate(tmp_path: Path) -> None:
    model = tmp_path / "m.yaml"
    model.write_text(PATRON.read_text() + "    hot_spots:\n"
                     "      - {text: 'How many holds at once?', about: Patron}\n")
    graph = build_graph(load_model(model).model)
    assert list(graph.successors("hot_spot:Catalogue#1")) == ["aggregate:Patron"]
