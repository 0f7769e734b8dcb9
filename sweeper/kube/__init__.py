"""The Kubernetes adapter: the only package that imports the `kubernetes` client.

Thin by design. Its modules, from the bottom up: `transport` (configuration, one call and
its retries, the error mapping, raw bounded reading and decoding), then `reads` (Workloads,
AgenticTasks and Agents, in pages), `writes` (annotations, Events, the Lease) and `looks`
(read-only questions, for `check`), and `client` (`Kube`, all of them as the pipeline holds
them, and `connect`). No HTTP code leaves here; nothing imports upward (import-linter).
"""

from sweeper.kube.client import Kube, connect
from sweeper.kube.transport import VERSION

__all__ = ["VERSION", "Kube", "connect"]
