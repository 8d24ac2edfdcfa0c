"""README's tour runs the two ways README tells a newcomer to run it.

test_docs.py runs the same blocks in a namespace of its own; here they run as a person
does: pasted into ``python -m asyncio``, or wrapped in ``async def main()`` in a script,
from the repository root. Step 3 defines an ``Order`` with only the handler it shows,
which must not stop the session (a class of ``__main__`` is not a stub).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from aether.testing import NatsServer
from tests.test_docs import DOCS_URL, ROOT, blocks

README = ROOT / "README.md"
DONE = "the tour ran to its end"


def tour(nats_server: NatsServer) -> str:
    return "\n".join(source.replace(DOCS_URL, nats_server.url)
                     for _, source in blocks(README, "python"))


def test_tour_pasted_into_the_asyncio_repl(nats_server: NatsServer) -> None:
    session = tour(nats_server) + f"\nprint({DONE!r})\n"
    result = subprocess.run([sys.executable, "-m", "asyncio"], input=session, cwd=ROOT,
                            capture_output=True, text=True, check=False, timeout=120)
    assert "Traceback" not in result.stderr, result.stderr
    assert DONE in result.stdout, result.stdout + result.stderr


def test_tour_wrapped_in_a_script(nats_server: NatsServer, tmp_path: Path) -> None:
    script = tmp_path / "tour.py"
    script.write_text("import asyncio\n\n\nasync def main() -> None:\n"
                      + textwrap.indent(tour(nats_server), "    ")
                      + f"\n    print({DONE!r})\n\n\nasyncio.run(main())\n")
    result = subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True,
                            text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stderr
    assert DONE in result.stdout
