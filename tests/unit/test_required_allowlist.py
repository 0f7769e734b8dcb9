"""deploy/ ships the repository allowlist as a placeholder the sweeper refuses to start with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from sweeper.cli import settings_from
from sweeper.settings import ALLOW_REPOS_PLACEHOLDER, ConfigError

ROOT = Path(__file__).resolve().parents[2]
ENV = {"GITHUB_TOKEN": "ghp_secret123", "SWEEPER_LOCK_NAMESPACE": "ops"}


def shipped_env() -> dict[str, Any]:
    docs = [d for d in yaml.safe_load_all((ROOT / "deploy" / "cronjob.yaml").read_text()) if d]
    [job] = [d for d in docs if d["kind"] == "CronJob"]
    [container] = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e for e in container["env"]}


def test_the_cronjob_ships_the_placeholder_the_sweeper_knows() -> None:
    """deploy/cronjob.yaml's SWEEPER_ALLOW_REPOS is exactly the placeholder settings refuse."""
    assert shipped_env()["SWEEPER_ALLOW_REPOS"]["value"] == ALLOW_REPOS_PLACEHOLDER


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(ALLOW_REPOS_PLACEHOLDER, id="placeholder-alone"),
        pytest.param(f"acme/widgets,{ALLOW_REPOS_PLACEHOLDER}", id="placeholder-beside-a-repo"),
        pytest.param(f"  {ALLOW_REPOS_PLACEHOLDER}  ", id="placeholder-padded"),
    ],
)
def test_an_unconfigured_deployment_refuses_to_start_naming_where_to_set_it(value: str) -> None:
    """The placeholder left in (alone or beside real entries) is a ConfigError naming the fix."""
    with pytest.raises(ConfigError) as refused:
        settings_from([], {**ENV, "SWEEPER_ALLOW_REPOS": value})
    message = str(refused.value)
    assert message.startswith("SWEEPER_ALLOW_REPOS still holds deploy/'s placeholder")
    assert "deploy/cronjob.yaml" in message and "examples/overlay" in message


def test_a_set_allowlist_starts() -> None:
    """Replaced by real entries, the same variable gives the allowlist."""
    settings, _ = settings_from([], {**ENV, "SWEEPER_ALLOW_REPOS": "acme/widgets, acme/*"})
    assert settings.allow_repos == ("acme/widgets", "acme/*")
