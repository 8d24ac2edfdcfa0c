from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_runtime_tour_runs_and_shows_each_step() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "examples.runtime_tour"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "v1 AccountOpened {'owner': 'Ada'}" in out
    assert "second writer refused: version conflict for actor 'acc-42'" in out
    assert "snapshot at v3" in out
    assert "replayed v4: owner=Ada balance=125.00" in out
    assert "bank <- acc-42 v4 MoneyDeposited" in out
    assert "insurance got 0 events" in out
