"""Model field types -> Python annotations, defaults and sample values for generated code."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import JsonValue

from codegen.pysource import constant, literal
from modeling.typeexpr import DictOf, ListOf, Named, Optional, Primitive, TypeExpr, parse_type
from modeling.types import EnumType, FieldSpec, ValueObject

_ANNOTATIONS = {
    "str": "str", "int": "int", "float": "float", "bool": "bool", "decimal": "Decimal",
    "datetime": "datetime", "date": "date", "uuid": "UUID", "bytes": "JsonBytes",
}
_STDLIB_IMPORTS = {
    "decimal": ("decimal", "Decimal"), "datetime": ("datetime", "datetime"),
    "date": ("datetime", "date"), "uuid": ("uuid", "UUID"),
}
_SAMPLES: dict[str, JsonValue] = {
    "str": "text", "int": 1, "float": 1.5, "bool": True, "decimal": "12.50",
    "datetime": "2026-01-31T12:00:00+00:00", "date": "2026-01-31",
    "uuid": "00000000-0000-4000-8000-000000000001", "bytes": "AAEC/w==",
}
# State fields start at these values when the model gives no default.
_ZEROS = {"str": '""', "int": "0", "float": "0.0", "bool": "False", "decimal": "Decimal(0)",
          "bytes": 'b""'}


@dataclass
class Imports:
    """What one generated module needs: stdlib names, aether.kit names, local types."""

    stdlib: set[tuple[str, str]] = field(default_factory=set)
    plain: set[str] = field(default_factory=set)  # `import asyncio`
    kit: set[str] = field(default_factory=set)
    local: dict[str, set[str]] = field(default_factory=dict)

    def add_local(self, module: str, name: str) -> None:
        self.local.setdefault(module, set()).add(name)

    def lines(self) -> list[str]:
        """Import statements in ruff/isort order (stdlib, aether, relative)."""
        blocks: list[list[str]] = []
        modules: dict[str, set[str]] = {}
        for module, name in self.stdlib:
            modules.setdefault(module, set()).add(name)
        if modules or self.plain:
            # isort order: plain `import x` lines first, then `from x import y`.
            blocks.append([f"import {module}" for module in sorted(self.plain)] +
                          [_from(module, names) for module, names in sorted(modules.items())])
        if self.kit:
            blocks.append([_from("aether.kit", self.kit)])
        if self.local:
            blocks.append([_from(module, names) for module, names in
                           sorted(self.local.items(), key=lambda item: _relative_key(item[0]))])
        return ["\n".join(block) for block in blocks]


def _relative_key(module: str) -> tuple[int, str]:
    # isort puts deeper relative imports (..x) before shallower ones (.x).
    dots = len(module) - len(module.lstrip("."))
    return (-dots, module.lstrip("."))


def member_order(name: str) -> tuple[int, str]:
    """isort's order-by-type: CONSTANTS, then Classes, then everything else."""
    if name.isupper() and len(name) > 1:
        return (0, name)
    return (1, name) if name[:1].isupper() else (2, name)


def _from(module: str, names: set[str]) -> str:
    ordered = sorted(names, key=member_order)
    line = f"from {module} import {', '.join(ordered)}"
    if len(line) <= 100:
        return line
    inner = "".join(f"    {name},\n" for name in ordered)
    return f"from {module} import (\n{inner})"


@dataclass(frozen=True)
class Types:
    """The model's declared value objects and enums, for mapping named types."""

    value_objects: dict[str, ValueObject]
    enums: dict[str, EnumType]


def annotation(expr: TypeExpr, imports: Imports, types_module: str | None) -> str:
    if isinstance(expr, Primitive):
        if expr.name in _STDLIB_IMPORTS:
            imports.stdlib.add(_STDLIB_IMPORTS[expr.name])
        if expr.name == "bytes":
            imports.kit.add("JsonBytes")
        return _ANNOTATIONS[expr.name]
    if isinstance(expr, ListOf):
        return f"list[{annotation(expr.item, imports, types_module)}]"
    if isinstance(expr, DictOf):
        return f"dict[str, {annotation(expr.value, imports, types_module)}]"
    if isinstance(expr, Optional):
        return f"{annotation(expr.inner, imports, types_module)} | None"
    assert isinstance(expr, Named)
    if types_module is not None:
        imports.add_local(types_module, expr.name)
    return expr.name


def default_expression(spec: FieldSpec, expr: TypeExpr, types: Types, imports: Imports,
                       types_module: str | None, indent: int) -> str:
    """Python source for a declared default, typed exactly (no validation needed)."""
    value = spec.default
    if value is None:
        return "None"
    if isinstance(expr, Optional):
        expr = expr.inner
    if isinstance(expr, Primitive):
        return _primitive_default(expr.name, value, imports)
    if isinstance(expr, Named) and expr.name in types.enums:
        return f"{expr.name}.{constant(str(value))}"
    # Containers and value objects: pydantic validates (and copies) the JSON default.
    imports.kit.add("Field")
    return (f"Field(\n{' ' * (indent + 4)}default={literal(value, indent + 4)},\n"
            f"{' ' * (indent + 4)}validate_default=True,\n{' ' * indent})")


def _primitive_default(name: str, value: JsonValue, imports: Imports) -> str:
    if name == "decimal":
        imports.stdlib.add(("decimal", "Decimal"))
        return f"Decimal({str(value)!r})"
    if name == "datetime":
        imports.stdlib.add(("datetime", "datetime"))
        return f"datetime.fromisoformat({str(value)!r})"
    if name == "date":
        imports.stdlib.add(("datetime", "date"))
        return f"date.fromisoformat({str(value)!r})"
    if name == "uuid":
        imports.stdlib.add(("uuid", "UUID"))
        return f"UUID({str(value)!r})"
    if name == "bytes":
        return f"{str(value).encode()!r}"
    if name == "float" and isinstance(value, int):
        return repr(float(value))
    return literal(value)


def zero_expression(expr: TypeExpr, imports: Imports) -> str | None:
    """The value a state field starts at when the model gives none (None: make it Optional)."""
    if isinstance(expr, Optional):
        return "None"
    if isinstance(expr, Primitive) and expr.name in _ZEROS:
        if expr.name == "decimal":
            imports.stdlib.add(("decimal", "Decimal"))
        return _ZEROS[expr.name]
    if isinstance(expr, ListOf | DictOf):
        imports.kit.add("Field")
        return f"Field(default_factory={'list' if isinstance(expr, ListOf) else 'dict'})"
    return None


def sample(expr: TypeExpr, types: Types, depth: int = 0) -> JsonValue:
    """A JSON value that fits ``expr``, for generated round-trip tests."""
    if isinstance(expr, Optional):
        return sample(expr.inner, types, depth)
    if isinstance(expr, Primitive):
        return _SAMPLES[expr.name]
    if isinstance(expr, ListOf):
        return [sample(expr.item, types, depth + 1)] if depth < 4 else []
    if isinstance(expr, DictOf):
        return {"key": sample(expr.value, types, depth + 1)} if depth < 4 else {}
    assert isinstance(expr, Named)
    if expr.name in types.enums:
        return types.enums[expr.name].values[0]
    fields = types.value_objects[expr.name].fields
    return {name: sample(parse_type(spec.type), types, depth + 1)
            for name, spec in fields.items()
            if not (depth >= 4 and (spec.has_default or spec.type.endswith("None")))}
