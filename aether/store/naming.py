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

Limits, the same for every backend, bus and cluster (checked before anything is written, so a
name that one backend accepts every backend accepts; see ``check_actor_id``/``check_namespace``):

- an actor id is 1 to ``MAX_ACTOR_ID_BYTES`` bytes of UTF-8 (no lone surrogates); encoded, it
  stays far below the NATS server's 4 KiB protocol control line, so no id can break the shared
  connection;
- a namespace is at most ``MAX_NAMESPACE_BYTES`` bytes of UTF-8, so every stream, bucket and
  subject derived from it stays within NATS's limits.
"""

from __future__ import annotations

import re

from aether.errors import InvalidEventError, StoreConfigError

_SAFE_TOKEN = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_ALL_SAFE = re.compile(r"[A-Za-z0-9_-]+")
_UNFIT_FOR_HEADER = re.compile(r"[\x00-\x1f\x7f]|^\s|\s$")
_STREAM_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_STORE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,200}$")
MAX_STREAM_NAME = 255
MAX_ACTOR_ID_BYTES = 512
MAX_NAMESPACE_BYTES = 64


def utf8_size(text: str, what: str, error: type[Exception]) -> int:
    """Bytes of ``text`` in UTF-8; text that has no UTF-8 form (lone surrogates) is refused."""
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise error(
            f"{what} {text[:80]!r} contains a lone surrogate, which has no UTF-8 form: "
            f"pass well-formed text"
        ) from None


def check_actor_id(actor_id: str) -> str:
    """Refuse, with InvalidEventError, an actor id no backend can store."""
    size = utf8_size(actor_id, "actor id", InvalidEventError)
    if not 0 < size <= MAX_ACTOR_ID_BYTES:
        raise InvalidEventError(
            f"actor id of {size} bytes (UTF-8) is outside the limit of 1 to "
            f"{MAX_ACTOR_ID_BYTES} bytes: {actor_id[:80]!r}; use a shorter id (e.g. a uuid)"
        )
    return actor_id


def check_namespace(namespace: str) -> str:
    """Refuse, with StoreConfigError, a namespace no store, bus or cluster can carry."""
    size = utf8_size(namespace, "namespace", StoreConfigError)
    if size > MAX_NAMESPACE_BYTES:
        raise StoreConfigError(
            f"namespace of {size} bytes (UTF-8) is over the limit of {MAX_NAMESPACE_BYTES} "
            f"bytes: {namespace[:80]!r}; use a shorter namespace"
        )
    return namespace


def sanitize_namespace(namespace: str) -> str:
    """The stream-name prefix for a namespace (empty stays empty)."""
    return _STREAM_NAME_UNSAFE.sub("_", namespace)


def stream_name(name: str, namespace: str = "") -> str:
    """``<sanitized namespace>_<name>``, or ``<name>`` without a namespace."""
    if not _STORE_NAME.match(name):
        raise StoreConfigError(
            f"store name {name!r} is not usable as a JetStream stream name: use 1-200 "
            f"characters from A-Z a-z 0-9 - _ (put tenant text in the namespace instead)"
        )
    full = f"{sanitize_namespace(namespace)}_{name}" if namespace else name
    if len(full) > MAX_STREAM_NAME:
        raise StoreConfigError(
            f"stream name for namespace {namespace!r} would be {len(full)} characters; "
            f"JetStream allows {MAX_STREAM_NAME}: use a shorter namespace"
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


def check_header_value(name: str, value: str) -> str:
    """Header values travel in the NATS protocol; CR, LF and other control characters
    would end the header early or forge new ones, so they are refused."""
    if _UNFIT_FOR_HEADER.search(value) is None:
        return value
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        raise InvalidEventError(
            f"{name} {value!r} contains a control character (CR, LF, tab, ...), which cannot "
            f"travel in a NATS header: use printable text"
        )
    if value != value.strip():
        raise InvalidEventError(
            f"{name} {value!r} has leading or trailing spaces, which NATS headers drop: "
            f"strip it first"
        )
    return value
