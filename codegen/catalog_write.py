"""Writing a catalog to disk: into a new or empty directory, or over an earlier catalog.

A directory is an earlier catalog only if its ``index.html`` is UTF-8 HTML whose head
holds the exact ``<meta name="generator" content="aether-catalog">`` every page carries
(parsed as HTML, so the words in a comment, a script or the body do not count). Any other
non-empty directory is refused, untouched.

Replacing an earlier catalog touches only what a catalog writes: ``index.html``, its
assets (``catalog.css``, ``catalog.js``, ``search-index.js``) and, in the element
directories (``contexts/``, ``events/``...), the pages that carry that same mark. Anything
else (``.git``, a ``CNAME``, notes, even a file of yours inside ``events/``) is kept.
Stale pages (of removed elements) go; an element directory left with nothing goes too.

No manifest file records what was written: the mark on each page is the record, so a
catalog's files are exactly the model's pages (the examples' committed catalogs compare
byte for byte) and catalogs written before this rule are replaced just the same.

Like ``codegen.writer``, nothing in the directory changes until every new file has been
written to a staging directory beside them; then each is swapped in with a rename (a new
element directory whole) and only then are stale pages removed, so a failure while
writing leaves the earlier catalog whole. Files that are not the catalog's are never
moved, copied or rewritten. A staging directory a killed run left behind
(``.aether-catalog-*``) is removed by a run ten minutes later or more (a newer one may be
another run's, writing now).
"""

from __future__ import annotations

import codecs
import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from html.parser import HTMLParser
from pathlib import Path

from codegen.catalog_site import KINDS

MARKER = "aether-catalog"  # <meta name="generator" content=...> of every catalog page
_HEAD_BYTES = 64 * 1024  # the mark sits in the first few hundred bytes of a page
_STAGING = ".aether-catalog-"
_LEFTOVER_AFTER = 600.0  # seconds: a catalog is written in a few


class CatalogError(Exception):
    """The catalog cannot be written where asked; the message says what to do instead."""


def write_files(files: Mapping[str, bytes], output: Path) -> None:
    """Write ``files`` (path relative to ``output`` -> bytes) as the catalog in ``output``."""
    if output.exists() and not output.is_dir():
        raise CatalogError(f"{output} is a file; choose a directory for the catalog")
    staging_dirs = _staging_dirs(output)
    if output.is_dir() and any(child not in staging_dirs for child in output.iterdir()):
        _check_earlier_catalog(output)
    for leftover in staging_dirs:
        # Of a run killed while it wrote (never swapped in), unless so recent that it may
        # be another run's, writing into the same directory right now.
        if time.time() - leftover.stat().st_mtime > _LEFTOVER_AFTER:
            shutil.rmtree(leftover, ignore_errors=True)
    tops = {path.split("/", 1)[0] for path in files}
    directories = {top for top in tops if any(p.startswith(f"{top}/") for p in files)}
    _check_safe(output, files, directories)
    output.mkdir(parents=True, exist_ok=True)
    # Pages of the earlier catalog that the new one does not write, in any element
    # directory (including those the new catalog no longer needs).
    earlier = [name for name in sorted(directories | {k[2] for k in KINDS.values()})
               if (output / name).is_dir() and not (output / name).is_symlink()]
    stale = [page for name in earlier for page in sorted((output / name).iterdir())
             if page.relative_to(output).as_posix() not in files and _is_catalog_page(page)]
    staging = Path(tempfile.mkdtemp(prefix=_STAGING, dir=output))
    try:
        for path, content in files.items():
            target = staging / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        # Every file is written: now swap them in, each with a rename (a symlink in the
        # way is replaced, never followed); files that are not the catalog's stay as they
        # are, where they are.
        for name in sorted(tops - directories):
            os.replace(staging / name, output / name)
        for name in sorted(directories):
            if name in earlier:
                for page in sorted((staging / name).iterdir()):
                    os.replace(page, output / name / page.name)
            else:
                os.replace(staging / name, output / name)
        for page in stale:
            page.unlink()
        for name in earlier:
            if not any((output / name).iterdir()):  # only the catalog's pages were there
                (output / name).rmdir()
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _staging_dirs(output: Path) -> list[Path]:
    if not output.is_dir():
        return []
    return [child for child in sorted(output.iterdir()) if child.name.startswith(_STAGING)
            and child.is_dir() and not child.is_symlink()]


