"""`foreman-pr-sweeper report`: a run's JSON lines, read back as what an operator reads.

Functional core, thin shell. `parse` turns log lines into plain dataclasses (a `Run` per
run, between `sweep.started` and `sweep.finished`); `readout` derives what a run's
section shows (result, counts, PRs, failures and deferrals with the operator's next step,
skips, warnings, quota); `render_text` and `render_markdown` lay the same readout out for
a terminal or a GitHub issue; `main` reads a file or standard input and prints.

Everything in a log is data, never markup: any line may come from an older or newer
version, be cut off, or carry text an agent or a Workload's author wrote. Unknown fields
are ignored, missing or mistyped ones tolerated, non-JSON lines counted and skipped. Text
from the log reaches the output only as a `Val`: control characters made visible in a
terminal, and in markdown a code span (pipes escaped in tables) that no backtick, pipe or
newline in it can leave. Standard library and the sweeper's vocabulary (`sweeper.outcomes`)
only: no cluster, no token, no adapter.
"""
