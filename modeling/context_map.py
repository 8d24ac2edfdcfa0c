"""The context map: how a model's bounded contexts relate, in Context Mapper's terms.

A relationship is either upstream/downstream (``upstream_downstream``, or
``customer_supplier`` when the downstream's needs shape the upstream's plans), with roles
on each side -- the upstream may offer an Open Host Service and a Published Language, the
downstream protects itself with an Anticorruption Layer or is a Conformist -- or symmetric:
a Shared Kernel or a Partnership of two contexts.

The map is checked against the flow. A policy or read model in context B that reacts to
(or reads) an event of context A, or a policy in B that issues a command or reads a read
model of context A, makes B depend on A: A must be upstream of B, or share a symmetric
relationship with it.
When the model declares a context map, a crossing it does not account for is an error
(the map is a claim about the system, and a wrong map misleads); a model without one gets
a ``context-crossing`` lint per crossing, so declaring the map is the way to quiet it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass

from modeling.index import Kind, ModelIndex
from modeling.names import short, shown
from modeling.source import Path
from modeling.types import Model, Relationship

Problem = tuple[Path, str, str]
"""(where, message, code), as the other checks of modeling/validate.py yield them."""

UPSTREAM_ROLES = {"open_host_service": "OHS", "published_language": "PL"}
DOWNSTREAM_ROLES = {"anticorruption_layer": "ACL", "conformist": "CF"}
KINDS = ("upstream_downstream", "customer_supplier")
SYMMETRIC = ("shared_kernel", "partnership")
CROSSING_LINT = "context-crossing"

_WORDS = {"upstream_downstream": "upstream/downstream", "customer_supplier":
          "customer/supplier", "shared_kernel": "shared kernel", "partnership": "partnership"}


@dataclass(frozen=True)
class Link:
    """A well-formed relationship: ``first`` is the upstream (or the first of a pair)."""

    kind: str
    first: str
    second: str
    upstream_roles: tuple[str, ...] = ()
    downstream_roles: tuple[str, ...] = ()
    number: int = 0  # 1-based, as messages name it ("relationship 2")

    @property
    def symmetric(self) -> bool:
        return self.kind in SYMMETRIC

    @property
    def words(self) -> str:
        """``customer/supplier``, ``shared kernel``..."""
        return _WORDS[self.kind]

    @property
    def published(self) -> bool:
        """The upstream publishes its events as a contract others rely on."""
        return bool(self.upstream_roles)

    def marks(self, side: str) -> str:
        """Context Mapper's marks for one end: ``U,OHS,PL`` / ``D,ACL`` / ``SK``."""
        if self.kind == "shared_kernel":
            return "SK"
        if self.kind == "partnership":
            return "P"
        supplier = self.kind == "customer_supplier"
        if side == "upstream":
            return ",".join(["U", *(["S"] if supplier else []),
                             *(UPSTREAM_ROLES[r] for r in self.upstream_roles)])
        return ",".join(["D", *(["C"] if supplier else []),
                         *(DOWNSTREAM_ROLES[r] for r in self.downstream_roles)])


def relationships(model: Model) -> list[Link]:
    """The map's well-formed relationships between declared contexts, in model order (a
    malformed one is reported by map_problems and left out here)."""
    contexts = {c.name for c in model.contexts}
    links: list[Link] = []
    for number, relation in enumerate(model.context_map, start=1):
        link = _link(relation, number)
        if link is not None and {link.first, link.second} <= contexts \
                and link.first != link.second:
            links.append(link)
    return links


