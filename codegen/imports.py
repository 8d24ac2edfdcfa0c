"""What one generated module imports, and the import lines that say so.

Generated code names everything that is not a model element through a lowercase module
binding: ``kit.EventPayload`` (``from aether import kit``), ``decimal.Decimal``,
``typing.ClassVar``. Model element names are PascalCase and unique, so nothing a model
declares can clash with an import; model classes are imported by name from the
package's own modules.

A piece of generated text carries what it needs (``Code``); a module's ``Imports``
collects the needs of the pieces it places, so each import is decided once, by the text
that uses it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Code:
    """A Python expression and the imports it needs."""

    text: str
    modules: frozenset[str] = frozenset()  # standard-library modules, e.g. "decimal"
    kit: bool = False  # uses aether.kit
    types: frozenset[str] = frozenset()  # model value objects and enums it names


@dataclass
class Imports:
    """The imports of one generated module."""

    modules: set[str] = field(default_factory=set)
    kit: bool = False
    local: dict[str, set[str]] = field(default_factory=dict)

    def use(self, code: Code, types_module: str | None = ".types") -> str:
        """Record what ``code`` needs; returns its text."""
        self.modules |= code.modules
        self.kit = self.kit or code.kit
        if types_module is not None:
            for name in code.types:
                self.add_local(types_module, name)
        return code.text

    def add_local(self, module: str, name: str) -> None:
        self.local.setdefault(module, set()).add(name)

    def lines(self) -> list[str]:
        """Import blocks in isort order: standard library, aether, the package itself."""
        blocks: list[str] = []
        if self.modules:
            blocks.append("\n".join(f"import {module}"
                                     for module in sorted(self.modules, key=natural)))
        if self.kit:
            blocks.append("from aether import kit")
        if self.local:
            blocks.append("\n".join(
                f"from {module} import {', '.join(sorted(names, key=member_order))}"
                for module, names in sorted(self.local.items(),
                                            key=lambda item: _relative_key(item[0]))))
        return blocks


Natural = tuple[tuple[int, int | str], ...]


def natural(text: str) -> Natural:
    """Ruff's isort compares names naturally: Happened2 before Happened10."""
    return tuple((0, int(part)) if part.isdigit() else (1, part)
                 for part in re.split(r"(\d+)", text) if part)


def _relative_key(module: str) -> tuple[int, Natural, Natural]:
    # isort puts deeper relative imports (..x) before shallower ones (.x).
    dots = len(module) - len(module.lstrip("."))
    name = module.lstrip(".")
    return (-dots, natural(name.lower()), natural(name))


def _kind(name: str) -> int:
    return 0 if name.isupper() and len(name) > 1 else 1 if name[:1].isupper() else 2


def export_order(name: str) -> tuple[int, Natural]:
    """Ruff's RUF022 order of ``__all__``: by the same kinds, then naturally, case
    sensitive (unlike import members)."""
    return (_kind(name), natural(name))


def member_order(name: str) -> tuple[int, Natural, Natural]:
    """isort's order-by-type: CONSTANTS, then Classes, then everything else; each
    compared case-insensitively first, naturally."""
    return (_kind(name), natural(name.lower()), natural(name))
