"""The report: structlog configured once, one JSON object per line on stdout."""

from __future__ import annotations

import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

Log = structlog.typing.FilteringBoundLogger


def _redactor(secrets: tuple[str, ...]) -> structlog.typing.Processor:
    """Defence in depth: no value that reaches the output may contain a secret."""

    def redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        for key, value in event.items():
            text = value if isinstance(value, str) else None
            if text and any(s in text for s in secrets):
                for secret in secrets:
                    text = text.replace(secret, "[redacted]")
                event[key] = text
        return event

    return redact


def configure(
    log_format: str = "auto", secrets: tuple[str, ...] = (), stream: TextIO | None = None
) -> Log:
    out = stream or sys.stdout
    as_json = log_format == "json" or (log_format == "auto" and not out.isatty())
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer(sort_keys=False)
        if as_json
        else structlog.dev.ConsoleRenderer(colors=out.isatty())
    )
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
            _redactor(tuple(s for s in secrets if s)),
            renderer,
        ],
        logger_factory=structlog.PrintLoggerFactory(file=out),
        wrapper_class=structlog.make_filtering_bound_logger(0),
        cache_logger_on_first_use=False,
    )
    logger: Log = structlog.get_logger()
    return logger
