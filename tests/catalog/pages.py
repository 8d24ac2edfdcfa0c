"""Reading a catalog back as a browser would: tags, attributes, links and visible text."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from modeling.types import Model

ROOT = Path(__file__).resolve().parents[2]
MODELS = {
    "orders": ROOT / "examples" / "orders" / "model.yaml",
    "library": ROOT / "examples" / "library" / "model.py",
    "rich": ROOT / "tests" / "codegen" / "models" / "rich.yaml",
    "hostile": Path(__file__).resolve().parent / "models" / "hostile.yaml",
    "unruly": Path(__file__).resolve().parent / "models" / "unruly.yaml",
}


@dataclass
class ParsedPage(HTMLParser):
    tags: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    h1: str = ""
    _in_h1: bool = False

    def __post_init__(self) -> None:
        super().__init__(convert_charrefs=True)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        self.tags.append((tag, values))
        if "id" in values:
            self.ids.add(values["id"])
        self._in_h1 = self._in_h1 or tag == "h1"

    def handle_endtag(self, tag: str) -> None:
        if tag == "h1":
            self._in_h1 = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._in_h1:
            self.h1 += data

    @property
    def all_text(self) -> str:
        return "".join(self.text)


def parse(content: bytes) -> ParsedPage:
    page = ParsedPage()
    page.feed(content.decode("utf-8"))
    page.close()
    return page


def expected_pages(model: Model) -> set[tuple[str, str]]:
    """(kind, name) of every element the issue asks a page for."""
    found: set[tuple[str, str]] = set()
    for context in model.contexts:
        found.add(("Bounded context", context.name))
        found.update(("Actor", a.name) for a in context.actors)
        found.update(("Value object", v.name) for v in context.value_objects)
        found.update(("Enum", e.name) for e in context.enums)
        for aggregate in context.aggregates:
            found.add(("Aggregate", aggregate.name))
            found.update(("Command", c.name) for c in aggregate.commands)
            found.update(("Event", e.name) for e in aggregate.events)
        found.update(("Event", e.name) for e in context.events)
        found.update(("Policy", p.name) for p in context.policies)
        found.update(("Read model", r.name) for r in context.read_models)
        found.update(("External system", s.name) for s in context.external_systems)
    return found
