"""Whatever text a model holds, its catalog shows it as text and runs none of it.

Models here are built without validation (names too can be anything), so the catalog's
own escaping is what is tested, not the validator's refusal.
"""

from __future__ import annotations

import json
import posixpath
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codegen.catalog import Catalog, build_catalog
from codegen.catalog_site import clean
from modeling import load_model
from modeling.types import Model
from tests.catalog.pages import MODELS, ParsedPage, parse

OWN_SCRIPTS = {"catalog.js", "search-index.js"}
TAGS = {"html", "head", "meta", "title", "link", "script", "body", "header", "a", "span",
        "div", "label", "input", "ol", "ul", "li", "main", "footer", "code", "nav", "h1", "h2",
        "h3", "h4", "p", "dl", "dt", "dd", "aside", "strong", "section", "table", "thead",
        "tbody", "tr", "th", "td", "pre", "article", "q", "figure", "figcaption", "button",
        "svg", "g", "polygon", "polyline", "path", "ellipse", "text"}
FRAGMENTS = ["<script>alert(1)</script>", "</script>", "<img src=x onerror=alert(1)>",
             '" onmouseover="alert(1)', "' onclick='alert(1)", "javascript:alert(1)",
             "<a href=\"javascript:alert(1)\">x</a>", "\x00", "\x07", "\ud800", "&amp;",
             "&lt;b&gt;", "{{ 7*7 }}", "{% raw %}", "<!--", "-->", "]]>", "<![CDATA[",
             "\\", "\n", "\u2028", "<svg onload=alert(1)>", "<<b>x</b>>", "<", ">", "\"", "'"]

texts = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=8)),
                 max_size=5).map("".join)
names = st.one_of(st.sampled_from(["Order", "HTTPServer", "HttpServer"]), texts)


@st.composite
def hostile_models(draw: st.DrawFn) -> Model:
    event, command, aggregate = draw(names), draw(names), draw(names)
    data: dict[str, Any] = {
        "model": draw(names), "description": draw(texts),
        "contexts": [{
            "name": draw(names), "description": draw(texts),
            "actors": [{"name": draw(names), "description": draw(texts)}],
            "aggregates": [{
                "name": aggregate, "description": draw(texts),
                "state": {draw(texts): {"type": draw(texts), "default": draw(texts),
                                        "description": draw(texts)}},
                "commands": [{"name": command, "description": draw(texts), "emits": [event],
                              "fields": {draw(texts): draw(texts)}}],
                "events": [{"name": event, "description": draw(texts)}],
                "scenarios": [{"name": draw(texts), "when": {command: {draw(texts): draw(texts)}},
                               "then": [{event: {}}], "error": draw(texts)}],
            }],
            "policies": [{"name": draw(names), "description": draw(texts), "on": [event],
                          "issues": [command]}],
            "read_models": [{"name": draw(names), "from": [event]}],
            "hot_spots": [{"text": draw(texts), "about": draw(st.sampled_from([event, None]))}],
        }],
    }
    return Model.model_validate(data)


def assert_runs_nothing(site: Catalog) -> dict[str, ParsedPage]:
    pages = {p: parse(c) for p, c in site.files.items() if p.endswith(".html")}
    for path, page in pages.items():
        for tag, attrs in page.tags:
            assert tag in TAGS, f"{path}: a model's text became a <{tag}>"
            assert not any(name.startswith("on") for name in attrs), f"{path}: {attrs}"
            if tag == "script":
                assert posixpath.basename(attrs.get("src", "")) in OWN_SCRIPTS, attrs
            if tag == "meta":
                assert set(attrs) <= {"charset", "name", "content", "http-equiv"}
                assert attrs.get("http-equiv", "Content-Security-Policy") \
                    == "Content-Security-Policy"
            for attribute in ("href", "src"):
                target = attrs.get(attribute, "").partition("#")[0]
                if attribute in attrs:
                    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path),
                                                                 target))
                    assert resolved in site.files, f"{path}: {attrs[attribute]!r}"
    return pages


def search_index(site: Catalog) -> list[dict[str, str]]:
    text = site.files["search-index.js"].decode("ascii")
    prefix = "window.AETHER_CATALOG_INDEX = "
    assert text.startswith(prefix) and text.endswith(";\n")
    assert "<" not in text and ">" not in text  # nothing an HTML parser could take for a tag
    entries: list[dict[str, str]] = json.loads(text[len(prefix):-2])
    return entries


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_models())
def test_hostile_text_renders_as_text_and_runs_nothing(model: Model) -> None:
    site = build_catalog(model)
    pages = assert_runs_nothing(site)
    context = model.contexts[0]
    context_page = next(p for p in pages.values() if p.h1.startswith("Bounded context"))
    assert clean(context.description) in context_page.all_text
    assert clean(context.hot_spots[0].text) in context_page.all_text
    overview = pages["index.html"].all_text
    assert clean(model.description) in overview
    descriptions = {entry["description"] for entry in search_index(site)}
    assert clean(context.aggregates[0].description) in descriptions


def test_the_hostile_model_validates_and_its_catalog_shows_every_text() -> None:
    model = load_model(MODELS["hostile"]).model
    site = build_catalog(model)
    pages = assert_runs_nothing(site)
    everything = "".join(page.all_text for page in pages.values())
    context = model.contexts[0]
    for text in [model.description, context.description,
                 *(spot.text for spot in context.hot_spots),
                 *(a.description for a in context.aggregates),
                 *(s.name for a in context.aggregates for s in a.scenarios),
                 *(s.error or "" for a in context.aggregates for s in a.scenarios),
                 *(s.name for p in context.policies for s in p.scenarios),
                 *(s.name for r in context.read_models for s in r.scenarios),
                 "<img src=x onerror=alert('actor')>", "\"><script>alert('to')</script>",
                 "</pre><script>alert('row')</script>"]:
        assert clean(text) in everything
    assert site.warnings == []  # the diagram was drawn, defanged where Graphviz needed it


BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def test_bidirectional_controls_show_as_marks_and_reach_no_page() -> None:
    site = build_catalog(load_model(MODELS["unruly"]).model)
    for path, content in site.files.items():
        text = content.decode("utf-8")
        if path == "search-index.js":  # its JSON escapes would turn back into the controls
            text = json.dumps(search_index(site), ensure_ascii=False)
        assert not set(text) & set(BIDI_CONTROLS), f"{path} holds a bidirectional control"
    desk = parse(site.files["contexts/desk.html"]).all_text
    assert "Ask legal \\u202e about Clerk" in desk
    clerk = parse(site.files["aggregates/clerk.html"]).all_text
    assert "Embeds \\u202aleft\\u202b right \\u202c and marks \\u200e \\u200f \\u061c" in clerk
