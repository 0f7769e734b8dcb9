"""Running as a GitHub App: a JWT, an installation per owner, tokens that expire, and failures.

The stand-in verifies the JWT's RS256 signature with the App's public key (a key made at
test time), serves /app, the installation look-ups and token minting with an expiry,
accepts only live installation tokens, and keeps a quota per installation.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests.e2e.harness import Run, World
from tests.fixtures.keys import key_file, private_pem, public_pem, rsa_key

pytestmark = pytest.mark.e2e
APP_ID = 424242


def pem(key: Any) -> bytes:
    return private_pem(key)


@pytest.fixture(scope="module")
def keys() -> tuple[Any, Any]:
    return rsa_key(0), rsa_key(1)


@pytest.fixture
def app(world: World, keys: tuple[Any, Any]) -> Iterator[Path]:
    """The App enabled on the stand-in; the path of its private key file."""
    world.github.enable_app(APP_ID, public_pem(keys[0]))
    yield key_file(world.tmp, 0, "app-key.pem")


def as_app(world: World, key_file: Path, *args: str, **env: str) -> Run:
    return world.sweep(
        *args,
        GITHUB_TOKEN="",
        GITHUB_APP_ID=str(APP_ID),
        GITHUB_APP_PRIVATE_KEY_FILE=str(key_file),
        **env,
    )


def two_owners(world: World) -> None:
    world.simple("alpha", repo="acme/widgets")
    world.simple("beta", repo="other/thing")


def test_two_owners_on_two_installations(world: World, app: Path) -> None:
    """Each owner's branches go through its own installation's token and quota."""
    two_owners(world)
    acme, other = world.github.install("acme"), world.github.install("other")
    run = as_app(world, app)
    assert run.code == 0, run.stdout
    assert run.summary["counts"] == {"opened": 2}
    assert len(world.pulls("acme/widgets")) == 1 and len(world.pulls("other/thing")) == 1
    assert world.github.tokens_minted == 2
    for installation in (acme, other):  # one create (REST) and one query (GraphQL) each
        assert world.github.quota(f"inst:{installation}") == {"core": 4999, "graphql": 4999}
        assert world.github.graphql.points_of(f"inst:{installation}") == 1
    assert world.github.quota("token") == {"core": 5000, "graphql": 5000}  # no token used
    assert world.github.graphql.points_of("token") == 0
    started = run.lines[0]
    assert started["settings"]["auth"] == "github-app"
    assert started["settings"]["github_app_id"] == str(APP_ID)


def test_an_apps_quota_is_reported_per_installation_exactly(world: World, app: Path) -> None:
    """github_rate has each installation's core and graphql buckets, nothing unscoped."""
    two_owners(world)
    acme, other = world.github.install("acme"), world.github.install("other")
    run = as_app(world, app)
    assert run.code == 0, run.stdout
    reset = datetime.fromtimestamp(world.github.rate_limit_reset, UTC)
    resets_at = reset.strftime("%Y-%m-%dT%H:%M:%SZ")
    expected = {}
    for owner, installation in (("acme", acme), ("other", other)):
        left = world.github.quota(f"inst:{installation}")
        for kind in ("core", "graphql"):  # one create, one query of one point
            expected[f"{kind}@{owner}"] = {
                "used": 1,
                "remaining": left[kind],
                "limit": 5000,
                "resets_at": resets_at,
            }
    assert run.summary["github_rate"] == expected
    # /app, then per owner its installation and one token.
    assert run.summary["github_calls"] == {
        "auth": 5,
        "graphql": 2,
        "graphql_points": 2,
        "read": 2,
        "write": 2,
    }


def test_an_owner_without_the_app_fails_alone(world: World, app: Path) -> None:
    """Not installed on `other`: its branch fails app-not-installed (exit 1); acme goes on."""
    two_owners(world)
    world.github.install("acme")
    run = as_app(world, app)
    assert run.code == 1
    assert run.outcome("foreman/alpha/issue-1") == ("opened", "missing-pr")
    assert run.outcome("foreman/beta/issue-1") == ("failed", "app-not-installed")
    [beta] = [d for d in run.decisions if d["workload"] == "beta"]
    assert "install it there" in beta["detail"] and "other" in beta["detail"]


def test_a_token_that_expires_mid_run_is_minted_again(world: World, app: Path) -> None:
    """Revoked after the first create: re-minted, the second create goes through, no duplicate."""
    world.simple(issues=(1, 2))
    world.github.install("acme")
    creates = {"n": 0}

    def revoke_after_first(method: str, path: str, body: object) -> None:
        if method == "POST" and path.endswith("/pulls"):
            creates["n"] += 1
            if creates["n"] == 2:
                world.github.revoke_tokens()

    world.github.on_request(revoke_after_first)
    run = as_app(world, app)
    world.github.on_request(None)
    assert run.code == 0, run.stdout
    assert run.summary["counts"] == {"opened": 2}
    assert sorted(p["head"]["ref"] for p in world.pulls()) == [
        "foreman/wl/issue-1",
        "foreman/wl/issue-2",
    ]
    assert world.github.tokens_minted == 2


def test_a_wrong_key_is_a_configuration_error(
    world: World, app: Path, keys: tuple[Any, Any]
) -> None:
    """Key and ID that do not match: exit 2 at start-up, nothing done."""
    world.simple()
    wrong = world.tmp / "wrong.pem"
    wrong.write_bytes(pem(keys[1]))
    run = as_app(world, wrong)
    assert run.code == 2
    assert [line["event"] for line in run.lines[-2:]] == ["sweep.config_error", "sweep.finished"]
    assert "do not match" in run.lines[-2]["detail"]
    assert run.summary["exit_code"] == 2 and run.summary["result"] == "config-error"
    assert world.pulls() == []