def _link(relation: Relationship, number: int) -> Link | None:
    pairs = [(kind, names) for kind, names in (("shared_kernel", relation.shared_kernel),
                                                ("partnership", relation.partnership))
             if names is not None]
    directed = relation.upstream is not None or relation.downstream is not None
    if len(pairs) + directed != 1:
        return None
    if pairs:
        kind, names = pairs[0]
        return Link(kind, names[0], names[1], number=number) if len(names) == 2 else None
    if relation.upstream is None or relation.downstream is None:
        return None
    kind = relation.kind or "upstream_downstream"
    if kind not in KINDS:
        return None
    return Link(kind, relation.upstream, relation.downstream,
                tuple(r for r in relation.upstream_roles if r in UPSTREAM_ROLES),
                tuple(r for r in relation.downstream_roles if r in DOWNSTREAM_ROLES), number)


# ---- the map itself --------------------------------------------------------------------

def map_problems(model: Model, index: ModelIndex) -> Iterator[Problem]:
    """Every error in the ``context_map`` key: shape, contexts, roles, duplicates."""
    seen: dict[frozenset[str], int] = {}
    for number, relation in enumerate(model.context_map, start=1):
        path: Path = ("context_map", number - 1)
        shape = list(_shape_problems(relation, path, number))
        yield from shape
        if shape:
            continue
        names = _named(relation, path)
        bad = [problem for where, name in names
               if (problem := _context_problem(where, name, number, index)) is not None]
        yield from bad
        if bad:
            continue
        (_, first), (_, second) = names
        if first == second:
            yield (path, f"relationship {number} relates context {short(first)} to itself; a "
                   f"relationship joins two different contexts: name the other one",
                   "bad-relationship")
            continue
        pair = frozenset((first, second))
        if pair in seen:
            yield (path, f"relationship {number} relates {short(first)} and {short(second)} "
                   f"again (relationship {seen[pair]} already does); two contexts have one "
                   f"relationship: merge the two entries into one", "duplicate-relationship")
            continue
        seen[pair] = number
        yield from _role_problems(relation, path, number)


def _shape_problems(relation: Relationship, path: Path, number: int) -> Iterator[Problem]:
    said = f"relationship {number}"
    pairs = [key for key in SYMMETRIC if getattr(relation, key) is not None]
    directed = relation.upstream is not None or relation.downstream is not None
    if not pairs and not directed:
        yield (path, f"{said} names no contexts: write `upstream: A` and `downstream: B`, or "
               f"`shared_kernel: [A, B]`, or `partnership: [A, B]`", "bad-relationship")
        return
    if len(pairs) + directed > 1:
        kinds = [*(["upstream/downstream"] if directed else []), *pairs]
        yield (path, f"{said} is {' and '.join(kinds)} at once; two contexts have one "
               f"relationship: keep one kind", "bad-relationship")
        return
    if pairs:
        key = pairs[0]
        names = getattr(relation, key)
        if len(names) != 2:
            yield ((*path, key), f"{said}: `{key}` names exactly two contexts, got "
                   f"{len(names)}; write one entry per pair, `{key}: [A, B]`",
                   "bad-relationship")
        for extra in ("kind", "upstream_roles", "downstream_roles"):
            if getattr(relation, extra):
                yield ((*path, extra), f"{said}: a {_WORDS[key]} is symmetric and has no "
                       f"`{extra}`; remove it, or write `upstream:` and `downstream:` for "
                       f"an upstream/downstream relationship", "bad-relationship")
        return
    for key, other in (("upstream", "downstream"), ("downstream", "upstream")):
        if getattr(relation, key) is None:
            yield (path, f"{said} has `{other}: {shown(str(getattr(relation, other)))}` but "
                   f"no `{key}`; name the context on the other side with `{key}: ...`",
                   "bad-relationship")
    if relation.kind is not None and relation.kind not in KINDS:
        hint = (f"; write `{relation.kind}: [A, B]` instead of upstream and downstream"
                if relation.kind in SYMMETRIC else "")
        yield ((*path, "kind"), f"{said}: {shown(relation.kind)} is not a kind of "
               f"upstream/downstream relationship; the kinds are {', '.join(KINDS)}{hint}",
               "bad-relationship")