def _check_earlier_catalog(output: Path) -> None:
    index = output / "index.html"
    if not index.is_file():
        raise CatalogError(f"{output} is not empty and holds no catalog; choose an empty "
                           f"or new directory (or an earlier catalog to replace)")
    try:
        text = _head(index)
    except OSError as error:
        raise CatalogError(f"cannot read {index} to tell whether {output} holds an earlier "
                           f"catalog ({error.strerror or error}); choose an empty or new "
                           f"directory") from None
    except UnicodeDecodeError:
        raise CatalogError(f"{index} is not UTF-8 text, so {output} holds no catalog; choose "
                           f"an empty or new directory (or an earlier catalog to replace)"
                           ) from None
    if not _marked(text):
        raise CatalogError(f"{output} is not empty and holds no catalog (its index.html "
                           f"lacks the catalog's <meta name=\"generator\" content="
                           f"\"{MARKER}\">); choose an empty or new directory (or an "
                           f"earlier catalog to replace)")


_HEAD_TAGS = {"html", "head", "meta", "title", "link", "script", "style", "base"}


class _HeadReader(HTMLParser):
    """Finds the catalog's generator mark among the elements of a page's head: it counts
    only before the head ends (``</head>``, ``<body>``, any other element or any text,
    all of which end a head as browsers read it)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.marked = False
        self.done = False
        self._inside: str | None = None  # <title>, <script> or <style>: text, no tags

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._inside:
            return  # a browser reads this as the element's text, not as a tag
        if tag not in _HEAD_TAGS:
            self.done = True
        elif not self.done and tag == "meta":
            self.marked = self.marked or dict(attrs) == {"name": "generator",
                                                          "content": MARKER}
        elif tag in ("title", "script", "style"):
            self._inside = tag

    def handle_endtag(self, tag: str) -> None:
        if self._inside:
            self._inside = None if tag == self._inside else self._inside
        elif tag == "head":
            self.done = True

    def handle_data(self, data: str) -> None:
        self.done = self.done or (not self._inside and bool(data.strip()))


def _marked(text: str) -> bool:
    reader = _HeadReader()
    reader.feed(text)
    return reader.marked


def _is_catalog_page(path: Path) -> bool:
    """A page an earlier catalog wrote: a plain ``.html`` file carrying the mark."""
    if path.suffix != ".html" or path.is_symlink() or not path.is_file():
        return False
    try:
        return _marked(_head(path))
    except (OSError, UnicodeDecodeError):
        return False


def _head(page: Path) -> str:
    """The start of a page, where the mark sits, as UTF-8 (a character the cut splits is
    left out)."""
    with page.open("rb") as handle:
        head = handle.read(_HEAD_BYTES)
    return codecs.getincrementaldecoder("utf-8")().decode(head, final=False)


def _check_safe(output: Path, files: Mapping[str, bytes], directories: set[str]) -> None:
    """Refuse what the catalog would replace that is not its own to replace, before
    anything is written: never through a symlink, never a directory by a file."""
    for name in sorted(directories):
        path = output / name
        if path.is_symlink():
            raise CatalogError(f"{path} is a symlink where the catalog writes a directory, "
                               f"and aether-gen never writes through symlinks; replace it "
                               f"with a directory or remove it, or choose another -o")
        if path.exists() and not path.is_dir():
            raise CatalogError(f"{path} is a file where the catalog writes a directory; "
                               f"move or remove it, or choose another -o")
    for path_text in sorted(files):
        path = output / path_text
        if path.is_dir() and not path.is_symlink():
            raise CatalogError(f"{path} is a directory where the catalog writes a file; "
                               f"move or remove it, or choose another -o")
