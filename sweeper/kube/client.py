"""`Kube`, the adapter as the pipeline holds it: its reads, writes and looks over one
transport, and `connect`, which makes one from the configuration found."""

from __future__ import annotations

from sweeper.kube.looks import Looks
from sweeper.kube.reads import Reads
from sweeper.kube.transport import api_client
from sweeper.kube.writes import Writes
from sweeper.settings import Tunables
from sweeper.stopping import Stop


class Kube(Reads, Writes, Looks):
    """Lists and reads Foreman objects, writes annotations, Events and the Lease, and
    answers `check`'s read-only questions; API errors arrive as `sweeper.errors` types."""


def connect(
    kubeconfig: str | None = None, tunables: Tunables | None = None, stop: Stop | None = None
) -> Kube:
    """In-cluster config inside a pod, else KUBECONFIG or ~/.kube/config; an error names
    what was tried."""
    return Kube(api_client(kubeconfig), tunables, stop)
