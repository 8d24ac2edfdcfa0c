"""Draw a model's flow: DOT (graphviz), SVG/PNG (rendered by `dot`) and Mermaid.

EventStorming colours: events orange, commands blue, aggregates yellow, policies
lilac, read models green, external systems pink, hot spots red and tilted, actors
small pale yellow. Flow runs left to right, one cluster per bounded context.
Output is deterministic: the same model gives the same text.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from typing import Literal

import graphviz

from modeling.graph import FlowGraph, build_graph
from modeling.types import Model

Format = Literal["dot", "svg", "png", "mermaid"]
FORMATS: tuple[Format, ...] = ("svg", "png", "dot", "mermaid")


@dataclass(frozen=True)
class Style:
    fill: str
    font_size: int = 12
    shape: str = "box"
    font_color: str = "#1a1a1a"


STYLES: dict[str, Style] = {
    "event": Style("#FFA94D"),
    "command": Style("#74C0FC"),
    "aggregate": Style("#FFE066", font_size=14),
    "policy": Style("#D0BFFF"),
    "read_model": Style("#8CE99A"),
    "external_system": Style("#FCC2D7"),
    "hot_spot": Style("#E8590C", font_size=11, shape="polygon", font_color="#ffffff"),
    "actor": Style("#FFF9DB", font_size=10),
}
LEGEND_ORDER = ("actor", "command", "aggregate", "event", "policy", "read_model",
                "external_system", "hot_spot")


class DiagramError(Exception):
    """A diagram could not be rendered; the message says what to install or change."""


def _wrap(text: str, width: int = 22) -> list[str]:
    """Element names break between their words (MarkPaidWhen / PaymentReceived);
    free text (hot spots) between its words."""
    if " " not in text and len(text) > width:
        lines = [""]
        for word in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+|.", text):
            if lines[-1] and len(lines[-1]) + len(word) > width:
                lines.append("")
            lines[-1] += word
        return lines
    return textwrap.wrap(text, width) or [""]


def _subgraph(graph: FlowGraph, context: str | None) -> FlowGraph:
    if context is None:
        return graph
    inside = {n for n, data in graph.nodes(data=True) if data["context"] == context}
    if not inside:
        known = sorted({data["context"] for _, data in graph.nodes(data=True)})
        raise DiagramError(f"no bounded context {context!r}; choose one of {', '.join(known)}")
    around = {m for n in inside for m in [*graph.successors(n), *graph.predecessors(n)]}
    return graph.subgraph(inside | around).copy()


def _contexts(graph: FlowGraph) -> list[str]:
    return list(dict.fromkeys(data["context"] for _, data in graph.nodes(data=True)))


def to_dot(model: Model, context: str | None = None) -> str:
    graph = _subgraph(build_graph(model), context)
    ids = {node: f"n{number}" for number, node in enumerate(graph.nodes, start=1)}
    dot = graphviz.Digraph(model.name, graph_attr={
        "rankdir": "LR", "fontname": "Helvetica", "nodesep": "0.35", "ranksep": "0.7",
        "newrank": "true", "label": dot_text(model.name), "labelloc": "t", "fontsize": "18",
    }, node_attr={"fontname": "Helvetica", "style": "filled", "penwidth": "0",
                  "margin": "0.15,0.08"}, edge_attr={"color": "#555555", "arrowsize": "0.7"})
    for number, name in enumerate(_contexts(graph)):
        focus = context is None or name == context
        with dot.subgraph(name=f"cluster_{number}") as cluster:
            cluster.attr(label=dot_text(name),
                         style="rounded,dashed" if focus else "rounded,dotted",
                         color="#868e96", fontsize="14", fontname="Helvetica-Bold")
            for node, data in graph.nodes(data=True):
                if data["context"] == name:
                    cluster.node(ids[node], **_dot_node_attrs(data["kind"], data["label"]))
    for source, target in graph.edges:
        dot.edge(ids[source], ids[target])
    text: str = dot.source
    return text


def _dot_node_attrs(kind: str, label: str) -> dict[str, str]:
    style = STYLES[kind]
    attrs = {
        "label": dot_text(label),
        "fillcolor": style.fill, "fontsize": str(style.font_size), "shape": style.shape,
        "fontcolor": style.font_color,
    }
    if kind == "hot_spot":
        attrs.update(sides="4", orientation="8", width="1.6")
    if kind == "actor":
        attrs.update(height="0.3")
    if kind == "aggregate":
        attrs.update(height="0.8", width="1.4")
    return attrs


def dot_text(text: str) -> str:
    """Text that stays text inside a DOT label, whatever the model says: unprintable
    characters (NUL, lone surrogates) dropped, backslashes kept from becoming DOT escapes
    (graphviz.escape), and the whole marked nohtml so text written as ``<...>`` is never
    read as an HTML label (whose attributes could add links or scripts to an SVG)."""
    lines = ["".join(char for char in line if char.isprintable()) for line in _wrap(text)]
    marked: str = graphviz.nohtml("\\n".join(graphviz.escape(line) for line in lines))
    return marked


def render(model: Model, fmt: Format, context: str | None = None) -> bytes:
    """The diagram in ``fmt``; SVG and PNG need Graphviz's ``dot`` program."""
    if fmt == "mermaid":
        return to_mermaid(model, context).encode()
    source = to_dot(model, context)
    if fmt == "dot":
        return source.encode()
    try:
        image: bytes = graphviz.Source(source).pipe(format=fmt)
        return image
    except graphviz.ExecutableNotFound:
        raise DiagramError(
            f"rendering {fmt.upper()} needs Graphviz's `dot` program, which is not installed: "
            f"install it (Debian/Ubuntu: apt-get install graphviz; macOS: brew install "
            f"graphviz), or ask for --format dot or --format mermaid"
        ) from None
    except graphviz.CalledProcessError as exc:
        raise DiagramError(f"graphviz failed to render the diagram: {exc.stderr!r}") from exc


_MERMAID_ESCAPES = {"&": "#38;", "#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;",
                    "`": "#96;", "\\": "#92;", "|": "#124;"}


def mermaid_text(text: str) -> str:
    """Text that stays text inside a Mermaid label, whatever the model says."""
    lines = ["".join(_MERMAID_ESCAPES.get(char, char) for char in line if char.isprintable())
             for line in _wrap(text, 28)]
    return "<br/>".join(lines)


def to_mermaid(model: Model, context: str | None = None) -> str:
    graph = _subgraph(build_graph(model), context)
    ids = {node: f"n{number}" for number, node in enumerate(graph.nodes, start=1)}
    lines = ["flowchart LR"]
    for kind in LEGEND_ORDER:
        style = STYLES[kind]
        lines.append(f"  classDef {kind} fill:{style.fill},stroke:#495057,"
                     f"color:{style.font_color}")
    for number, name in enumerate(_contexts(graph)):
        lines.append(f'  subgraph ctx{number}["{mermaid_text(name)}"]')
        for node, data in graph.nodes(data=True):
            if data["context"] == name:
                open_, close = ("[/", "/]") if data["kind"] == "hot_spot" else ("[", "]")
                lines.append(f'    {ids[node]}{open_}"{mermaid_text(data["label"])}"{close}'
                             f':::{data["kind"]}')
        lines.append("  end")
    for source, target in graph.edges:
        lines.append(f"  {ids[source]} --> {ids[target]}")
    return "\n".join(lines) + "\n"
