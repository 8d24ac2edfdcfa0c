"""The context map drawn: an edge between context boxes, labelled with kind and U/D marks."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from modeling import Model, load_model
from modeling.diagram import RELATIONSHIP_COLOR, render, to_dot, to_mermaid

ORDERS = Path(__file__).resolve().parents[2] / "examples" / "orders" / "model.yaml"
SVG = "{http://www.w3.org/2000/svg}"
Box = tuple[float, float, float, float]  # left, right, top, bottom


def _points(text: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in re.findall(r"(-?[\d.]+),(-?[\d.]+)", text)]


def boxes(root: ET.Element) -> dict[str, Box]:
    found = {}
    for group in root.iter(f"{SVG}g"):
        if group.get("class") == "cluster":
            outline = group.find(f"{SVG}path")
            outline = outline if outline is not None else group.find(f"{SVG}polygon")
            assert outline is not None
            points = _points(outline.get("d") or outline.get("points") or "")
            xs, ys = [x for x, _ in points], [y for _, y in points]
            found[group.findtext(f"{SVG}text") or ""] = (min(xs), max(xs), min(ys), max(ys))
    return found


def on_border(point: tuple[float, float], box: Box, slack: float = 3.0) -> bool:
    x, y = point
    left, right, top, bottom = box
    inside = left - slack <= x <= right + slack and top - slack <= y <= bottom + slack
    return inside and min(abs(x - left), abs(x - right), abs(y - top), abs(y - bottom)) <= slack


def relationship_edges(model: Model) -> list[tuple[list[str], str, bool, ET.Element]]:
    """Each edge drawn in the relationship colour: its texts, the colour, whether it has an
    arrowhead, and the group."""
    root = ET.fromstring(render(model, "svg"))
    found = []
    for group in root.iter(f"{SVG}g"):
        path = group.find(f"{SVG}path")
        if group.get("class") == "edge" and path is not None \
                and path.get("stroke") == RELATIONSHIP_COLOR.lower():
            texts = [t.text or "" for t in group.findall(f"{SVG}text")]
            found.append((texts, path.get("d") or "", group.find(f"{SVG}polygon") is not None,
                          group))
    return found


def test_svg_draws_upstream_to_downstream_between_the_context_boxes() -> None:
    model = load_model(ORDERS).model
    ((texts, path, arrow, group),) = relationship_edges(model)
    assert sorted(texts) == ["D,C,ACL", "U,S,PL", "customer/supplier"]
    assert arrow  # upstream -> downstream
    root = ET.fromstring(render(model, "svg"))
    sales, shipping = boxes(root)["Sales"], boxes(root)["Shipping"]
    start = _points(path)[0]
    polygon = group.find(f"{SVG}polygon")
    assert polygon is not None
    tip = min(_points(polygon.get("points") or ""),
              key=lambda p: min(abs(p[0] - shipping[0]), abs(p[1] - shipping[2])))
    # Clipped to the boxes (a compound edge), not drawn between two stickies inside them.
    assert on_border(start, sales) and not on_border(start, shipping)
    assert on_border(tip, shipping) and not on_border(tip, sales)


def shared(tmp_path: Path, extra: str = "") -> Model:
    file = tmp_path / "m.yaml"
    text = ORDERS.read_text()
    text = text[:text.index("context_map:")] + (
        "context_map:\n  - {shared_kernel: [Shipping, Sales], description: one Order type}\n")
    file.write_text(text + extra)
    return load_model(file).model


def test_a_symmetric_relationship_is_a_line_without_arrowhead(tmp_path: Path) -> None:
    ((texts, _, arrow, _),) = relationship_edges(shared(tmp_path))
    assert sorted(texts) == ["SK", "SK", "shared kernel"] and not arrow


def subgraphs(text: str) -> dict[str, str]:
    return dict(re.findall(r'subgraph (ctx\d+)\["([^"]*)"\]', text))


def test_mermaid_links_the_context_subgraphs() -> None:
    model = load_model(ORDERS).model
    for view in (to_mermaid(model), to_mermaid(model, context="Shipping")):
        names = subgraphs(view)
        links = re.findall(r'^  (ctx\d+) (==>|===)\|"([^"]*)"\| (ctx\d+)$', view, re.M)
        assert [(names[a], arrow, label, names[b]) for a, arrow, label, b in links] == [
            ("Sales", "==>", "U,S,PL customer/supplier<br/>D,C,ACL", "Shipping")]


def test_mermaid_symmetric_link_has_no_arrow(tmp_path: Path) -> None:
    view = to_mermaid(shared(tmp_path))
    names = subgraphs(view)
    links = re.findall(r'^  (ctx\d+) (==>|===)\|"([^"]*)"\| (ctx\d+)$', view, re.M)
    assert [(names[a], arrow, label, names[b]) for a, arrow, label, b in links] == [
        ("Shipping", "===", "shared kernel", "Sales")]


def test_a_context_not_drawn_draws_no_relationship(tmp_path: Path) -> None:
    # A context with no elements has no box: its relationship has nothing to join.
    file = tmp_path / "m.yaml"
    file.write_text("model: m\ncontexts: [{name: A}, {name: B, actors: [Clerk]}]\n"
                    "context_map: [{upstream: A, downstream: B}]\n")
    model = load_model(file).model
    assert "lhead" not in to_dot(model) and "==>" not in to_mermaid(model)
