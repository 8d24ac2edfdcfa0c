"""The catalog's pages: one per element, every link resolves, same model -> same bytes."""

from __future__ import annotations

import os
import posixpath
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from codegen.catalog import Catalog, build_catalog
from modeling import load_model
from modeling.types import Model
from modeling.yaml_source import load_yaml
from tests.catalog.pages import MODELS, ROOT, expected_pages, parse
from tests.codegen.test_scenario_streams import LOANS


@cache
def model(name: str) -> Model:
    return load_model(MODELS[name]).model


@cache
def catalog(name: str) -> Catalog:
    return build_catalog(model(name))


def html_pages(site: Catalog) -> dict[str, bytes]:
    return {path: content for path, content in site.files.items() if path.endswith(".html")}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_element_has_a_page_titled_with_its_kind_and_name(name: str) -> None:
    titles = set()
    for path, content in html_pages(catalog(name)).items():
        if path != "index.html":
            page = parse(content)
            kind, _, element = page.h1.strip().partition(" ")
            for label in ("Bounded context", "Value object", "Read model", "External system"):
                if page.h1.strip().startswith(label):
                    kind, element = label, page.h1.strip()[len(label):].strip()
            titles.add((kind, element))
    assert titles == expected_pages(model(name))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_link_and_asset_resolves_inside_the_catalog(name: str) -> None:
    site = catalog(name)
    pages = {path: parse(content) for path, content in html_pages(site).items()}
    checked = 0
    for path, page in pages.items():
        for _, attrs in page.tags:
            for attribute in ("href", "src"):
                if attribute not in attrs:
                    continue
                target, _, fragment = attrs[attribute].partition("#")
                assert "://" not in target and not target.startswith(("/", "javascript")), \
                    f"{path} links outside the catalog: {attrs[attribute]!r}"
                resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
                assert resolved in site.files, f"{path}: {attrs[attribute]!r} does not resolve"
                if fragment:
                    assert fragment in pages[resolved].ids, f"{path}: no #{fragment} there"
                checked += 1
    assert checked > 10 * len(pages)


def test_links_go_both_ways_round_the_orders_flow() -> None:
    files = catalog("orders").files

    def relation(path: str, key: str) -> list[str]:
        text = files[path].decode()
        section = re.search(rf'data-relation="{key}">(.*?)</section>', text, re.DOTALL)
        assert section is not None, f"{path} has no {key!r} section"
        return re.findall(r'href="\.\./([^"]+)"', section.group(1))

    assert relation("commands/mark-order-paid.html", "emits") == ["events/order-paid.html"]
    assert relation("events/order-paid.html", "emitted-by") == [
        "aggregates/order.html", "commands/mark-order-paid.html"]
    assert relation("events/order-paid.html", "reacted-to-by") == [
        "policies/prepare-shipment-when-order-paid.html"]
    assert relation("policies/prepare-shipment-when-order-paid.html", "reacts-to") == [
        "events/order-paid.html"]
    assert relation("policies/prepare-shipment-when-order-paid.html", "issues") == [
        "commands/prepare-shipment.html"]
    assert relation("commands/prepare-shipment.html", "issued-by") == [
        "policies/prepare-shipment-when-order-paid.html"]
    assert relation("events/payment-received.html", "emitted-by") == [
        "external-systems/payment-gateway.html"]
    assert "read-models/order-summary.html" in relation("events/order-paid.html", "read-by")
    assert relation("types/order-line.html", "used-by") == [
        "commands/place-order.html", "events/order-placed.html"]


def test_a_policy_page_lists_the_read_models_it_reads_and_they_list_it() -> None:
    files = catalog("library").files
    policy = files["policies/mark-overdue-loans.html"].decode()
    sheet = files["read-models/daily-sheet.html"].decode()
    section = re.search(r'data-relation="consults">(.*?)</section>', policy, re.DOTALL)
    assert section is not None
    assert re.findall(r'href="\.\./([^"]+)"', section.group(1)) == [
        "read-models/daily-sheet.html"]
    section = re.search(r'data-relation="consulted-by">(.*?)</section>', sheet, re.DOTALL)
    assert section is not None
    assert re.findall(r'href="\.\./([^"]+)"', section.group(1)) == [
        "policies/mark-overdue-loans.html"]


def test_pages_show_fields_defaults_scenarios_hot_spots_and_schema_versions() -> None:
    order = parse(catalog("orders").files["aggregates/order.html"]).all_text
    assert "placing an order" in order and "already paid" in order
    assert '"customer_id": "c1"' in order
    assert '"new"' in order  # the status field's default
    rich = catalog("rich").files
    created = parse(rich["events/widget-created.html"]).all_text
    assert "Schema version2" in created  # <dt>Schema version</dt><dd>2</dd>
    assert "Upper \"\"\" limit" in created and '"9.99"' in created
    sales = parse(catalog("orders").files["contexts/sales.html"])
    assert "What happens to partially paid orders?" in sales.all_text
    assert "hot-spot-1" in sales.ids
    policy = parse(catalog("orders").files["policies/mark-paid-when-payment-received.html"])
    assert "What happens to partially paid orders?" in policy.all_text


