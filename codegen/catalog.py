"""aether-gen catalog: a static, offline site that documents a model, page by page.

The site opens from disk (file://) with no server: plain HTML and CSS, one small script
for search and diagram pan/zoom, and the search index as a script file (browsers refuse
to fetch JSON from file:// pages). Every page carries a Content-Security-Policy that
allows only the catalog's own script and style files, so even a bug in escaping could not
run a model's text as script; the templates autoescape all the same.

Output is deterministic: the same model (and Graphviz) gives the same bytes, with no
dates, and everything ordered by the model or by name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import jinja2
from markupsafe import Markup

from codegen.catalog_pages import Connection, Page, build_pages, connections, context_map
from codegen.catalog_site import KINDS, Site, build_site, clean
from codegen.catalog_svg import Diagram, flow_diagram
from codegen.catalog_write import MARKER, CatalogError, write_files
from codegen.generator import builtin_templates
from modeling.diagram import LEGEND_ORDER, STYLES
from modeling.types import Model


@dataclass(frozen=True)
class Catalog:
    files: dict[str, bytes]  # path relative to the catalog's root -> content
    warnings: list[str]


def build_catalog(model: Model) -> Catalog:
    """Every file of the site, in memory."""
    site = build_site(model)
    pages = build_pages(model, site)
    diagram = flow_diagram(model, site)
    links = connections(model, site)
    relations = context_map(model, site)
    env = _environment()
    common = {"model": model, "kinds": KINDS, "legend": _legend(), "marker": MARKER}
    files: dict[str, bytes] = {}
    files["index.html"] = _page(env, "index.html.j2", root="", title=model.name,
                                site=site, pages=pages, diagram=_drawing(diagram, ""),
                                connections=links, relations=relations, **common)
    for page in pages:
        is_context = page.link.kind == "context"
        drawing = _drawing(diagram, "../", page.link.name) if is_context else None
        files[page.link.href] = _page(
            env, "element.html.j2", root="../", title=f"{page.link.name} · {model.name}",
            page=page, diagram=drawing,
            connections=[c for c in links if page.link in (c.source, c.target)],
            relations=[r for r in relations if page.link in (r.upstream, r.downstream)],
            **common)
    files["search-index.js"] = _search_index(pages)
    files["catalog.css"] = env.get_template("catalog.css.j2").render(
        styles=STYLES, legend=LEGEND_ORDER).encode()
    source, _, _ = env.loader.get_source(env, "catalog.js") if env.loader else ("", "", None)
    files["catalog.js"] = source.encode()
    warnings = [diagram] if isinstance(diagram, str) else []
    return Catalog(dict(sorted(files.items())), warnings)


def write_catalog(catalog: Catalog, output: Path) -> list[str]:
    """Write the site to ``output``, replacing an earlier catalog there; returns the paths
    written. Refuses a non-empty directory that holds no catalog, so it never deletes
    someone's files; replacing a catalog removes only what a catalog writes (see
    ``codegen.catalog_write``)."""
    write_files(catalog.files, output)
    return list(catalog.files)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(builtin_templates() / "catalog")),
        undefined=jinja2.StrictUndefined, autoescape=True, keep_trailing_newline=True,
        trim_blocks=True, lstrip_blocks=True, finalize=_finalize)
    return env


def _finalize(value: object) -> object:
    """Every string a template prints loses control characters and lone surrogates
    (shown as \\xNN marks), so no page text breaks HTML or UTF-8."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return clean(value)
    return value


def _page(env: jinja2.Environment, template: str, **context: object) -> bytes:
    return env.get_template(template).render(**context).encode("utf-8")


@dataclass(frozen=True)
class Drawing:
    """A diagram as one page shows it: inner SVG markup and the view it opens on."""

    markup: Markup | None
    view_box: str
    full_view: str
    error: str


def _drawing(diagram: Diagram | str, root: str, context: str | None = None) -> Drawing:
    if isinstance(diagram, str):
        return Drawing(None, "", "", diagram)
    view = diagram.focus.get(context, diagram.view_box) if context else diagram.view_box
    # The markup was built element by element from an allow-list, every text escaped.
    return Drawing(Markup(diagram.markup(root)), view, diagram.view_box, "")


def _legend() -> list[tuple[str, str, str]]:
    names = {"read_model": "Read model", "external_system": "External system",
             "hot_spot": "Hot spot"}
    return [(kind, names.get(kind, kind.capitalize()), STYLES[kind].fill)
            for kind in LEGEND_ORDER]


def _search_index(pages: list[Page]) -> bytes:
    entries = [{"name": clean(p.link.name), "kind": KINDS[p.link.kind][0],
                "context": clean(p.link.context), "description": clean(p.description),
                "terms": clean(" ".join(p.search_text)), "href": p.link.href}
               for p in pages]
    # ASCII-only JSON with <, > and & escaped: valid JavaScript that no HTML parser or
    # encoding mix-up can turn into markup.
    text = json.dumps(entries, ensure_ascii=True, indent=0, sort_keys=True)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f"window.AETHER_CATALOG_INDEX = {text};\n".encode()


__all__ = ["Catalog", "CatalogError", "Connection", "Site", "build_catalog", "write_catalog"]
