"""How namespaces, store names and actor ids become JetStream stream names and subjects.

The rules (see DESIGN.md "JetStream mapping"):

- A namespace is *sanitized* into a stream-name prefix: every character NATS forbids
  or that would split a subject (whitespace, ``.``, ``*``, ``>``, path separators,
  control and non-ASCII characters) becomes ``_``. Sanitizing is lossy on purpose
  (stream names stay readable); the store records the original namespace in the
  stream's metadata and refuses to share a stream between two namespaces.
- An actor id is *encoded* into one subject token losslessly: ASCII letters, digits,
  ``-`` and ``_`` stay as they are, every other byte of its UTF-8 form becomes
  ``~XX`` (hex). ``~`` is itself escaped, so two ids never share a token and no id
  can reach into another actor's or namespace's subject.

Limits, the same for every backend, bus and cluster, live in ``aether/limits.py`` (re-exported
here, the module every name that reaches NATS goes through): an actor id is 1 to
``MAX_ACTOR_ID_BYTES`` bytes of UTF-8, so its token keeps every subject far below the server's
4 KiB protocol control line; a namespace is at most ``MAX_NAMESPACE_BYTES`` bytes; a store name
is 1 to ``MAX_STORE_NAME`` characters, so ``<namespace>_<name>_snapshots`` stays within
JetStream's ``MAX_STREAM_NAME``.
"""

from __future__ import annotations

import re

from aether.errors import StoreConfigError
from aether.limits import (
    MAX_ACTOR_ID_BYTES,
    MAX_NAMESPACE_BYTES,
    check_actor_id,
    check_header_value,
    check_namespace,
    utf8_size,
)

__all__ = [
    "MAX_ACTOR_ID_BYTES",
    "MAX_NAMESPACE_BYTES",
    "MAX_STORE_NAME",
    "MAX_STREAM_NAME",
    "check_actor_id",
    "check_header_value",
    "check_namespace",
    "decode_token",
    "encode_token",
    "sanitize_namespace",
    "stream_name",
    "utf8_size",
]

_SAFE_TOKEN = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_ALL_SAFE = re.compile(r"[A-Za-z0-9_-]+")
_STREAM_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
MAX_STREAM_NAME = 255
"""JetStream's limit on stream names (they are also directory names on the server)."""
SUFFIX_RESERVE = len("_snapshots")
"""Room kept for the longest suffix a store adds to its stream name."""
MAX_STORE_NAME = MAX_STREAM_NAME - MAX_NAMESPACE_BYTES - 1 - SUFFIX_RESERVE
_STORE_NAME = re.compile(rf"^[A-Za-z0-9_-]{{1,{MAX_STORE_NAME}}}$")


def sanitize_namespace(namespace: str) -> str:
    """The stream-name prefix for a namespace (empty stays empty)."""
    return _STREAM_NAME_UNSAFE.sub("_", namespace)


def stream_name(name: str, namespace: str = "") -> str:
    """``<sanitized namespace>_<name>``, or ``<name>`` without a namespace."""
    if not _STORE_NAME.match(name):
        raise StoreConfigError(
            f"store name {name[:80]!r} is not usable as a JetStream stream name: use 1-"
            f"{MAX_STORE_NAME} characters from A-Z a-z 0-9 - _ (put tenant text in the "
            f"namespace instead)"
        )
    full = f"{sanitize_namespace(check_namespace(namespace))}_{name}" if namespace else name
    if len(full) > MAX_STREAM_NAME - SUFFIX_RESERVE:
        raise StoreConfigError(
            f"stream name for namespace {namespace[:80]!r} would be {len(full)} characters; "
            f"with its suffixes JetStream allows {MAX_STREAM_NAME - SUFFIX_RESERVE}: use a "
            f"shorter namespace"
        )
    return full


def encode_token(actor_id: str) -> str:
    """One subject token that stands for exactly this actor id."""
    if _ALL_SAFE.fullmatch(actor_id):
        return actor_id
    raw = actor_id.encode("utf-8")
    return "".join(chr(byte) if byte in _SAFE_TOKEN else f"~{byte:02X}" for byte in raw)


def decode_token(token: str) -> str:
    """Inverse of ``encode_token``."""
    out = bytearray()
    index = 0
    while index < len(token):
        char = token[index]
        if char == "~":
            out.append(int(token[index + 1 : index + 3], 16))
            index += 3
        else:
            out.append(ord(char))
            index += 1
    return out.decode("utf-8")
