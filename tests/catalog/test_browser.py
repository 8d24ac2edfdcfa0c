"""The catalog in a real browser: Debian's chromium, driven by Playwright, from file://.

scripts/setup.sh installs /usr/bin/chromium; Playwright's own browser downloads are never
used, so these tests run with no internet beyond package registries.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page, expect, sync_playwright

from codegen.catalog import build_catalog, write_catalog
from modeling import load_model
from tests.catalog.pages import MODELS

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "chromium is missing: run scripts/setup.sh"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    built = {}
    for name in ("orders", "hostile", "unruly"):
        folder = tmp_path_factory.mktemp(f"catalog-{name}")
        write_catalog(build_catalog(load_model(MODELS[name]).model), folder)
        built[name] = folder
    return built


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1366, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def url(site: Path, path: str = "index.html") -> str:
    return (site / path).as_uri()


def heading(page: Page) -> str:
    return " ".join(page.locator("h1").inner_text().split())


def test_clicking_a_sticky_note_in_the_overview_opens_its_page(page: Page,
                                                               sites: dict[str, Path]) -> None:
    page.goto(url(sites["orders"]))
    page.locator('a.flow-link[aria-label="Policy: PrepareShipmentWhenOrderPaid"]').click()
    expect(page).to_have_url(re.compile(r"/policies/prepare-shipment-when-order-paid\.html$"))
    assert heading(page) == "Policy PrepareShipmentWhenOrderPaid"
    # On a context page, the diagram's notes link too (one directory down).
    page.goto(url(sites["orders"], "contexts/shipping.html"))
    page.locator('a.flow-link[aria-label="Aggregate: Shipment"]').click()
    expect(page).to_have_url(re.compile(r"/aggregates/shipment\.html$"))


def test_links_lead_round_a_flow_and_back(page: Page, sites: dict[str, Path]) -> None:
    page.goto(url(sites["orders"], "commands/mark-order-paid.html"))

    def follow(relation: str, name: str) -> None:
        page.locator(f'section[data-relation="{relation}"]').get_by_role(
            "link", name=name, exact=True).click()
        expect(page.locator("h1")).to_contain_text(name)

    # Forwards: command -> event -> policy -> command.
    follow("emits", "OrderPaid")
    follow("reacted-to-by", "PrepareShipmentWhenOrderPaid")
    follow("issues", "PrepareShipment")
    # And back the other way.
    follow("issued-by", "PrepareShipmentWhenOrderPaid")
    follow("reacts-to", "OrderPaid")
    follow("emitted-by", "MarkOrderPaid")
    expect(page).to_have_url(re.compile(r"/commands/mark-order-paid\.html$"))


def test_search_finds_an_event_by_a_word_of_its_description(page: Page,
                                                            sites: dict[str, Path]) -> None:
    page.goto(url(sites["orders"], "aggregates/shipment.html"))
    page.locator("#search-input").fill("provider")  # "The payment provider confirmed ..."
    results = page.locator("#search-results a")
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text("PaymentReceived")
    page.locator("#search-input").press("Enter")
    expect(page).to_have_url(re.compile(r"/events/payment-received\.html$"))
    page.locator("#search-input").fill("no such word anywhere")
    expect(page.locator("#search-results")).to_contain_text("Nothing matches")


def view_box(page: Page) -> list[float]:
    text = page.locator("svg.flow").get_attribute("viewBox") or ""
    return [float(n) for n in text.split()]


def test_the_diagram_zooms_and_pans_without_following_a_link(page: Page,
                                                            sites: dict[str, Path]) -> None:
    page.goto(url(sites["orders"]))
    start = view_box(page)
    page.get_by_role("button", name="Zoom in").click()
    zoomed = view_box(page)
    assert zoomed[2] < start[2] and zoomed[3] < start[3]
    viewport = page.locator(".diagram-viewport")
    viewport.scroll_into_view_if_needed()
    box = viewport.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, -300)
    page.wait_for_function("width => Number(document.querySelector('svg.flow')"
                           ".getAttribute('viewBox').split(' ')[2]) < width", arg=zoomed[2])
    wheeled = view_box(page)
    # Drag starting on a sticky note: the view pans, the page stays.
    note = page.locator('a.flow-link[aria-label="Aggregate: Order"]').bounding_box()
    assert note is not None
    x, y = note["x"] + note["width"] / 2, note["y"] + note["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - 120, y - 40, steps=6)
    page.mouse.up()
    page.wait_for_function("x => Number(document.querySelector('svg.flow')"
                           ".getAttribute('viewBox').split(' ')[0]) > x", arg=wheeled[0])
    panned = view_box(page)
    assert panned[0] > wheeled[0] and panned[2] == wheeled[2]
    assert page.url.endswith("/index.html")
    page.get_by_role("button", name="Reset").click()
    assert view_box(page) == start


def test_print_shows_the_content_without_the_controls(page: Page,
                                                      sites: dict[str, Path]) -> None:
    page.goto(url(sites["orders"], "contexts/sales.html"))
    page.emulate_media(media="print")
    expect(page.locator("#search-input")).to_be_hidden()
    expect(page.locator(".diagram-tools")).to_be_hidden()
    expect(page.locator("svg.flow")).to_be_visible()
    assert page.pdf()[:4] == b"%PDF"


def test_a_hostile_model_catalog_shows_its_text_and_runs_none_of_it(
        page: Page, sites: dict[str, Path]) -> None:
    dialogs: list[str] = []
    problems: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    def on_console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            problems.append(f"{page.url}: {message.text}")

    page.on("dialog", on_dialog)
    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"{page.url}: {error}"))
    site = sites["hostile"]
    paths = sorted(str(p.relative_to(site)) for p in site.rglob("*.html"))
    assert len(paths) == 11  # the overview and ten elements
    for path in paths:
        page.goto(url(site, path))
        page.wait_for_load_state("load")
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert page.evaluate("document.querySelectorAll('img, iframe, object, form').length") \
            == 0
        for link in page.locator("a").all():
            assert not (link.get_attribute("href") or "").lower().startswith("javascript")
        # Search results show model text too: type what matches the hostile descriptions.
        page.locator("#search-input").fill("alert")
        expect(page.locator("#search-results a").first).to_be_visible()
    page.goto(url(site, "contexts/inject.html"))
    expect(page.locator("#hot-spot-2")).to_have_text("<script>alert('hot spot script')</script>")
    expect(page.locator("#hot-spot-1")).to_contain_text(
        '<a href="javascript:alert(\'hotspot\')">click me</a>')
    page.goto(url(site, "aggregates/target.html"))
    expect(page.get_by_role("heading", name="<script>alert('scenario')</script>")) \
        .to_be_visible()
    assert dialogs == []
    assert problems == []


# The x of each visible character of an element, in the order of the text (logical order).
CHARACTER_POSITIONS = """element => {
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
  const found = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (let i = 0; i < node.data.length; i++) {
      if (!/\\S/.test(node.data[i])) continue;
      const range = document.createRange();
      range.setStart(node, i);
      range.setEnd(node, i + 1);
      found.push([node.data[i], range.getBoundingClientRect().left]);
    }
  }
  return found;
}"""


def test_bidirectional_controls_in_model_text_do_not_reorder_the_text_after_them(
        page: Page, sites: dict[str, Path]) -> None:
    for path, selector, text in [
            ("contexts/desk.html", "#hot-spot-1", "Ask legal \\u202e about Clerk"),
            ("aggregates/clerk.html", ".hot-spot", "Hot spot: Ask legal \\u202e"),
            ("aggregates/clerk.html", ".description", "Embeds \\u202aleft\\u202b right"),
            ("events/clerk-hired.html", ".description", "Overrides \\u202d and \\u202e rev")]:
        page.goto(url(sites["unruly"], path))
        element = page.locator(selector)
        positions = element.evaluate(CHARACTER_POSITIONS)
        assert len(positions) > 10
        # One line of left-to-right text: every character right of the one before it.
        lefts = [left for _, left in positions]
        shown = "".join(char for char, _ in sorted(positions, key=lambda p: p[1]))
        assert lefts == sorted(lefts) and len(set(lefts)) == len(lefts), f"{path}: {shown}"
        expect(element).to_contain_text(text)
        assert not re.search("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]",
                             page.locator("body").inner_text())


@pytest.mark.parametrize("width", [1366, 390])
def test_a_long_word_in_a_description_does_not_widen_the_page(browser: Browser,
                                                              sites: dict[str, Path],
                                                              width: int) -> None:
    context = browser.new_context(viewport={"width": width, "height": 800})
    page = context.new_page()
    try:
        for path in ("index.html", "contexts/desk.html"):
            page.goto(url(sites["unruly"], path))
            expect(page.locator("main")).to_contain_text("0123456789abcdefghijklmnopqrstuvwxyz")
            widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert widths[0] <= widths[1], f"{path} scrolls sideways at {width}px: {widths}"
    finally:
        context.close()
