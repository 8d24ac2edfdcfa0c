"""The catalog lists the context map: on the overview, and on each related context's page."""

from __future__ import annotations

from html.parser import HTMLParser

from codegen.catalog import build_catalog
from modeling import load_model
from tests.catalog.pages import MODELS


class _Rows(HTMLParser):
    """The rows of the page's context-map table: each cell's text and the links in it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[tuple[str, list[str]]]] = []
        self.depth = 0  # inside <table class="context-map"> while > 0
        self.in_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "table" and values.get("class") == "context-map":
            self.depth = 1
        elif self.depth and tag == "tbody":
            self.in_body = True
        elif self.depth and self.in_body and tag == "tr":
            self.rows.append([])
        elif self.depth and self.in_body and tag == "td":
            self.rows[-1].append(("", []))
        elif self.depth and self.in_body and tag == "a" and self.rows and self.rows[-1]:
            self.rows[-1][-1][1].append(values.get("href") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self.depth = 0
            self.in_body = False

    def handle_data(self, data: str) -> None:
        if self.depth and self.in_body and self.rows and self.rows[-1]:
            text, links = self.rows[-1][-1]
            self.rows[-1][-1] = (" ".join(f"{text} {data}".split()), links)


def rows(content: bytes) -> list[list[tuple[str, list[str]]]]:
    parser = _Rows()
    parser.feed(content.decode())
    return parser.rows


def test_overview_and_related_context_pages_list_each_relationship() -> None:
    files = build_catalog(load_model(MODELS["orders"]).model).files
    assert rows(files["index.html"]) == [[
        ("Sales U,S,PL", ["contexts/sales.html"]),
        ("customer/supplier upstream: published language; downstream: anticorruption layer",
         []),
        ("Shipping D,C,ACL", ["contexts/shipping.html"]),
        ("Shipping prepares a parcel once Sales says an order is paid.", []),
    ]]
    for page in ("contexts/sales.html", "contexts/shipping.html"):
        (row,) = rows(files[page])
        assert [links for _, links in row[::2]] == [["../contexts/sales.html"],
                                                   ["../contexts/shipping.html"]]
    assert rows(files["events/order-paid.html"]) == []  # only contexts' pages


def test_a_model_without_a_map_has_no_context_map_section() -> None:
    files = build_catalog(load_model(MODELS["rich"]).model).files
    assert b"Context map" not in files["index.html"]
