from __future__ import annotations

import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from modeling import Model, load_model
from modeling.diagram import STYLES, DiagramError, render, to_dot, to_mermaid

ROOT = Path(__file__).resolve().parents[2]
ORDERS = ROOT / "examples" / "orders" / "model.yaml"
SVG = "{http://www.w3.org/2000/svg}"
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


CLERK = Path(__file__).parent / "models" / "clerk.yaml"


def drawn(svg: bytes) -> dict[str, list[tuple[float, str]]]:
    """Each label drawn in the SVG -> [(its y, the name of the context box it sits in)]."""
    root = ET.fromstring(svg)
    boxes = []
    for group in root.iter(f"{SVG}g"):
        if group.get("class") == "cluster":
            outline = group.find(f"{SVG}path")
            outline = outline if outline is not None else group.find(f"{SVG}polygon")
            assert outline is not None
            numbers = re.findall(r"(-?[\d.]+),(-?[\d.]+)",
                                 outline.get("d") or outline.get("points") or "")
            xs, ys = [float(x) for x, _ in numbers], [float(y) for _, y in numbers]
            boxes.append((group.findtext(f"{SVG}text") or "", min(xs), max(xs), min(ys),
                          max(ys)))
    labels: dict[str, list[tuple[float, str]]] = {}
    for group in root.iter(f"{SVG}g"):
        if group.get("class") == "node":
            texts = group.findall(f"{SVG}text")
            x, y = float(texts[0].get("x", "0")), float(texts[0].get("y", "0"))
            box = next(name for name, left, right, top, bottom in boxes
                       if left <= x <= right and top <= y <= bottom)
            labels.setdefault(" ".join(t.text or "" for t in texts), []).append((y, box))
    return labels


def test_events_and_commands_keep_model_order_and_a_shared_actor_stands_in_both_contexts(
        ) -> None:
    clerk = load_model(CLERK).model
    labels = drawn(render(clerk, "svg"))
    ys = [labels[name][0][0] for name in ("OrderPlaced", "OrderShipped", "OrderCancelled")]
    assert ys == sorted(ys)  # time order, top to bottom, whatever order commands emit them
    ys = [labels[name][0][0] for name in ("CancelOrder", "ShipOrder", "PlaceOrder")]
    assert ys == sorted(ys)
    assert sorted(where for _, where in labels["Clerk"]) == ["Returns", "Sales"]
    returns = drawn(render(clerk, "svg", context="Returns"))
    assert [where for _, where in returns["Clerk"]] == ["Returns"]
    assert "PlaceOrder" not in returns  # the clerk's work in Sales stays in Sales' view
    assert to_mermaid(clerk).count('"Clerk"') == 2


def test_hot_spot_is_a_red_violet_note_as_large_as_its_text() -> None:
    dot = to_dot(load_model(CLERK).model)
    (line,) = [line for line in dot.splitlines() if "shipped order" in line]
    assert "fillcolor=\"#C2255C\"" in line and "shape=note" in line and "width" not in line


def test_context_view_is_the_same_whatever_the_hash_seed() -> None:
    code = ("from modeling import load_model; from modeling.diagram import to_dot; "
            f"print(to_dot(load_model({str(CLERK)!r}).model, context='Returns'))")
    outputs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True, env={"PYTHONHASHSEED": seed}).stdout
               for seed in ("1", "2", "3")}
    assert len(outputs) == 1