def _named(relation: Relationship, path: Path) -> list[tuple[Path, str]]:
    for key in SYMMETRIC:
        names = getattr(relation, key)
        if names is not None:
            return [((*path, key, i), name) for i, name in enumerate(names)]
    assert relation.upstream is not None and relation.downstream is not None
    return [((*path, "upstream"), relation.upstream), ((*path, "downstream"),
                                                       relation.downstream)]


def _context_problem(path: Path, name: str, number: int,
                     index: ModelIndex) -> Problem | None:
    if index.named(name, "context") is not None:
        return None
    said = f"relationship {number} names context {shown(name)}"
    other = index.named(name)
    if other is not None:
        word = other.kind.replace("_", " ")
        article = "an" if word[0] in "aeiou" else "a"
        return (path, f"{said}, but {short(name)} is {article} {word} of context "
                f"{short(other.context)}, not a context: name a context", "unknown-reference")
    contexts = index.names("context")
    close = difflib.get_close_matches(name, contexts, n=1) if len(name) <= 100 else []
    hint = (f"; did you mean {shown(close[0])}?" if close
            else f"; the contexts are {', '.join(short(c, 30) for c in contexts[:12])}")
    return (path, f"{said}, which is not declared{hint}", "unknown-reference")


def _role_problems(relation: Relationship, path: Path, number: int) -> Iterator[Problem]:
    said = f"relationship {number}"
    sides = (("upstream_roles", UPSTREAM_ROLES, "downstream_roles", DOWNSTREAM_ROLES),
             ("downstream_roles", DOWNSTREAM_ROLES, "upstream_roles", UPSTREAM_ROLES))
    for key, own, other_key, other in sides:
        roles: list[str] = getattr(relation, key)
        for i, role in enumerate(roles):
            where: Path = (*path, key, i)
            if role in roles[:i]:
                yield (where, f"{said}: role {shown(role)} is listed twice in `{key}`; "
                       f"remove one", "bad-relationship")
            elif role in other:
                yield (where, f"{said}: {shown(role)} is a role of the "
                       f"{other_key.split('_')[0]} side; move it to `{other_key}`",
                       "bad-relationship")
            elif role not in own:
                yield (where, f"{said}: {shown(role)} is not an {key.split('_')[0]} role; "
                       f"{_role_hint(role, own)}", "bad-relationship")
    downstream = relation.downstream_roles
    if "conformist" in downstream and "anticorruption_layer" in downstream:
        yield ((*path, "downstream_roles"), f"{said}: downstream {short(str(relation.downstream))} "
               f"cannot both conform to {short(str(relation.upstream))}'s model (conformist) "
               f"and translate it (anticorruption_layer); keep one", "bad-relationship")
    elif relation.kind == "customer_supplier" and "conformist" in downstream:
        yield ((*path, "downstream_roles"), f"{said}: a customer is not a conformist (the "
               f"supplier plans for the customer's needs, so it has nothing to conform to); "
               f"remove conformist, or make the kind upstream_downstream", "bad-relationship")


def _role_hint(role: str, own: dict[str, str]) -> str:
    by_mark = {mark: name for name, mark in own.items()}
    if role.upper() in by_mark:
        return f"write {by_mark[role.upper()]} (Context Mapper's {role.upper()})"
    close = difflib.get_close_matches(role, list(own), n=1) if len(role) <= 100 else []
    return (f"did you mean {shown(close[0])}?" if close
            else f"the roles are {', '.join(own)}")


# ---- the map against the flow ----------------------------------------------------------

@dataclass(frozen=True)
class Crossing:
    """``consumer`` depends on ``provider``: an element of ``consumer`` reacts to, reads or
    issues something of ``provider``."""

    consumer: str
    provider: str
    kind: str  # "event", "command" or "read model"
    name: str  # the event or command
    said: str  # "policy P in Shipping reacts to event OrderPaid of Sales"
    path: Path  # element path + key ("on", "issues", "from"): where an ignore applies


