"""The model's flow diagram for the catalog: Graphviz's SVG, sanitized, each node a link.

The SVG comes from `modeling.diagram.render` (the same picture `aether-gen diagram`
draws). It is not pasted into pages as it is: it is parsed and written out again from
an allow-list of SVG elements and presentation attributes, so whatever a model's text
made Graphviz emit (an HTML-like label's ``<a href="javascript:...">``, say) can only
reach the page as escaped text. Graphviz names each node after its DOT id
(``<g class="node"><title>n7</title>``); DOT ids number the flow graph's nodes in order,
which is how a node finds its element's page.

Context pages show this same drawing cropped to their context's cluster (the whole flow
stays one pan away), so the catalog renders one deterministic drawing per model.
"""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from html import escape
from typing import Any

from codegen.catalog_site import KINDS, Site, clean
from modeling.diagram import DiagramError, render
from modeling.graph import build_graph
from modeling.types import Model

_SVG = "{http://www.w3.org/2000/svg}"
_KEEP = {"svg", "g", "title", "text", "tspan", "polygon", "polyline", "path", "ellipse",
         "circle", "line", "rect"}
_UNWRAP = {"a"}  # Graphviz links (from HTML-like labels): keep what they draw, not the link
_ATTRIBUTES = {"class", "fill", "stroke", "stroke-width", "stroke-dasharray", "stroke-opacity",
               "fill-opacity", "points", "d", "x", "y", "cx", "cy", "rx", "ry", "x1", "y1",
               "x2", "y2", "width", "height", "transform", "text-anchor", "font-family",
               "font-size", "font-weight", "font-style", "text-decoration", "baseline-shift"}
_SAFE_VALUE = re.compile(r"[\w\s#.,%+\-()]*", re.ASCII)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


@dataclass
class Diagram:
    """A sanitized flow drawing: ``markup(root)`` is the inner SVG with links relative to a
    page ``root`` ("" or "../"); ``view_box`` shows it all, ``focus`` one context's cluster."""

    view_box: str
    parts: list[tuple[str, str]]  # (markup, href to prefix with the page's root or "")
    focus: dict[str, str] = field(default_factory=dict)
    linked: int = 0

    def markup(self, root: str) -> str:
        return "".join(text + (escape(root + href) if href else "") for text, href in self.parts)


def flow_diagram(model: Model, site: Site) -> Diagram | str:
    """The linked drawing, or a sentence saying why there is none."""
    graph = build_graph(model)
    drawn = [model.name, *(str(graph.nodes[n][key]) for n in graph for key in ("label",
                                                                              "context"))]
    if all(_defang(text) == text for text in drawn):  # nothing Graphviz is known to choke on
        try:
            return _Writer(model, site).write(render(model, "svg"))
        except (DiagramError, UnicodeError, ValueError, ET.ParseError) as error:
            if shutil.which("dot") is None:
                return clean(str(error))
    # Text Graphviz cannot take as it is (NUL, HTML-like `<...>` labels, lone surrogates,
    # control characters it copies into invalid XML): draw it defanged. The pages show
    # every text exactly; the drawing is a map.
    try:
        drawable = Model.model_validate(_defang(model.model_dump(by_alias=True)))
        return _Writer(model, site).write(render(drawable, "svg"))
    except (DiagramError, UnicodeError, ValueError, ET.ParseError) as error:
        return clean(f"the flow diagram could not be drawn: {error}")


