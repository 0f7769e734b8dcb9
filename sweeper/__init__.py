"""foreman-pr-sweeper: open the missing pull requests of completed Foreman Workloads."""

__version__ = "0.1.0"
