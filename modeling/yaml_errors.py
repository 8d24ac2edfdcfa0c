"""PyYAML's parser messages, said as a modeler would: what is wrong here, and what to do.

PyYAML reports in its grammar's words (``expected <block end>, but found '?'``); the
location it gives is right, the wording is not for people writing a model. Known
problems get a plain sentence; anything else keeps PyYAML's words, without its
``<token>`` jargon.
"""

from __future__ import annotations

import re

# (a pattern over "problem (context)", the sentence): first match wins.
_PLAIN: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), sentence) for pattern, sentence in (
        (r"found character '\\t'",
         "a tab character: YAML indents with spaces only; replace the tab with spaces"),
        (r"expected <block end>, but found '\?'.*block collection",
         "this key stands at the indentation of the list above it (its `- ` items): indent "
         "it to line up with the keys of the item it belongs to, or start a new item with `- `"),
        (r"expected <block end>, but found '<block mapping start>'",
         "this line is not lined up with the keys of its block; indent it with the same "
         "number of spaces as the key above it that it belongs beside"),
        (r"expected <block end>",
         "the indentation here does not match the block it belongs to; line it up with "
         "its neighbours (same number of spaces)"),
        (r"expected the node content, but found '<stream end>'",
         "the file ends where a value is still expected: close the `[` or `{` opened "
         "before this point, or give the last key its value"),
        (r"expected the node content",
         "a value is missing here; write the value, or quote text that starts with a "
         "special character"),
        (r"mapping values are not allowed here",
         "a `key:` where a value was expected: put each key on its own line, lined up with "
         "its neighbours, or quote a value that contains ': '"),
        (r"could not find expected ':'",
         "a key without its colon; write `key: value`"),
        (r"did not find expected key",
         "a line that is not `key: value` inside a mapping; check its indentation and "
         "its colon"),
        (r"did not find expected '-' indicator",
         "a line that is not a `- item` inside a list; check its indentation"),
        (r"did not find expected ',' or '\]'",
         "a `[...]` list that is not closed, or items not separated by commas; close it "
         "with ]"),
        (r"did not find expected ',' or '\}'",
         "a `{...}` mapping that is not closed, or entries not separated by commas; close "
         "it with }"),
        (r"expected ',' or '\}', but got",
         "inside `{...}`, entries are separated by commas and text holding ?, :, commas or "
         "brackets must be quoted; quote the text, or add the missing comma"),
        (r"expected ',' or '\]', but got",
         "inside `[...]`, items are separated by commas and text holding ?, :, commas or "
         "brackets must be quoted; quote the text, or add the missing comma"),
        (r"found unexpected end of stream",
         "the file ends inside quotes or brackets; close the quote or bracket opened "
         "before this point"),
        (r"found undefined alias",
         "an alias (`*name`) with no anchor (`&name`) before it; write the value out, or "
         "define the anchor first"),
        (r"found unknown escape character",
         "an unknown backslash escape inside double quotes; write \\\\ for a backslash, "
         "or use single quotes"),
        (r"found character '(@|`)' that cannot start any token",
         "text that starts with @ or ` must be quoted; put it in quotes"),
        (r"found unexpected ':'",
         "a colon where YAML does not expect one; quote the value that contains it"),
    ))

_TOKEN = re.compile(r"'?<([a-z ]+)>'?")


def plain_yaml_message(problem: str | None, context: str | None) -> str:
    """A sentence for PyYAML's ``problem`` (and ``context``)."""
    said = f"{problem or ''} ({context or ''})"
    for pattern, sentence in _PLAIN:
        if pattern.search(said):
            return f"YAML syntax: {sentence}"
    words = _TOKEN.sub(lambda m: m.group(1).replace("block ", "").replace("scalar", "text"),
                       problem or "invalid YAML")
    return f"YAML syntax: {words}; check indentation, quotes and colons"
