"""Where each model element lives in a catalog: its kind, its page and its links.

Every element kind the catalog shows gets a directory; every element a page whose file
name is a slug of its name. Slugs are lowercase ASCII so a catalog copied to a
case-insensitive file system (macOS, Windows) keeps one file per element: names that
slug alike (``HttpServer``/``HTTPServer``, or names that are not identifiers at all in a
model built without validation) get a short hash of the exact name appended, decided
from the whole model so the same model always gives the same paths.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from modeling.names import snake_case
from modeling.types import Model

# kind -> (singular heading, plural heading, directory)
KINDS: dict[str, tuple[str, str, str]] = {
    "context": ("Bounded context", "Bounded contexts", "contexts"),
    "aggregate": ("Aggregate", "Aggregates", "aggregates"),
    "command": ("Command", "Commands", "commands"),
    "event": ("Event", "Events", "events"),
    "policy": ("Policy", "Policies", "policies"),
    "read_model": ("Read model", "Read models", "read-models"),
    "external_system": ("External system", "External systems", "external-systems"),
    "actor": ("Actor", "Actors", "actors"),
    "value_object": ("Value object", "Value objects", "types"),
    "enum": ("Enum", "Enums", "types"),
}

_UNSAFE = re.compile(r"[^a-z0-9]+")
# Control characters, lone surrogates, and the bidirectional controls (embeddings and
# overrides U+202A-U+202E, isolates U+2066-U+2069, the marks U+200E, U+200F, U+061C): a
# model's text must not reorder the page text around it, as an unclosed U+202E would.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff"
                      r"\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def clean(text: str) -> str:
    """Text a page can always show and encode, and that stays in its place: control and
    bidirectional control characters and lone surrogates become visible ``\\xNN`` /
    ``\\uNNNN`` marks instead of vanishing, failing or reversing the text after them."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                        else f"\\u{ord(m.group()):04x}", text)


@dataclass(frozen=True)
class Link:
    """A link to an element's page; ``href`` is relative to the catalog's root."""

    kind: str
    name: str
    href: str
    context: str = ""

    @property
    def kind_label(self) -> str:
        return KINDS[self.kind][0]


@dataclass
class Site:
    """The address of every element of one model."""

    links: dict[tuple[str, str], Link] = field(default_factory=dict)

    def link(self, kind: str, name: str) -> Link | None:
        return self.links.get((kind, name))

    def named(self, name: str) -> Link | None:
        """The element called ``name`` whatever its kind (names are unique in a valid model,
        but an actor may share its name with an element: the element is meant, as in the
        flow diagram; hot spots' ``about`` and scenario messages refer to elements so)."""
        found = [link for (_, n), link in self.links.items() if n == name]
        return min(found, key=lambda link: link.kind == "actor", default=None)

    def of_kind(self, kind: str) -> list[Link]:
        return sorted((link for (k, _), link in self.links.items() if k == kind),
                      key=lambda link: (link.name.lower(), link.name))


def elements(model: Model) -> list[tuple[str, str, str]]:
    """(kind, name, context) of every element with a page, in model order; an element
    listed in several contexts (an actor, say) belongs to the first."""
    found: dict[tuple[str, str], str] = {}
    for context in model.contexts:
        entries = [("context", context.name)]
        entries += [("actor", actor.name) for actor in context.actors]
        entries += [("value_object", vo.name) for vo in context.value_objects]
        entries += [("enum", enum.name) for enum in context.enums]
        for aggregate in context.aggregates:
            entries.append(("aggregate", aggregate.name))
            entries += [("command", command.name) for command in aggregate.commands]
            entries += [("event", event.name) for event in aggregate.events]
        entries += [("event", event.name) for event in context.events]
        entries += [("policy", policy.name) for policy in context.policies]
        entries += [("read_model", rm.name) for rm in context.read_models]
        entries += [("external_system", system.name) for system in context.external_systems]
        for kind, name in entries:
            found.setdefault((kind, name), context.name)
    return [(kind, name, context) for (kind, name), context in found.items()]


def build_site(model: Model) -> Site:
    by_directory: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    for kind, name, context in elements(model):
        key = (KINDS[kind][2], _slug(name))
        by_directory.setdefault(key, []).append((kind, name, context))
    site = Site()
    for (directory, slug), members in by_directory.items():
        for kind, name, context in members:
            # Plain slugs never contain "_", so a suffixed one cannot meet a plain one.
            unique = slug if len(members) == 1 else f"{slug}_{_digest(kind, name)}"
            site.links[(kind, name)] = Link(kind, name, f"{directory}/{unique}.html", context)
    return site


def _slug(name: str) -> str:
    """PlaceOrder -> place-order: readable, lowercase, ASCII, bounded."""
    return _UNSAFE.sub("-", snake_case(name).lower()).strip("-")[:60] or "element"


def _digest(kind: str, name: str) -> str:
    data = f"{kind}\0{name}".encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()[:10]
