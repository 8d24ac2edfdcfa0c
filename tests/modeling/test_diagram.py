from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from modeling import Model, load_model
from modeling.diagram import STYLES, DiagramError, render, to_dot, to_mermaid

ROOT = Path(__file__).resolve().parents[2]
ORDERS = ROOT / "examples" / "orders" / "model.yaml"
HOSTILE_TEXT = 'ends "quoted" \\" \\\\n ]; node [x]; }\n`<script>` # & | -->'


def model() -> Model:
    return load_model(ORDERS).model


def test_dot_is_deterministic_left_to_right_with_a_cluster_per_context() -> None:
    dot = to_dot(model())
    assert dot == to_dot(model())
    assert "rankdir=LR" in dot
    assert dot.count("subgraph cluster_") == 2
    assert "label=Sales" in dot and "label=Shipping" in dot
    for kind in ("event", "command", "aggregate", "policy", "read_model", "external_system",
                 "hot_spot", "actor"):
        assert STYLES[kind].fill in dot, kind


def test_rendered_svg_and_png_are_real_images() -> None:
    svg = render(model(), "svg").decode()
    assert svg.lstrip().startswith("<?xml") and "</svg>" in svg
    assert "PlaceOrder" in svg and "MarkPaidWhenPayment" in svg
    assert render(model(), "png")[:8] == b"\x89PNG\r\n\x1a\n"


def test_context_filter_keeps_the_context_and_its_neighbours() -> None:
    dot = to_dot(model(), context="Shipping")
    assert "PrepareShipment" in dot
    assert "OrderPaid" in dot  # the event from Sales that the Shipping policy reacts to
    assert "PlaceOrder" not in dot
    with pytest.raises(DiagramError, match="choose one of Sales, Shipping"):
        to_dot(model(), context="Billing")


def hostile_model(tmp_path: Path) -> Model:
    path = tmp_path / "m.yaml"
    quoted = HOSTILE_TEXT.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    path.write_text(f'model: m\ncontexts:\n  - name: C\n    hot_spots:\n'
                    f'      - text: "{quoted}"\n')
    return load_model(path).model


def test_hostile_hot_spot_text_stays_a_label_in_dot(tmp_path: Path) -> None:
    svg = render(hostile_model(tmp_path), "svg").decode()
    assert svg.count('class="node"') == 1  # the text added no node ...
    assert 'class="edge"' not in svg  # ... and no edge
    assert "&lt;script&gt;" in svg and "<script>" not in svg
    assert "node [x]" in svg  # shown as the text it is


def test_hostile_hot_spot_text_stays_a_label_in_mermaid(tmp_path: Path) -> None:
    text = to_mermaid(hostile_model(tmp_path))
    label_lines = [line for line in text.splitlines() if ":::hot_spot" in line]
    assert len(label_lines) == 1
    (line,) = label_lines
    inner = line.split('"', 1)[1].rsplit('"', 1)[0]
    for char in '"`<>|#':
        assert char not in inner.replace("<br/>", "").replace("#quot;", "").replace(
            "#96;", "").replace("#lt;", "").replace("#gt;", "").replace("#124;", "").replace(
            "#35;", "").replace("#38;", "").replace("#92;", ""), char
    assert "-->" not in inner


def test_mermaid_has_classes_subgraphs_and_edges() -> None:
    text = to_mermaid(model())
    assert text.startswith("flowchart LR\n")
    assert 'subgraph ctx0["Sales"]' in text
    assert "classDef event fill:#FFA94D" in text
    assert ":::aggregate" in text
    assert text.count(" --> ") == 24


def test_without_dot_svg_fails_with_advice_but_dot_and_mermaid_work(tmp_path: Path) -> None:
    bare = tmp_path / "bin"
    bare.mkdir()
    (bare / "python").symlink_to(sys.executable)
    env = {"PATH": str(bare), "HOME": str(tmp_path)}
    cli = [sys.executable, "-m", "codegen", "diagram", str(ORDERS)]
    out = tmp_path / "orders.svg"
    result = subprocess.run([*cli, "-o", str(out)], env=env, capture_output=True, text=True,
                            check=False)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "apt-get install graphviz" in result.stderr
    assert (tmp_path / "orders.dot").read_text().startswith("digraph orders")
    for fmt in ("dot", "mermaid"):
        result = subprocess.run([*cli, "-o", str(tmp_path / f"o.{fmt}"), "-f", fmt], env=env,
                                capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stderr
    assert shutil.which("dot") is not None  # the rest of the suite renders for real


@pytest.mark.parametrize("text", [
    '<<TABLE HREF="javascript:alert(1)"><TR><TD>x</TD></TR></TABLE>>',
    '<<B>bold</B>>',
    "<script>alert(1)</script>",
    "a NUL \0 and a lone surrogate \ud800 and a backslash \\",
])
def test_hot_spot_text_never_becomes_markup(tmp_path: Path, text: str) -> None:
    """Text written as <...> was once passed to Graphviz as an HTML label (an SVG with a
    javascript: link came out), and NUL made rendering fail: every text stays text."""
    source = tmp_path / "m.yaml"
    source.write_text(
        "model: m\ncontexts:\n  - name: C\n    hot_spots:\n      - text: PLACEHOLDER\n")
    loaded = load_model(source).model
    context = loaded.contexts[0].model_copy(update={
        "hot_spots": [loaded.contexts[0].hot_spots[0].model_copy(update={"text": text})]})
    hostile = loaded.model_copy(update={"contexts": [context]})
    dot = to_dot(hostile)
    assert "label=<" not in dot  # HTML labels start with <
    svg = render(hostile, "svg").decode()
    assert "<a " not in svg and "xlink:href" not in svg and "<b>" not in svg.lower()
    assert "<script" not in svg
    assert "\0" not in svg and "\0" not in to_mermaid(hostile)
