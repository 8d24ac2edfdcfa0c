"""A model's version and an event's schema_version are whole numbers of a sane size: YAML's
`true` is no version, and the number is printed into generated headers and module names."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modeling import ModelError, load_model
from modeling.types import MAX_VERSION

EVENT = """\
contexts:
  - name: Sales
    aggregates:
      - name: Order
        events: [{name: Placed, schema_version: %s}]
"""


def errors(folder: Path, version: str, schema_version: str = "1") -> list[str]:
    file = folder / "m.yaml"
    file.write_text(f"model: shop\nversion: {version}\n" + EVENT % schema_version)
    try:
        load_model(file)
    except ModelError as error:
        return [str(d).removeprefix(f"{file}:") for d in error.diagnostics]
    return []


@pytest.mark.parametrize(("written", "got"), [
    ("true", "true/false"), ("false", "true/false"), ("1.0", "1.0"), ("0", "0"), ("-3", "-3"),
    ('"2"', "text"), ("1000000001", "1000000001"), ("1" + "0" * 60, "a number of 61 digits")])
def test_a_version_that_is_no_sane_whole_number_is_refused(tmp_path: Path, written: str,
                                                            got: str) -> None:
    said = (f"a version is a whole number from 1 to 1_000_000_000 (bump it by one for each "
            f"change), got {got}")
    assert errors(tmp_path, written) == [f"2:10: error: `version`: {said}"]
    assert errors(tmp_path, "1", written) == [
        f"7:49: error: schema_version of event 'Placed': {said}"]


@given(st.integers(1, MAX_VERSION))
def test_every_version_up_to_the_limit_is_kept(version: int) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        assert errors(Path(folder), str(version), str(version)) == []