def _defang(value: Any) -> Any:
    if isinstance(value, str):
        return clean(value).replace("<", "\u2039").replace(">", "\u203a")
    if isinstance(value, dict):
        return {key: _defang(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_defang(item) for item in value]
    return value


class _Writer:
    def __init__(self, model: Model, site: Site) -> None:
        graph = build_graph(model)
        self.nodes: dict[str, tuple[str, str, str]] = {}  # DOT id -> (title, href, context)
        for number, node in enumerate(graph.nodes, start=1):
            data = graph.nodes[node]
            self.nodes[f"n{number}"] = self._target(site, data["kind"], data["name"],
                                                    data["label"], data["context"])
            for copy in range(1, len(data["contexts"])):  # an actor drawn in more contexts
                self.nodes[f"n{number}_{copy}"] = self.nodes[f"n{number}"]
        contexts = list(dict.fromkeys(c for _, data in graph.nodes(data=True)
                                      for c in data["contexts"]))
        self.clusters = {f"cluster_{n}": name for n, name in enumerate(contexts)}
        self.site = site
        self.parts: list[tuple[str, str]] = []
        self.focus: dict[str, str] = {}
        self.linked = 0
        self.offset = (0.0, 0.0)
        self._title_override: str | None = None

    @staticmethod
    def _target(site: Site, kind: str, name: str, label: str,
                context: str) -> tuple[str, str, str]:
        if kind == "hot_spot":
            page = site.link("context", context)
            number = name.rsplit("#", 1)[-1]
            return (f"Hot spot: {label}", f"{page.href}#hot-spot-{number}" if page else "",
                    context)
        link = site.link(kind, name)
        return (f"{KINDS[kind][0]}: {name}" if kind in KINDS else name,
                link.href if link else "", context)

    def write(self, svg: bytes) -> Diagram:
        root = ET.fromstring(svg)
        view_box = _numbers(root.get("viewBox", "0 0 100 100"))
        for child in root:
            if _tag(child) == "g" and "graph" in (child.get("class") or "").split():
                translate = re.search(r"translate\(([-\d.]+)[ ,]+([-\d.]+)\)",
                                      child.get("transform", ""))
                if translate:
                    self.offset = (float(translate.group(1)), float(translate.group(2)))
            self._element(child)
        return Diagram(" ".join(_format(n) for n in view_box), self.parts, self.focus,
                       self.linked)

    def _emit(self, text: str, href: str = "") -> None:
        self.parts.append((text, href))

    def _element(self, element: ET.Element) -> None:
        tag = _tag(element)
        if tag in _UNWRAP:
            for child in element:
                self._element(child)
            return
        if tag not in _KEEP:
            return
        classes = (element.get("class") or "").split()
        title = next((c for c in element if _tag(c) == "title"), None)
        dot_id = (title.text or "") if title is not None else ""
        link: tuple[str, str] | None = None
        if "node" in classes and dot_id in self.nodes:
            label, href, _ = self.nodes[dot_id]
            link = (label, href) if href else None
            self._title_override = label
        elif "cluster" in classes and dot_id in self.clusters:
            context = self.clusters[dot_id]
            page = self.site.link("context", context)
            link = (f"Bounded context: {context}", page.href) if page else None
            self._title_override = f"Bounded context: {context}"
            self._cluster_focus(context, element)
        elif "edge" in classes:
            ends = [self.nodes.get(end, ("", "", ""))[0] for end in dot_id.split("->", 1)]
            self._title_override = " \u2192 ".join(ends)
        if link is not None:
            self.linked += 1
            self._emit(f'<a class="flow-link" aria-label="{escape(clean(link[0]))}" href="',
                       link[1])
            self._emit('">')
        attributes = "".join(f' {name}="{escape(value)}"' for name, value
                             in sorted(element.attrib.items())
                             if name in _ATTRIBUTES and _safe(value))
        self._emit(f"<{tag}{attributes}>")
        if tag == "title":
            text = self._title_override or element.text or ""
            self._title_override = None
            self._emit(escape(clean(text)))
        else:
            self._emit(escape(clean(element.text or "")) if tag in ("text", "tspan") else "")
            for child in element:
                self._element(child)
        self._emit(f"</{tag}>")
        if link is not None:
            self._emit("</a>")

    def _cluster_focus(self, context: str, element: ET.Element) -> None:
        numbers = [float(n) for c in element if _tag(c) in ("path", "polygon")
                   for n in _NUMBER.findall(c.get("d") or c.get("points") or "")]
        xs, ys = numbers[0::2], numbers[1::2]
        if xs and ys:
            margin = 16.0
            x, y = min(xs) + self.offset[0] - margin, min(ys) + self.offset[1] - margin
            width, height = max(xs) - min(xs) + 2 * margin, max(ys) - min(ys) + 2 * margin
            self.focus[context] = " ".join(_format(n) for n in (x, y, width, height))


def _tag(element: ET.Element) -> str:
    return element.tag.removeprefix(_SVG) if isinstance(element.tag, str) else ""


def _safe(value: str) -> bool:
    lowered = value.lower()
    return bool(_SAFE_VALUE.fullmatch(value)) and "url" not in lowered \
        and "script" not in lowered and "expression" not in lowered


def _numbers(text: str) -> list[float]:
    return [float(n) for n in _NUMBER.findall(text)][:4] or [0.0, 0.0, 100.0, 100.0]


def _format(number: float) -> str:
    return f"{number:.2f}".rstrip("0").rstrip(".")
