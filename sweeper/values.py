"""Raw setting values and where they came from, and the checks each kind goes through.

Every value arrives as a `Given`: its text and its place (a flag, a variable, a file, or
the default). A check raises `Invalid` saying what is wrong; `check` turns that into a
`ConfigError` that names the place and quotes the value, so a refusal never blames a
flag for what a variable said. Pure: no I/O.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Generic, TypeVar

T = TypeVar("T")
V = TypeVar("V")

_DURATION = re.compile(r"^\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s)?\s*$")
_LABEL_SELECTOR = re.compile(r"^[A-Za-z0-9_./!=(), -]*$")
_OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_TEAM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})
LOG_FORMATS = ("auto", "json", "console")


class ConfigError(ValueError):
    """A setting that cannot work; the message is the one line the user sees, `source`
    where the value came from: `flag --min-age`, `variable SWEEPER_MIN_AGE`, `file PATH`."""

    reason = "config"

    def __init__(self, message: str, source: str = "") -> None:
        super().__init__(message)
        self.source = source


class Invalid(ValueError):
    """What is wrong with a value, without naming it: the caller knows where it came from."""


def _is_file(name: str) -> bool:
    return name.startswith(("/", "~", "."))


@dataclass(frozen=True)
class Given(Generic[T]):
    """One raw setting and where it came from: a flag (`--min-age`), a variable
    (`SWEEPER_MIN_AGE`), a file (`/path`), or `""` for the default."""

    value: T
    name: str = ""

    @property
    def where(self) -> str:
        """`flag --min-age`, `variable SWEEPER_MIN_AGE`, `file /path` or `default`."""
        if not self.name:
            return "default"
        if self.name.startswith("-"):
            return f"flag {self.name}"
        return f"file {self.name}" if _is_file(self.name) else f"variable {self.name}"

    def shown(self, text: str, entry: bool = False) -> str:
        """The place and the value, as a refusal quotes them: `--min-age 'soon'`,
        `SWEEPER_MIN_AGE='soon'`, `SWEEPER_ALLOW_REPOS entry 'acme'`."""
        quoted = repr(text[:80])
        if not self.name:
            return f"the default {quoted}"
        if self.name.startswith("-"):
            return f"{self.name} {quoted}"
        if _is_file(self.name):
            return f"{quoted} in {self.name}"
        return f"{self.name} entry {quoted}" if entry else f"{self.name}={quoted}"


def check(given: Given[str], parse: Callable[[str], V]) -> V:
    """The value parsed, or a ConfigError naming where it came from."""
    try:
        return parse(given.value)
    except Invalid as err:
        raise ConfigError(f"{given.shown(given.value)} {err}", given.where) from None


def optional(given: Given[str | None], parse: Callable[[str], V]) -> V | None:
    if given.value is None:
        return None
    return check(Given(given.value, given.name), parse)


def each(given: Given[tuple[str, ...]], parse: Callable[[str], V]) -> tuple[V, ...]:
    """Every entry of a repeatable flag or a comma-separated variable, parsed."""
    parsed = []
    for item in given.value:
        try:
            parsed.append(parse(item))
        except Invalid as err:
            raise ConfigError(f"{given.shown(item, entry=True)} {err}", given.where) from None
    return tuple(parsed)


def unique(items: Iterable[V]) -> tuple[V, ...]:
    return tuple(dict.fromkeys(items))


# ---------------------------------------------------------------- one kind of value each


def boolean(text: str) -> bool:
    """true/false, 1/0, yes/no, on/off in any case; nothing else (a typo is no `false`)."""
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise Invalid("is not true or false (true/false, 1/0, yes/no, on/off)")


def number(kind: Callable[[str], V], low: float, high: float | None) -> Callable[[str], V]:
    """A check of whole (`int`) or decimal (`float`) numbers from low to high."""
    whole = "a whole number" if kind is int else "a number"
    span = f"from {low:g} to {high:g}" if high is not None else f"of {low:g} or more"

    def parse(text: str) -> V:
        try:
            value = kind(text.strip())
        except ValueError:
            raise Invalid(f"is not {whole} {span}") from None
        size = float(value)  # type: ignore[arg-type]
        if math.isnan(size) or size < low or (high is not None and size > high):
            raise Invalid(f"is not {whole} {span}")
        return value

    return parse


def duration(text: str) -> timedelta:
    """`90s`, `10m`, `1h30m` or a bare number of seconds.

    Not `durationpy` (Go's syntax, installed with `kubernetes`): it refuses bare seconds
    ("90"), which --min-age accepts, and accepts what --min-age refuses (1.5h, 300ms, 1d,
    -1h, 30m1h, 1h1h; it does not even check the text between units). Keeping today's
    set would need this regex as a guard in front of it, and the guard is the parser.
    """
    text = text.strip()
    if text.isdigit():
        return timedelta(seconds=int(text))
    match = _DURATION.match(text)
    if not text or not match or not any(match.groups()):
        raise Invalid("is not a duration like 10m, 1h30m or 90s")
    hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return timedelta(hours=hours, minutes=minutes, seconds=seconds)


def namespace(name: str) -> str:
    if not _DNS_LABEL.match(name):
        raise Invalid("is not a valid namespace name")
    return name


def object_name(name: str) -> str:
    if not _DNS_LABEL.match(name):
        raise Invalid("is not a valid object name")
    return name


def selector(text: str) -> str:
    if not text.strip() or not _LABEL_SELECTOR.match(text):
        raise Invalid("is not a label selector")
    return text


def owner(name: str) -> str:
    if not _OWNER.match(name):
        raise Invalid("is not a GitHub owner name")
    return name


def login(name: str) -> str:
    if not _OWNER.match(name) or "--" in name or name.endswith("-"):
        raise Invalid("is not a GitHub login")
    return name


def team(name: str) -> str:
    if not _TEAM.match(name):
        raise Invalid("is not ORG/TEAM-SLUG")
    return name


def label(name: str) -> str:
    if not name.strip() or len(name) > 50 or any(ord(ch) < 32 for ch in name):
        raise Invalid("is not a label name (1-50 characters)")
    return name


def log_format(text: str) -> str:
    if text not in LOG_FORMATS:
        raise Invalid("is not auto, json or console")
    return text
