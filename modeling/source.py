"""Where model elements came from, and the diagnostics that point back there."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Path = tuple[str | int, ...]
"""A path into the model's data: ("contexts", 0, "aggregates", 1, "fields", "sku")."""

Severity = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Location:
    file: str
    line: int  # 1-based
    column: int  # 1-based

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass
class SourceMap:
    """Locations of values and of mapping keys, by path. Lookups fall back to the
    nearest ancestor, so every path has some location."""

    file: str
    values: dict[Path, Location] = field(default_factory=dict)
    keys: dict[Path, Location] = field(default_factory=dict)

    def locate(self, path: Path, at_key: bool = False) -> Location:
        probe = path
        while True:
            if at_key and probe in self.keys:
                return self.keys[probe]
            if probe in self.values:
                return self.values[probe]
            if probe in self.keys:
                return self.keys[probe]
            if not probe:
                return Location(self.file, 1, 1)
            probe = probe[:-1]


@dataclass(frozen=True, order=True)
class Diagnostic:
    location: Location
    severity: Severity
    message: str
    code: str = ""

    def __str__(self) -> str:
        return one_line(f"{self.location}: {self.severity}: {self.message}")


def one_line(text: str) -> str:
    """``text`` with every character that is not printable (a line break, a control or bidi
    character) written as its escape: a name from the model quoted raw in a message can
    then neither start a line that reads as another diagnostic nor reorder the terminal's
    text, whichever message forgot to quote it."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in text)


class ModelError(Exception):
    """A model could not be loaded or is invalid; carries every diagnostic found."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = sorted(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]
