"""Just enough of CommonMark's block structure to keep agent text from hiding or swallowing.

Two things in agent text change what a reader sees after it: a code fence left open
(everything below, the sweeper's own lines too, becomes code) and link reference
definitions (lines that render as nothing, so they can carry hidden text). Both depend
on where a line sits: a fence inside a list item closes at that item's indentation, or
when the item ends; a definition inside a fenced code block is code. `scan` walks the
lines once, tracking list items and fences; pure, no parser needed at run time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

_FENCE = re.compile(r"(`{3,}|~{3,})")
# A list item's marker and the spaces after it: `- `, `* `, `+ `, `1. `, `12) `.
_ITEM = re.compile(r"([-*+]|[0-9]{1,9}[.)])( +|$)")
# Lines that are no paragraph text: no lazy line may follow them.
_NOT_PARAGRAPH = re.compile(r"#{1,6}(?:[ \t]|$)|(?:[-*_][ \t]*){3,}$|`{3,}|~{3,}")


def _interrupts(rest: str) -> bool:
    """Whether a line starts a block even right after paragraph text, so is never lazy.

    A list item does only when it is not empty and, if ordered, starts at 1.
    """
    if _NOT_PARAGRAPH.match(rest) or rest.startswith(">"):
        return True
    item = _ITEM.match(rest)
    return (
        item is not None
        and item.group(1) in ("-", "*", "+", "1.", "1)")
        and bool(rest[item.end() :].strip())
    )


@dataclass(frozen=True)
class Fence:
    """An open fenced code block: its opening run, where it starts, and its container."""

    run: str  # the opener's backticks or tildes; a closer is the same, at least as long
    column: int  # where the run starts (tabs expanded to 4)
    container: int  # content column of the list item holding it; 0 at the top level

    def closer(self) -> str:
        """The line that closes it where it stands: inside its list item, not after it."""
        return " " * self.column + self.run

    def closed_by(self, rest: str) -> bool:
        """Whether a line (without its indentation) closes this fence."""
        match = _FENCE.match(rest)
        return (
            match is not None
            and match.group(1)[0] == self.run[0]
            and len(match.group(1)) >= len(self.run)
            and not rest[match.end() :].strip()
        )


@dataclass(frozen=True)
class Line:
    text: str
    code: bool  # inside a fenced code block, its opener and closer included
    fence: Fence | None  # the fence still open after this line


def _indent(expanded: str) -> int:
    return len(expanded) - len(expanded.lstrip(" "))


def scan(text: str) -> Iterator[Line]:
    """Each line of `text`, told whether it is fenced code, with the fence open after it."""
    items: list[int] = []  # content columns of the open list items, innermost last
    lazy = False  # the previous line was paragraph text: a lazy line keeps items open
    fence: Fence | None = None
    for line in text.split("\n"):
        expanded = line.expandtabs(4)
        indent = _indent(expanded)
        blank = not expanded.strip()
        if fence is not None:
            if blank or indent >= fence.container:
                rest = expanded[indent:]
                closes = not blank and indent - fence.container <= 3 and fence.closed_by(rest)
                fence = None if closes else fence
                yield Line(line, True, fence)
                continue
            fence = None  # the list item ended, and the fence with it
        if blank:
            lazy = False
            yield Line(line, False, None)
            continue
        rest = expanded[indent:]
        if not lazy or _interrupts(rest):
            while items and indent < items[-1]:
                items.pop()
        fence, lazy = _open(items, indent, rest, lazy)
        yield Line(line, fence is not None, fence)


def _open(items: list[int], column: int, rest: str, lazy: bool) -> tuple[Fence | None, bool]:
    """List items this line starts (pushed on `items`), and the fence it opens, if any.

    Returns the fence and whether the line is paragraph text (a lazy line may follow).
    """
    base = items[-1] if items else 0
    if column - base > 3:
        return None, lazy  # indented code, or a paragraph's continuation: no new block
    if lazy and not _interrupts(rest):
        return None, True  # the paragraph goes on
    while match := _ITEM.match(rest):
        spaces = len(match.group(2))
        width = len(match.group(1)) + (spaces if 1 <= spaces <= 4 else 1)
        items.append(column + width)
        column += width
        rest = rest[width:].lstrip(" ") if spaces <= 4 else rest[len(match.group(1)) + 1 :]
    match = _FENCE.match(rest)
    if match is not None:
        run = match.group(1)
        if not (run[0] == "`" and "`" in rest[match.end() :]):
            return Fence(run, column, items[-1] if items else 0), False
    return None, not _NOT_PARAGRAPH.match(rest) and bool(rest.strip())


def open_fence(text: str) -> Fence | None:
    """The fence `text` leaves open at its end, if any."""
    fence = None
    for line in scan(text):
        fence = line.fence
    return fence


# A link reference definition, `[label]: destination "title"`, after any container
# markers: it renders as nothing. The label may span lines, never a blank one.
_LINK_DEFINITION = re.compile(
    r"^(?:[ \t]*(?:>|(?:[-*+]|[0-9]{1,9}[.)])(?=[ \t])))*[ \t]*"
    r"\[(?:\\.|[^\\\[\]\n]|\n(?![ \t]*\n))+\]:[^\n]*(?:\n|\Z)",
    re.M,
)


def drop_link_definitions(text: str) -> str:
    """Link reference definitions removed, outside fenced code: no hidden lines.

    Each leaves a blank line, so the lines around it never join into a new sentence
    (`Fixes` above, `#9` below).
    """
    out: list[str] = []
    prose: list[str] = []
    for line in scan(text):
        if line.code:
            out.append(_LINK_DEFINITION.sub("\n", "".join(prose)))
            prose = []
            out.append(line.text + "\n")
        else:
            prose.append(line.text + "\n")
    out.append(_LINK_DEFINITION.sub("\n", "".join(prose)))
    return "".join(out)[:-1] if text else text
