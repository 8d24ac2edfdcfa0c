"""The whole path for an example: validate, draw, build the catalogs, generate, test, run.

    python -m examples.run                      # the orders example, in-memory store
    python -m examples.run --example library    # the library example (a Python model)
    python -m examples.run --jetstream          # the demo on JetStream (starts nats-server)
    python -m examples.run --cluster            # orders on 3 node processes, one killed

``make demo`` runs this; EXAMPLE=library, JETSTREAM=1 and CLUSTER=1 choose the same options.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXAMPLES = {"orders": "model.yaml", "library": "model.py"}


def step(title: str, command: list[str], cwd: Path | None = None) -> None:
    print(f"\n$ {' '.join(command)}", flush=True)
    result = subprocess.run(command, cwd=cwd, check=False, env=demo_env())
    if result.returncode != 0:
        sys.exit(f"demo stopped: {title} failed (exit {result.returncode})")


def demo_env() -> dict[str, str]:
    """The environment for each step: the demos import demo_support from this folder."""
    paths = [str(HERE), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def main() -> None:
    parser = argparse.ArgumentParser(description="Run an example end to end.")
    parser.add_argument("--example", choices=sorted(EXAMPLES), default="orders")
    parser.add_argument("--jetstream", action="store_true",
                        help="run the demo on NATS JetStream (starts a local nats-server)")
    parser.add_argument("--cluster", action="store_true",
                        help="run the example's multi-node demo: three node processes on a "
                             "nats-server it starts, one killed mid-way (orders only)")
    args = parser.parse_args()
    if args.cluster and not (HERE / args.example / "project" / "cluster_demo.py").exists():
        parser.error(f"the {args.example} example has no cluster demo: use --example orders")
    root = HERE / args.example
    model = str(root / EXAMPLES[args.example])
    gen = [sys.executable, "-m", "codegen"]
    project = root / "project"
    step("validate", [*gen, "validate", "--strict", model])
    step("diagram", [*gen, "diagram", model, "-o", str(root / "diagrams" / f"{args.example}.svg")])
    step("diagram", [*gen, "diagram", model, "-o",
                     str(root / "diagrams" / f"{args.example}.mmd")])
    catalogs = []
    for name, model_file in sorted(EXAMPLES.items()):  # every example's catalog: they are cheap
        catalog = HERE / name / "catalog"
        step("catalog", [*gen, "catalog", str(HERE / name / model_file), "-o", str(catalog)])
        catalogs.append((catalog / "index.html").as_uri())
    step("generate", [*gen, "generate", model, "-o", str(project)])
    step("generated tests", [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             args.example], cwd=project)
    if args.cluster:
        step("cluster demo", [sys.executable, str(project / "cluster_demo.py")])
    else:
        step("demo", [sys.executable, str(project / "demo.py"),
                      *(["--jetstream"] if args.jetstream else [])])
    print("\nThe examples' catalogs (open them in a browser, straight from disk):")
    for uri in catalogs:
        print(f"  {uri}")


if __name__ == "__main__":
    main()