@pytest.mark.parametrize("name", ["orders", "library"])
def test_every_diagram_node_links_to_the_page_of_the_element_it_shows(name: str) -> None:
    files = catalog(name).files
    svg = files["index.html"].decode()
    nodes = re.findall(r'<a class="flow-link" aria-label="([^"]+)" href="([^"]+)">'
                       r'<g class="node"><title>.*?</title>(.*?)</g></a>', svg, re.DOTALL)
    graph_nodes = sum(len(c.actors) + len(c.aggregates) + len(c.policies) + len(c.read_models)
                      + len(c.external_systems) + len(c.events) + len(c.hot_spots)
                      + sum(len(a.commands) + len(a.events) for a in c.aggregates)
                      for c in model(name).contexts)
    assert len(nodes) == graph_nodes
    for label, href, drawing in nodes:
        target = href.partition("#")[0]
        assert target in files
        if not label.startswith("Hot spot"):
            # The sticky note says the name of the element whose page it opens.
            drawn = "".join(re.findall(r"<text[^>]*>([^<]*)</text>", drawing))
            assert drawn == label.split(": ", 1)[1]
            assert parse(files[target]).h1.strip().endswith(drawn)


def test_context_pages_open_the_flow_on_their_own_cluster() -> None:
    files = catalog("orders").files
    whole = re.search(r'viewBox="([^"]+)"', files["index.html"].decode())
    shipping = re.search(r'<svg class="flow"[^>]*viewBox="([^"]+)"',
                         files["contexts/shipping.html"].decode())
    assert whole is not None and shipping is not None
    assert float(shipping.group(1).split()[2]) < float(whole.group(1).split()[2])


@pytest.mark.parametrize("name", ["orders", "hostile"])
def test_the_same_model_gives_the_same_bytes_in_another_process(name: str,
                                                                tmp_path: Path) -> None:
    # Another process has another string hash seed: nothing may depend on set order.
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    result = subprocess.run([sys.executable, "-m", "codegen", "catalog", str(MODELS[name]),
                             "-o", str(tmp_path / "site")], cwd=ROOT, env=env,
                            capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stderr
    written = {str(p.relative_to(tmp_path / "site")): p.read_bytes()
               for p in (tmp_path / "site").rglob("*") if p.is_file()}
    assert written == catalog(name).files
    assert build_catalog(model(name)).files == catalog(name).files


@pytest.mark.parametrize("name", ["orders", "library"])
def test_committed_example_catalogs_match_their_models(name: str) -> None:
    folder = ROOT / "examples" / name / "catalog"
    committed = {str(p.relative_to(folder)): p.read_bytes()
                 for p in folder.rglob("*") if p.is_file()}
    assert committed == catalog(name).files, \
        f"run: aether-gen catalog {MODELS[name].relative_to(ROOT)} -o examples/{name}/catalog"


def test_pages_carry_a_policy_that_allows_only_the_catalogs_own_scripts() -> None:
    for content in html_pages(catalog("hostile")).values():
        page = parse(content)
        policies = [a["content"] for tag, a in page.tags
                    if tag == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
        assert policies and "script-src 'self'" in policies[0]
        assert "unsafe-inline" not in policies[0]


def test_policy_and_read_model_pages_show_their_scenarios_with_streams_and_targets() -> None:
    files = catalog("library").files
    overdue = parse(files["policies/mark-overdue-loans.html"]).all_text
    assert "a loan due yesterday is marked overdue" in overdue
    assert "Then it dispatches" in overdue and "no commands" in overdue
    # Streams the scenario names, and the external system's computed one.
    assert "in loan-1" in overdue and "in loan-2" in overdue and "in clock-1" in overdue
    assert "MarkLoanOverdueto loan-1" in overdue  # `to:` as written
    orders = catalog("orders").files
    shipping = parse(orders["policies/prepare-shipment-when-order-paid.html"]).all_text
    # Computed as generated tests compute them: the event carries its order's id; the
    # command goes where its target_actor_id() says.
    assert "OrderPaidin order-o1" in shipping and "PrepareShipmentto shipment-o1" in shipping
    summary = parse(orders["read-models/order-summary.html"]).all_text
    assert "a paid order shows as paid" in summary and "Then its rows are" in summary
    assert "OrderPlacedin order-o1" in summary and '"status": "paid"' in summary
    assert "When" not in summary.partition("a paid order shows as paid")[2]


def test_a_read_model_scenario_shows_the_stream_its_actor_names() -> None:
    loans = Model.model_validate(load_yaml(LOANS, "model.yaml")[0])
    page = parse(build_catalog(loans).files["read-models/loans.html"]).all_text
    # As the generated tests record them: loan-1 twice, loan-2 once, in order.
    assert re.findall(r"Borrowedin (loan-\d)", page) == ["loan-1", "loan-2", "loan-1"]


def test_a_hot_spot_about_a_name_shared_by_an_actor_and_an_aggregate_is_about_the_aggregate(
        ) -> None:
    files = catalog("unruly").files  # actor Clerk and aggregate Clerk; the spot is about Clerk
    assert "Ask legal" in parse(files["aggregates/clerk.html"]).all_text
    assert "Ask legal" not in parse(files["actors/clerk.html"]).all_text
    desk = files["contexts/desk.html"].decode()
    about = re.search(r'<span class="about">about <a [^>]*href="\.\./([^"]+)"', desk)
    assert about is not None and about.group(1) == "aggregates/clerk.html"
    # The diagram draws the same: its hot spot's edge ends at the aggregate's note.
    edges = re.findall(r'<g class="edge"><title>([^<]*)</title>', files["index.html"].decode())
    assert "Hot spot: Ask legal \\u202e \u2192 Aggregate: Clerk" in edges
