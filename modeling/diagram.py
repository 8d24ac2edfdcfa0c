"""Draw a model's flow: DOT (graphviz), SVG/PNG (rendered by `dot`) and Mermaid.

EventStorming colours: events orange, commands blue, aggregates yellow, policies
lilac, read models green, external systems pink, hot spots red-violet, actors
small pale yellow. Flow runs left to right, one cluster per bounded context.
Output is deterministic: the same model gives the same text.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from typing import Literal

import graphviz

from modeling.context_map import Link, relationships
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
    # The conventional hot-spot sticky: red-violet, unlike any other kind, and as large
    # as its text (a note shape: a problem written down, not an element of the flow).
    "hot_spot": Style("#C2255C", font_size=11, shape="note", font_color="#ffffff"),
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
    inside = {n for n, data in graph.nodes(data=True) if context in data["contexts"]}
    if not inside:
        known = sorted({c for _, data in graph.nodes(data=True) for c in data["contexts"]})
        raise DiagramError(f"no bounded context {context!r}; choose one of {', '.join(known)}")
    # Neighbours of the context's elements, but not of its actors: what an actor does in
    # other contexts is theirs to show.
    around = {m for n in inside if graph.nodes[n]["kind"] != "actor"
              for m in [*graph.successors(n), *graph.predecessors(n)]}
    # Built in the graph's order (networkx's subgraph view would follow the set's hash
    # order, so a drawing changed with PYTHONHASHSEED).
    keep = inside | around
    part: FlowGraph = graph.__class__(**graph.graph)
    part.add_nodes_from((n, {**data, "contexts": [context] if context in data["contexts"]
                             else data["contexts"][:1]})
                        for n, data in graph.nodes(data=True) if n in keep)
    part.add_edges_from((a, b, data) for a, b, data in graph.edges(data=True)
                        if a in keep and b in keep)
    return part


@dataclass(frozen=True)
class _Placed:
    """Where each node is drawn: one box per context that declares it (an actor working
    in two contexts stands in both), and which box an edge starts or ends at."""

    ids: dict[tuple[str, str], str]
    contexts: list[str]

    @staticmethod
    def of(graph: FlowGraph) -> _Placed:
        ids: dict[tuple[str, str], str] = {}
        for number, node in enumerate(graph.nodes, start=1):
            for copy, name in enumerate(graph.nodes[node]["contexts"]):
                ids[(node, name)] = f"n{number}" if copy == 0 else f"n{number}_{copy}"
        contexts = list(dict.fromkeys(name for _, name in ids))
        return _Placed(ids, contexts)

    def end(self, graph: FlowGraph, node: str, other: str) -> str:
        """The box of ``node`` an edge to or from ``other`` meets: the one in ``other``'s
        context when ``node`` is drawn there, else its first."""
        contexts = graph.nodes[node]["contexts"]
        near = graph.nodes[other]["context"]
        return self.ids[(node, near if near in contexts else contexts[0])]


def to_dot(model: Model, context: str | None = None) -> str:
    graph = _subgraph(build_graph(model), context)
    placed = _Placed.of(graph)
    dot = graphviz.Digraph(model.name, graph_attr={
        "rankdir": "LR", "fontname": "Helvetica", "nodesep": "0.35", "ranksep": "0.7",
        "newrank": "true", "label": dot_text(model.name), "labelloc": "t", "fontsize": "18",
    }, node_attr={"fontname": "Helvetica", "style": "filled", "penwidth": "0",
                  "margin": "0.15,0.08"}, edge_attr={"color": "#555555", "arrowsize": "0.7"})
    for number, name in enumerate(placed.contexts):
        focus = context is None or name == context
        with dot.subgraph(name=f"cluster_{number}") as cluster:
            cluster.attr(label=dot_text(name),
                         style="rounded,dashed" if focus else "rounded,dotted",
                         color="#868e96", fontsize="14", fontname="Helvetica-Bold")
            # Left to right, dot stacks what comes first at the bottom: nodes and edges go
            # in reversed, so commands and an aggregate's events read in the model's (time)
            # order from the top wherever crossing fewer edges allows it (graphviz 2.43
            # ignores `ordering` and invisible same-rank chains inside clusters), and the
            # same model gives the same picture.
            for node in list(graph.nodes)[::-1]:
                data = graph.nodes[node]
                if name in data["contexts"]:
                    cluster.node(placed.ids[(node, name)],
                                 **_dot_node_attrs(data["kind"], data["label"]))
    for source, target, data in list(graph.edges(data=True))[::-1]:
        # A policy consulting a read model is drawn dashed: it is read, not set off.
        dot.edge(placed.end(graph, source, target), placed.end(graph, target, source),
                 **({"style": "dashed"} if data.get("reads") else {}))
    _dot_relationships(dot, model, placed)
    text: str = dot.source
    return text


RELATIONSHIP_COLOR = "#1864AB"


def _drawn_links(model: Model, placed: _Placed) -> list[tuple[int, int, Link]]:
    """The context map's relationships whose two contexts are both drawn, as (upstream's
    cluster number, downstream's, the relationship)."""
    number = {name: i for i, name in enumerate(placed.contexts)}
    return [(number[link.first], number[link.second], link) for link in relationships(model)
            if link.first in number and link.second in number]


