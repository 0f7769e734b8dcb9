"""A real Prometheus Pushgateway (Debian's `prometheus-pushgateway`) on a loopback port.

Started by the tests themselves, in memory only (Debian's default persistence file off),
and scraped over HTTP the way Prometheus would. Absent outside CI, the tests that need it
skip naming the package; under CI (`CI` set) its absence fails them: `.ci/run` installs it.
"""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.real.tools import require

PACKAGE = "prometheus-pushgateway"


def binary_or_skip() -> str:
    return require(PACKAGE, "prometheus-pushgateway", "pushgateway")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


class Pushgateway:
    def __init__(self, url: str) -> None:
        self.url = url

    def scrape(self) -> list[Sample]:
        """Every sample the gateway exposes, as Prometheus would scrape it."""
        with urllib.request.urlopen(self.url + "/metrics", timeout=5) as response:
            text = response.read().decode()
        return [
            Sample(s.name, dict(s.labels), s.value)
            for family in text_string_to_metric_families(text)
            for s in family.samples
        ]

    def series(self, prefix: str = "foreman_pr_sweeper_", **labels: str) -> dict[str, float]:
        """`name{label="v",...}` -> value for our series matching `labels`."""
        out = {}
        for s in self.scrape():
            if s.name.startswith(prefix) and all(s.labels.get(k) == v for k, v in labels.items()):
                # An empty label is no label (the gateway shows `instance=""`).
                shown = {k: v for k, v in sorted(s.labels.items()) if k not in labels and v}
                inner = ",".join(f'{k}="{v}"' for k, v in shown.items())
                out[f"{s.name}{{{inner}}}" if inner else s.name] = s.value
        return out


@contextmanager
def pushgateway() -> Iterator[Pushgateway]:
    binary = binary_or_skip()
    port = free_port()
    proc = subprocess.Popen(
        # Debian's build persists to /var/lib/prometheus by default: keep each one apart.
        [binary, f"--web.listen-address=127.0.0.1:{port}", "--persistence.file="],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(url + "/-/ready", timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = proc.stderr.read().decode() if proc.stderr else ""
                    pytest.fail(f"the Pushgateway did not start: {err[-500:]}")
                time.sleep(0.05)
        yield Pushgateway(url)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
