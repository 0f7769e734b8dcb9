"""Real programs the tests run (kubectl, jq, the Pushgateway): found, or skipped by name.

Outside CI a missing program skips the test, naming the Debian package that provides
it; under CI (`CI` set) it fails the test, since `.ci/run` installs every one of them.
"""

from __future__ import annotations

import os
import shutil

import pytest


def require(package: str, *names: str) -> str:
    """The path of the first of `names` on PATH, else skip (or, under CI, fail)."""
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI"):
        pytest.fail(f"{names[0]} is missing under CI (.ci/run installs Debian's {package})")
    pytest.skip(f"needs {names[0]} (Debian package {package})")


def kubectl_or_skip() -> str:
    return require("kubernetes-client", "kubectl")


def jq_or_skip() -> str:
    return require("jq", "jq")