def test_a_clock_an_hour_off_is_corrected_from_githubs_date(world: World, app: Path) -> None:
    """The JWT is refused as expired; the Date header tells GitHub's time; signed again."""
    world.simple()
    world.github.install("acme")
    world.github.clock_offset_s = 3600
    run = as_app(world, app)
    assert run.code == 0, run.stdout
    assert run.summary["counts"] == {"opened": 1}


def test_the_dry_run_reads_as_the_app_and_writes_nothing(world: World, app: Path) -> None:
    """--dry-run as an App: would-open, no write."""
    two_owners(world)
    world.github.install("acme", "other")
    run = as_app(world, app, "--dry-run")
    assert run.code == 0
    assert run.summary["counts"] == {"would-open": 2}
    assert world.github.writes == []


def test_a_missing_permission_is_named(world: World, app: Path) -> None:
    """An installation without Pull requests: write fails permission-denied, naming it."""
    world.simple()
    world.github.install("acme", permissions={"contents": "read", "metadata": "read"})
    run = as_app(world, app)
    assert run.code == 1
    [d] = run.decisions
    assert (d["outcome"], d["reason"]) == ("failed", "permission-denied")
    assert "pull_requests: write" in d["detail"]


def test_one_installation_at_its_reserve_defers_only_its_own(world: World, app: Path) -> None:
    """Quota per installation: acme's is at the reserve, other's is not."""
    two_owners(world)
    acme = world.github.install("acme")
    world.github.install("other")
    world.github.quota(f"inst:{acme}")["core"] = 1000
    run = as_app(world, app)
    assert run.code == 0, run.stdout
    assert run.outcome("foreman/alpha/issue-1") == ("deferred", "rate-reserve")
    assert run.outcome("foreman/beta/issue-1") == ("opened", "missing-pr")


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"not a key at all", id="garbage"),
        pytest.param(pem(ec.generate_private_key(ec.SECP256R1())), id="not-rsa"),
    ],
)
def test_a_key_file_that_is_no_rsa_key_is_exit_2_naming_the_file(
    world: World, content: bytes
) -> None:
    """The file is named, its content never shown."""
    bad = world.tmp / "bad.pem"
    bad.write_bytes(content)
    run = as_app(world, bad)
    assert run.code == 2
    detail = run.lines[-1]["detail"]
    assert str(bad) in detail and "not an RSA private key" in detail
    assert content.decode(errors="replace")[:40] not in run.stdout + run.stderr


def test_an_unreadable_key_file_and_both_credentials_are_exit_2(world: World, app: Path) -> None:
    """A missing file, a token beside an App, an App without a key: configuration errors."""
    missing = as_app(world, world.tmp / "nope.pem")
    # The key file came from GITHUB_APP_PRIVATE_KEY_FILE, so the refusal names that variable.
    assert missing.code == 2 and "cannot read GITHUB_APP_PRIVATE_KEY_FILE=" in missing.stdout
    both = world.sweep(GITHUB_APP_ID=str(APP_ID), GITHUB_APP_PRIVATE_KEY_FILE=str(app))
    assert both.code == 2 and "give exactly one" in both.stdout
    no_key = world.sweep(GITHUB_TOKEN="", GITHUB_APP_ID=str(APP_ID))
    assert no_key.code == 2 and "needs both" in no_key.stdout


def test_no_key_jwt_or_token_appears_in_any_output(world: World, app: Path) -> None:
    """Minted tokens, the JWT and the key's lines are never printed, even on failures."""
    two_owners(world)
    world.github.install("acme")
    world.github.inject("POST", r"/pulls$", status=500, times=5)
    run = as_app(world, app)
    output = run.stdout + run.stderr
    assert "ghs_standin" not in output
    assert not any(line in output for line in app.read_text().splitlines() if len(line) > 16)
    assert "eyJ" not in output  # the start of every JWT


def test_a_secondary_limit_on_one_installation_defers_only_its_owner(
    world: World, app: Path
) -> None:
    """GitHub says stop to acme's installation: acme's branch waits, other's still opens."""
    two_owners(world)
    world.github.install("acme")
    world.github.install("other")
    world.github.secondary_limit(2, retry_after=1)
    run = as_app(world, app)
    assert run.code == 0, run.stdout
    assert run.outcome("foreman/alpha/issue-1") == ("deferred", "rate-limited")
    assert run.outcome("foreman/beta/issue-1") == ("opened", "missing-pr")


def test_metrics_per_installation(world: World, app: Path) -> None:
    """Each installation's quota is its own series, labelled with the owner it serves."""
    from tests.real.pushgateway import pushgateway

    two_owners(world)
    acme, other = world.github.install("acme"), world.github.install("other")
    with pushgateway() as gateway:
        assert as_app(world, app, "--pushgateway-url", gateway.url).code == 0
        got = gateway.series(job="foreman-pr-sweeper", mode="sweep")
    for owner, installation in (("acme", acme), ("other", other)):
        used = got[f'foreman_pr_sweeper_github_quota_used{{bucket="core",installation="{owner}"}}']
        left = world.github.quota(f"inst:{installation}")["core"]
        assert used == 1  # one create
        key = f'foreman_pr_sweeper_github_quota_remaining{{bucket="core",installation="{owner}"}}'
        assert got[key] == left
    assert got['foreman_pr_sweeper_github_requests{kind="auth"}'] == 5  # /app, look-ups, mints
    for owner in ("acme", "other"):
        key = f'foreman_pr_sweeper_github_quota_used{{bucket="graphql",installation="{owner}"}}'
        assert got[key] == 1
    assert not [key for key in got if "quota" in key and "installation" not in key]