INDEX_KINDS: dict[str, Kind] = {"event": "event", "command": "command",
                                "read model": "read_model"}


def crossings(model: Model, index: ModelIndex) -> list[Crossing]:
    found: list[Crossing] = []

    def cross(consumer: str, element: str, path: Path, verb: str, kind: str,
              names: list[str]) -> None:
        for name in names:
            entry = index.named(name, INDEX_KINDS[kind])
            if entry is not None and entry.context != consumer:
                found.append(Crossing(consumer, entry.context, kind, name,
                                      f"{element} in {short(consumer)} {verb} {kind} "
                                      f"{short(name)} of {short(entry.context)}", path))

    for c, context in enumerate(model.contexts):
        for p, policy in enumerate(context.policies):
            path: Path = ("contexts", c, "policies", p)
            element = f"policy {short(policy.name)}"
            cross(context.name, element, (*path, "on"), "reacts to", "event", policy.on)
            cross(context.name, element, (*path, "issues"), "issues", "command", policy.issues)
            # Its decisions depend on what the read model shows: the other context's model.
            cross(context.name, element, (*path, "reads"), "reads", "read model", policy.reads)
        for r, read_model in enumerate(context.read_models):
            cross(context.name, f"read model {short(read_model.name)}",
                  ("contexts", c, "read_models", r, "from"), "reads", "event", read_model.from_)
    return found


def crossing_problems(model: Model, index: ModelIndex) -> Iterator[Problem]:
    """Errors for crossings a declared map does not allow (none without a map)."""
    if not model.context_map:
        return
    links = relationships(model)
    for crossing in crossings(model, index):
        link = find(links, crossing.consumer, crossing.provider)
        up, down = short(crossing.provider), short(crossing.consumer)
        if link is None:
            yield (crossing.path, f"{crossing.said}, but the context map relates no "
                   f"{up} and {down}: add `{{upstream: {up}, downstream: {down}}}` to "
                   f"`context_map` (or a shared_kernel or partnership of the two)",
                   "context-map")
        elif not link.symmetric and link.first != crossing.provider:
            yield (crossing.path, f"{crossing.said}, so {down} depends on {up}, but "
                   f"relationship {link.number} makes {down} upstream of {up}: swap "
                   f"upstream and downstream there, or move this into {up} (a downstream "
                   f"context reacts to its upstream's events)", "context-map")


def crossing_lints(model: Model, index: ModelIndex) -> Iterator[Problem]:
    """Without a map, each crossing is a ``context-crossing`` warning."""
    if model.context_map:
        return
    for crossing in crossings(model, index):
        up, down = short(crossing.provider), short(crossing.consumer)
        yield (crossing.path, f"{crossing.said}: say how the two relate in a `context_map` "
               f"(e.g. `{{upstream: {up}, downstream: {down}}}`)", CROSSING_LINT)


def find(links: list[Link], a: str, b: str) -> Link | None:
    """The relationship between contexts ``a`` and ``b``, either way round."""
    return next((link for link in links if {link.first, link.second} == {a, b}), None)


# ---- who consumes an event ---------------------------------------------------------------

def consumers(model: Model, index: ModelIndex) -> dict[str, list[tuple[str, bool]]]:
    """Event name -> the other contexts that react to or read it (policies, read models),
    in model order, each with whether it relies on the event as the upstream's published
    language or open host service (a relationship with upstream roles)."""
    links = relationships(model)
    found: dict[str, list[tuple[str, bool]]] = {}
    for crossing in crossings(model, index):
        if crossing.kind != "event":
            continue
        link = find(links, crossing.provider, crossing.consumer)
        published = (link is not None and not link.symmetric and link.first == crossing.provider
                     and link.published)
        users = found.setdefault(crossing.name, [])
        if all(context != crossing.consumer for context, _ in users):
            users.append((crossing.consumer, published))
    return found
