"""Bounded decoding of cluster content: JSON a tenant shaped, read without trusting it.

Pure. A list page is split into its items by a scan of its bytes (brackets outside
strings), never by decoding it whole, so each item is decoded only once it is known to be
within the size and depth caps. An object over the cap costs its bytes, never the Python
structures it would make (about five times as many for a long list of numbers); one nested
deeper than the cap never reaches a recursive decoder (Python's raises `RecursionError`
near 1,000 levels, and so does every later `json.dumps` of it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

# Foreman's objects nest about ten levels (managedFields mirror them a few levels deeper);
# an agent's free-form result a few more. Far below the decoders' recursion limits.
MAX_DEPTH = 100

# Everything up to and including the next bracket outside a string (strings skipped whole,
# escapes included), possessive so that no input makes it backtrack: a match ends at one
# structural bracket; no match means none follows (or a string never ends).
_STRUCTURE = re.compile(
    rb'[^"\[\]{}]*+(?:"[^"\\]*+(?:\\.[^"\\]*+)*+"[^"\[\]{}]*+)*+[\[\]{}]', re.DOTALL
)
_ITEMS_KEY = re.compile(rb'[{,\s]"items"\s*:\s*\Z')
_METADATA_KEY = re.compile(rb'[{,\s]"metadata"\s*:\s*\Z')
_OPEN = frozenset(b"[{")
Data = bytes | bytearray


class Undecodable(ValueError):
    """Content refused before decoding; the message says what was wrong."""


class NotJson(Undecodable):
    """Within the caps, but not JSON at all."""


@dataclass(frozen=True)
class Span:
    """One item of a list page: its bytes are data[start:end]; `depth` its deepest nesting;
    `metadata` where its top-level `metadata` object lies, if it has one."""

    start: int
    end: int
    depth: int
    metadata: tuple[int, int] | None = None

    @property
    def size(self) -> int:
        return self.end - self.start


def _brackets(data: Data) -> Iterator[int]:
    """The position of every bracket outside strings, in order: linear in the data."""
    at = 0
    while (match := _STRUCTURE.match(data, at)) is not None:
        at = match.end()
        yield at - 1


def depth_of(data: Data) -> int:
    """How deep the JSON text nests (0 for a scalar), counting brackets outside strings."""
    depth = deepest = 0
    for at in _brackets(data):
        if data[at] in _OPEN:
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def loads(data: Data | str, max_bytes: int, max_depth: int = MAX_DEPTH) -> Any:
    """JSON text decoded, or Undecodable when it is too big, too deep or not JSON."""
    raw = data.encode() if isinstance(data, str) else data
    if len(raw) > max_bytes:
        raise Undecodable(f"{len(raw):,} bytes, more than the {max_bytes:,}-byte cap")
    depth = depth_of(raw)
    if depth > max_depth:
        raise Undecodable(f"nested {depth} levels deep, more than {max_depth}")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as err:
        raise NotJson(f"not valid JSON ({type(err).__name__})") from None


@dataclass(frozen=True)
class Page:
    """A list answer, split: its envelope (without items), where each item lies, and where
    the items array lies (data[items[0]:items[1]]), to decode it at once when all are fine."""

    envelope: dict[str, Any]
    spans: list[Span]
    items: tuple[int, int] | None


def split_list(data: Data) -> Page:
    """A list answer (`{"items": [...], "metadata": {...}, ...}`), split without decoding
    its items. Undecodable if it is no such answer."""
    depth = 0
    items: tuple[int, int] | None = None
    spans: list[Span] = []
    start = deepest = 0
    meta_start: int | None = None
    metadata: tuple[int, int] | None = None
    for at in _brackets(data):
        inside = items is not None and items[1] < 0
        if data[at] in _OPEN:
            depth += 1
            if depth == 2 and items is None and _ITEMS_KEY.search(data, max(0, at - 40), at):
                items = (at, -1)
            elif inside and depth == 3:
                start, deepest, meta_start, metadata = at, 1, None, None
            elif inside and depth == 4 and _METADATA_KEY.search(data, max(0, at - 40), at):
                meta_start = at
            if inside:
                deepest = max(deepest, depth - 2)
            continue
        if inside and depth == 3:
            spans.append(Span(start, at + 1, deepest, metadata))
        elif inside and depth == 4 and meta_start is not None:
            metadata, meta_start = (meta_start, at + 1), None
        elif inside and depth == 2 and items is not None:
            items = (items[0], at + 1)
        depth -= 1
    if depth != 0 or (items is not None and items[1] < 0):
        raise Undecodable("the list answer is not valid JSON (unbalanced brackets)")
    rest = data if items is None else data[: items[0]] + b"[]" + data[items[1] :]
    envelope = loads(rest, max(len(rest), 1))
    if not isinstance(envelope, dict):
        raise Undecodable("the list answer is not a JSON object")
    return Page(envelope, spans, items)


@dataclass(frozen=True)
class Unreadable:
    """A list item refused before decoding: what its metadata says (when that much could
    be read) and why it was refused."""

    namespace: str | None
    name: str | None
    uid: str | None
    why: str

    def describe(self, kind: str) -> str:
        """`workloads tenant-a/huge-001: 1,090,000 bytes, more than ...`"""
        where = "/".join(part for part in (self.namespace, self.name) if part)
        return f"{kind} {where or '(name unreadable)'}: {self.why}"


# The metadata of a refused item is decoded to name it when it is at most this big (the API
# server caps all annotations at 256 KiB).
_METADATA_BYTES = 512 * 1024


# A page at most this big is decoded in one go when all its items are within the caps;
# a bigger one an item at a time, as its reader asks, so it never exists decoded at once
# (150,000 numbers are 1 MiB of JSON but 5.4 MiB decoded).
WHOLE_PAGE_BYTES = 1024 * 1024


def decode_items(
    data: Data, page: Page, max_bytes: int, max_depth: int = MAX_DEPTH
) -> Iterator[dict[str, Any] | Unreadable]:
    """Every item of the page: decoded when within the caps, else what names it, and why."""
    if page.items is None:
        return iter(())
    fine = all(s.size <= max_bytes and s.depth <= max_depth for s in page.spans)
    if fine and len(data) <= WHOLE_PAGE_BYTES:
        try:
            whole = json.loads(data).get("items")
        except (ValueError, RecursionError, AttributeError):
            whole = None
        if (
            isinstance(whole, list)
            and len(whole) == len(page.spans)
            and all(isinstance(item, dict) for item in whole)
        ):
            return iter(whole)
    return (_item(data, span, max_bytes, max_depth) for span in page.spans)


def _item(data: Data, span: Span, max_bytes: int, max_depth: int) -> dict[str, Any] | Unreadable:
    if span.size > max_bytes:
        return _unreadable(data, span, f"{span.size:,} bytes, more than the {max_bytes:,}-byte cap")
    if span.depth > max_depth:
        return _unreadable(data, span, f"nested {span.depth} levels deep, more than {max_depth}")
    try:
        obj = json.loads(data[span.start : span.end])
    except (ValueError, RecursionError) as err:
        return _unreadable(data, span, f"not valid JSON ({type(err).__name__})")
    return obj if isinstance(obj, dict) else _unreadable(data, span, "not a JSON object")


def _unreadable(data: Data, span: Span, why: str) -> Unreadable:
    meta: Any = None
    if span.metadata is not None:
        try:
            meta = loads(data[span.metadata[0] : span.metadata[1]], _METADATA_BYTES)
        except Undecodable:
            meta = None
    meta = meta if isinstance(meta, dict) else {}

    def text(key: str) -> str | None:
        value = meta.get(key)
        return value[:253] if isinstance(value, str) and value else None

    return Unreadable(text("namespace"), text("name"), text("uid"), why)