def _dot_relationships(dot: graphviz.Digraph, model: Model, placed: _Placed) -> None:
    """One bold edge from the upstream context's box to the downstream's (a plain line for
    a symmetric relationship), labelled with its kind and Context Mapper's U/D marks. It
    joins a node of each cluster, clipped to the boxes (compound edges), and does not
    move the layout (constraint=false): the flow decides where things stand."""
    drawn = _drawn_links(model, placed)
    if not drawn:
        return
    dot.attr(compound="true")
    first = {name: next(node_id for (_, where), node_id in placed.ids.items() if where == name)
             for name in placed.contexts}
    for tail, head, link in drawn:
        attrs = {"ltail": f"cluster_{tail}", "lhead": f"cluster_{head}",
                 "label": dot_text(link.words), "style": "bold", "penwidth": "2",
                 "color": RELATIONSHIP_COLOR, "fontcolor": RELATIONSHIP_COLOR,
                 "fontname": "Helvetica-Bold", "fontsize": "11", "constraint": "false",
                 "taillabel": dot_text(link.marks("upstream")),
                 "headlabel": dot_text(link.marks("downstream"))}
        if link.symmetric:
            attrs["dir"] = "none"
        dot.edge(first[link.first], first[link.second], **attrs)


def _dot_node_attrs(kind: str, label: str) -> dict[str, str]:
    style = STYLES[kind]
    attrs = {
        "label": dot_text(label),
        "fillcolor": style.fill, "fontsize": str(style.font_size), "shape": style.shape,
        "fontcolor": style.font_color,
    }
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
    placed = _Placed.of(graph)
    lines = ["flowchart LR"]
    for kind in LEGEND_ORDER:
        style = STYLES[kind]
        lines.append(f"  classDef {kind} fill:{style.fill},stroke:#495057,"
                     f"color:{style.font_color}")
    for number, name in enumerate(placed.contexts):
        lines.append(f'  subgraph ctx{number}["{mermaid_text(name)}"]')
        for node, data in graph.nodes(data=True):
            if name in data["contexts"]:
                open_, close = ("[/", "/]") if data["kind"] == "hot_spot" else ("[", "]")
                lines.append(f'    {placed.ids[(node, name)]}{open_}'
                             f'"{mermaid_text(data["label"])}"{close}:::{data["kind"]}')
        lines.append("  end")
    for source, target, data in graph.edges(data=True):
        arrow = "-.->" if data.get("reads") else "-->"
        lines.append(f"  {placed.end(graph, source, target)} {arrow} "
                     f"{placed.end(graph, target, source)}")
    # The context map: a thick arrow upstream -> downstream (a thick line for a symmetric
    # relationship) between the context subgraphs.
    for tail, head, link in _drawn_links(model, placed):
        label = mermaid_text(link.words if link.symmetric else
                             f"{link.marks('upstream')} {link.words} {link.marks('downstream')}")
        arrow = "===" if link.symmetric else "==>"
        lines.append(f'  ctx{tail} {arrow}|"{label}"| ctx{head}')
    return "\n".join(lines) + "\n"
