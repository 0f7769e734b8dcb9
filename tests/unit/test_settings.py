"""Settings are validated before any I/O; a bad one is one clear line and exit code 2."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from sweeper import settings as settings_module
from sweeper.cli import main, settings_from
from sweeper.settings import (
    ALLOW_REPOS_PLACEHOLDER,
    ConfigError,
    parse_duration,
    unknown_variables,
)

ENV = {"GITHUB_TOKEN": "ghp_secret123", "SWEEPER_LOCK_NAMESPACE": "ops"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10m", timedelta(minutes=10)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("90s", timedelta(seconds=90)),
        ("0", timedelta(0)),
        ("600", timedelta(minutes=10)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    """Durations read like Kubernetes' own: 10m, 1h30m, 90s or plain seconds."""
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "ten minutes", "10x", "-5m", "m"])
def test_parse_duration_rejects(text: str) -> None:
    """Anything else is a configuration error, not a silent default."""
    with pytest.raises(ConfigError):
        parse_duration(text)


def test_defaults() -> None:
    """With only a token the sweeper covers all namespaces, for real, with a 10m min age."""
    s, kubeconfig = settings_from([], ENV)
    assert s.namespaces == () and not s.dry_run and s.min_age == timedelta(minutes=10)
    assert s.github_api_url == "https://api.github.com"
    assert (s.max_create, s.write_interval_s, s.lock_namespace) == (50, 1.0, "ops")
    assert kubeconfig is None


def test_flags_win_over_environment() -> None:
    """Every flag has an environment variable, and the flag wins."""
    env = {
        **ENV,
        "SWEEPER_NAMESPACES": "a,b",
        "SWEEPER_MIN_AGE": "1h",
        "SWEEPER_DRY_RUN": "true",
        "GITHUB_API_URL": "https://ghe.example/api/v3",
        "SWEEPER_ALLOW_REPOS": "acme/*",
    }
    s, _ = settings_from([], env)
    assert s.namespaces == ("a", "b") and s.min_age == timedelta(hours=1) and s.dry_run
    assert s.github_api_url == "https://ghe.example/api/v3" and s.allow_repos == ("acme/*",)
    s, _ = settings_from(["--namespace", "c", "--min-age", "5m", "--allow-repo", "x/y"], env)
    assert s.namespaces == ("c",) and s.min_age == timedelta(minutes=5)
    assert s.allow_repos == ("x/y",)


def test_token_file_wins_and_is_stripped(tmp_path: Path) -> None:
    """A mounted Secret file is read once; its trailing newline is not part of the token."""
    token_file = tmp_path / "token"
    token_file.write_text("ghs_fromfile\n")
    token_file.chmod(0o400)
    s, _ = settings_from(["--github-token-file", str(token_file)], ENV)
    assert s.github_token == "ghs_fromfile"
    assert oct(token_file.stat().st_mode & 0o777) == "0o400"


def test_settings_repr_never_shows_the_token() -> None:
    """Printing settings, by accident or in a traceback, shows no token."""
    s, _ = settings_from([], ENV)
    assert "ghp_secret123" not in repr(s) and "ghp_secret123" not in str(s.public())


@pytest.mark.parametrize(
    ("argv", "env", "fragment"),
    [
        pytest.param([], {"SWEEPER_LOCK_NAMESPACE": "ops"}, "no GitHub credentials", id="no-token"),
        pytest.param(["--github-token-file", "/nonexistent"], ENV, "cannot read", id="token-file"),
        pytest.param(["--namespace", "Bad_NS"], ENV, "--namespace", id="namespace"),
        pytest.param(["--min-age", "soon"], ENV, "--min-age", id="min-age"),
        pytest.param(["--github-api-url", "ftp://x"], ENV, "--github-api-url", id="url-scheme"),
        pytest.param(["--github-api-url", "http://github.example"], ENV, "https", id="plain-http"),
        pytest.param(["--head-owner", "bad owner"], ENV, "--head-owner", id="head-owner"),
        pytest.param(["--allow-repo", "acme"], ENV, "--allow-repo", id="allow-repo"),
        pytest.param(["--max-create", "-1"], ENV, "--max-create", id="max-create"),
        pytest.param(["--write-interval", "100"], ENV, "--write-interval", id="interval"),
        pytest.param(["--selector", "a=b;rm"], ENV, "--selector", id="selector"),
    ],
)
def test_bad_settings(argv: list[str], env: dict[str, str], fragment: str) -> None:
    """Each bad setting is named in the error."""
    with pytest.raises(ConfigError, match=fragment.replace("-", r"\-").replace("/", "/")):
        settings_from(argv, env)


def test_main_reports_a_bad_setting_as_one_json_line(capsys: pytest.CaptureFixture[str]) -> None:
    """Exit code 2 and a single JSON error line, with no token in it."""
    code = main(["--min-age", "soon", "--log-format", "json"], ENV)
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 2
    assert len(out) == 1 and '"event": "sweep.config_error"' in out[0]
    assert "ghp_secret123" not in out[0]


def test_main_reports_an_unreachable_cluster(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A kubeconfig pointing at nothing is a cluster error before the pass: exit code 2."""
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\n"
        "clusters: [{name: c, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n"
    )
    code = main(["--kubeconfig", str(kubeconfig), "--log-format", "json"], ENV)
    lines = capsys.readouterr().out.strip().splitlines()
    assert code == 2
    assert '"reason": "cluster"' in lines[-2] and '"event": "sweep.config_error"' in lines[-2]
    assert '"event": "sweep.finished"' in lines[-1] and '"result": "config-error"' in lines[-1]
    # What was tried and why it failed (it said "list workloads: MaxRetryError").
    assert "cannot reach the cluster at http://127.0.0.1:9: connection refused" in lines[-2]
    assert '"source": "flag --kubeconfig"' in lines[-2]


def test_drafts_and_notify_from_flags_and_environment() -> None:
    """Off and empty by default; the environment fills them; flags win; duplicates drop."""
    s, _ = settings_from([], ENV)
    assert not s.draft_on_request_changes
    assert (s.reviewers, s.team_reviewers, s.labels) == ((), (), ())
    env = {
        **ENV,
        "SWEEPER_DRAFT_ON_REQUEST_CHANGES": "true",
        "SWEEPER_REVIEWERS": "alice, bob,alice",
        "SWEEPER_TEAM_REVIEWERS": "acme/core",
        "SWEEPER_LABELS": "foreman,needs review",
    }
    s, _ = settings_from([], env)
    assert s.draft_on_request_changes
    assert s.reviewers == ("alice", "bob") and s.team_reviewers == ("acme/core",)
    assert s.labels == ("foreman", "needs review")
    s, _ = settings_from(["--reviewer", "carol", "--label", "x"], env)
    assert (s.reviewers, s.labels, s.team_reviewers) == (("carol",), ("x",), ("acme/core",))
    public = s.public()
    assert public["draft_on_request_changes"] is True and public["reviewers"] == ["carol"]


@pytest.mark.parametrize(
    "argv",
    [
        ["--reviewer", "has space"],
        ["--reviewer=-leading"],
        ["--reviewer", "double--dash"],
        ["--reviewer", "@alice"],
        ["--team-reviewer", "core"],
        ["--team-reviewer", "acme/"],
        ["--team-reviewer", "acme/core/x"],
        ["--label", ""],
        ["--label", "x" * 51],
        ["--label", "tab\there"],
    ],
)
def test_bad_notify_settings_are_config_errors(argv: list[str]) -> None:
    with pytest.raises(ConfigError):
        settings_from(argv, ENV)


@pytest.mark.parametrize(
    ("text", "limit", "kept"),
    [
        ("20%", 5000, 1000),
        ("20%", 12500, 2500),
        ("33%", 100, 33),
        ("0.5%", 5000, 25),
        ("1000", 5000, 1000),
        ("0", 5000, 0),
        ("0%", 5000, 0),
        ("100%", 5000, 5000),
    ],
)
def test_rate_reserve(text: str, limit: int, kept: int) -> None:
    """A share of each bucket's limit (rounded up), or a count; 0 is off."""
    from sweeper.settings import parse_reserve

    assert parse_reserve(text).of(limit) == kept


@pytest.mark.parametrize("text", ["", "lots", "%", "120%", "-1", "1.5", "nan", "20 %%"])
def test_rate_reserve_rejects(text: str) -> None:
    """Anything else is a configuration error."""
    from sweeper.settings import parse_reserve

    with pytest.raises(ConfigError):
        parse_reserve(text)


def test_rate_reserve_default_flag_and_environment() -> None:
    """20 % unless said otherwise; the flag wins over SWEEPER_RATE_RESERVE."""
    assert str(settings_from([], ENV)[0].rate_reserve) == "20%"
    env = {**ENV, "SWEEPER_RATE_RESERVE": "500"}
    assert str(settings_from([], env)[0].rate_reserve) == "500"
    assert str(settings_from(["--rate-reserve", "0"], env)[0].rate_reserve) == "0"
    assert settings_from([], env)[0].public()["rate_reserve"] == "500"


def _rsa_key_file(tmp_path: Path) -> Path:
    from tests.fixtures.keys import key_file

    return key_file(tmp_path)


def test_a_github_app_instead_of_a_token(tmp_path: Path) -> None:
    """App ID and key (flags or environment); the key never shows in the settings."""
    key = _rsa_key_file(tmp_path)
    env = {"SWEEPER_LOCK_NAMESPACE": "ops", "GITHUB_APP_ID": "Iv1.abc123"}
    s, _ = settings_from(["--github-app-private-key-file", str(key)], env)
    assert s.app is not None and s.app.app_id == "Iv1.abc123" and s.app.installation_id is None
    assert s.github_token == ""
    assert "PRIVATE KEY" not in repr(s) + repr(s.app) + str(s.public())
    pinned, _ = settings_from(
        ["--github-app-private-key-file", str(key), "--github-app-installation-id", "99"], env
    )
    assert pinned.app is not None and pinned.app.installation_id == 99


@pytest.mark.parametrize(
    ("argv", "env", "fragment"),
    [
        pytest.param(["--github-app-id", "1"], ENV, "give exactly one", id="both"),
        pytest.param(["--github-app-id", "1"], {}, "needs both", id="no-key"),
        pytest.param(["--github-app-id", "x y"], {}, "needs both", id="bad-id-no-key"),
        pytest.param(
            ["--github-app-private-key-file", "/nonexistent", "--github-app-id", "1"],
            {},
            "cannot read --github-app-private-key-file '/nonexistent'",
            id="unreadable",
        ),
    ],
)
def test_bad_app_settings(argv: list[str], env: dict[str, str], fragment: str) -> None:
    """Exactly one of token and App; an App needs its ID and a readable key."""
    with pytest.raises(ConfigError, match=fragment):
        settings_from(argv, {"SWEEPER_LOCK_NAMESPACE": "ops", **env})


def test_a_key_file_that_is_not_an_rsa_key_is_named_not_shown(tmp_path: Path) -> None:
    """The message names the file and never quotes it."""
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN NONSENSE-----\nc2VjcmV0\n")
    with pytest.raises(ConfigError) as caught:
        settings_from(
            ["--github-app-id", "1", "--github-app-private-key-file", str(bad)],
            {"SWEEPER_LOCK_NAMESPACE": "ops"},
        )
    assert str(bad) in str(caught.value) and "c2VjcmV0" not in str(caught.value)


# ---------------------------------------------------------------- strict settings (issue 21)

BOOLEANS = {
    "SWEEPER_DRY_RUN": lambda s: s.dry_run,
    "SWEEPER_DRAFT_ON_REQUEST_CHANGES": lambda s: s.draft_on_request_changes,
    "SWEEPER_OPEN_AS_DRAFT": lambda s: s.open_as_draft,
    "SWEEPER_NO_LOCK": lambda s: not s.use_lock,
}


def refusal(argv: list[str], env: dict[str, str]) -> ConfigError:
    with pytest.raises(ConfigError) as refused:
        settings_from(argv, env)
    return refused.value


def test_a_misspelt_true_is_refused_not_a_real_run() -> None:
    """SWEEPER_DRY_RUN=ture was a real run that opened PRs: now a refusal naming it."""
    err = refusal([], {**ENV, "SWEEPER_DRY_RUN": "ture"})
    assert err.source == "variable SWEEPER_DRY_RUN"
    assert str(err).startswith("SWEEPER_DRY_RUN='ture' is not true or false")


@pytest.mark.parametrize("variable", sorted(BOOLEANS))
@pytest.mark.parametrize(
    ("text", "meaning"),
    [
        *[("true", True), ("TRUE", True), ("Yes", True), ("on", True), ("1", True), (" 1 ", True)],
        *[("false", False), ("False", False), ("NO", False), ("off", False), ("0", False)],
    ],
)
def test_every_boolean_variable_takes_the_usual_words_in_any_case(
    variable: str, text: str, meaning: bool
) -> None:
    """true/false, 1/0, yes/no, on/off in any case mean what they say, for every switch."""
    settings, _ = settings_from([], {**ENV, variable: text})
    assert BOOLEANS[variable](settings) is meaning


@pytest.mark.parametrize("variable", sorted(BOOLEANS))
@pytest.mark.parametrize("text", ["ture", "y", "2", "enabled", "nein", "true!"])
def test_every_boolean_variable_refuses_anything_else(variable: str, text: str) -> None:
    """A word that is not clearly true or false is no `false`: exit 2 naming the variable."""
    err = refusal([], {**ENV, variable: text})
    assert err.source == f"variable {variable}" and variable in str(err)


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        pytest.param("SWEEPER_NAMESPACE", "SWEEPER_NAMESPACES", id="namespace-singular"),
        pytest.param("SWEEPER_ALLOW_REPO", "SWEEPER_ALLOW_REPOS", id="allow-repo-singular"),
        pytest.param("SWEEPER_DRYRUN", "SWEEPER_DRY_RUN", id="dryrun"),
        pytest.param("sweeper_dry_run", "SWEEPER_DRY_RUN", id="lower-case"),
        pytest.param("SWEEPER_SOMETHING_ELSE", None, id="nothing-near"),
    ],
)
def test_a_misspelt_variable_is_refused_not_ignored(name: str, hint: str | None) -> None:
    """SWEEPER_NAMESPACE was ignored and the run swept every namespace: now exit 2 naming
    it, and the known name when one is near."""
    err = refusal([], {**ENV, name: "x"})
    assert err.source == f"variable {name}"
    assert str(err).startswith(f"{name} is not a variable the sweeper knows")
    assert (f"did you mean {hint}?" in str(err)) if hint else "did you mean" not in str(err)


def test_every_variable_the_help_names_is_known_and_only_those() -> None:
    """The SWEEPER_* variables --help shows are exactly the ones the sweeper accepts."""
    from sweeper.flags import parser

    p = parser()
    shown = set(re.findall(r"\b(SWEEPER_[A-Z_]+)\b", p.format_help()))
    known = {v for v in p.variables.values() if v.startswith("SWEEPER_")}
    assert shown == known
    for variable in known:  # none is refused as unknown
        unknown_variables({variable: "x"}, p.variables.values())


@pytest.mark.parametrize(
    ("variable", "flag"),
    [
        ("SWEEPER_DRY_RUN", "--no-dry-run"),
        ("SWEEPER_DRAFT_ON_REQUEST_CHANGES", "--no-draft-on-request-changes"),
        ("SWEEPER_OPEN_AS_DRAFT", "--no-open-as-draft"),
        ("SWEEPER_NO_LOCK", "--lock"),
    ],
)
def test_a_flag_turns_off_what_the_environment_turned_on(variable: str, flag: str) -> None:
    """Flags win, also over a `true`: every switch has the form that turns it off."""
    on, _ = settings_from([], {**ENV, variable: "true"})
    off, _ = settings_from([flag], {**ENV, variable: "true"})
    assert BOOLEANS[variable](on) is True and BOOLEANS[variable](off) is False


def test_open_as_draft_from_flag_or_variable_default_ready() -> None:
    """--open-as-draft / SWEEPER_OPEN_AS_DRAFT choose draft where the Agent does not say."""
    assert settings_from([], ENV)[0].open_as_draft is False
    assert settings_from(["--open-as-draft"], ENV)[0].open_as_draft is True
    on, _ = settings_from([], {**ENV, "SWEEPER_OPEN_AS_DRAFT": "yes"})
    assert on.open_as_draft is True and on.public()["open_as_draft"] is True


def test_an_empty_variable_counts_as_unset() -> None:
    """`value: ""` in a manifest means the default, not a refusal and not `false`."""
    s, _ = settings_from([], {**ENV, "SWEEPER_MIN_AGE": "", "SWEEPER_DRY_RUN": " "})
    assert s.min_age == timedelta(minutes=10) and s.dry_run is False


@pytest.mark.parametrize(
    ("argv", "env", "source", "start"),
    [
        pytest.param(["--max-create", "abc"], {}, "flag --max-create", "--max-create 'abc'"),
        pytest.param(
            [], {"SWEEPER_MAX_CREATE": "abc"}, "variable SWEEPER_MAX_CREATE", "SWEEPER_MAX_CREATE="
        ),
        pytest.param(
            [], {"SWEEPER_MIN_AGE": "bogus"}, "variable SWEEPER_MIN_AGE", "SWEEPER_MIN_AGE="
        ),
        pytest.param(
            [],
            {"SWEEPER_LOG_FORMAT": "bogus"},
            "variable SWEEPER_LOG_FORMAT",
            "SWEEPER_LOG_FORMAT=",
        ),
        pytest.param(["--log-format", "bogus"], {}, "flag --log-format", "--log-format 'bogus'"),
        pytest.param(
            [], {"SWEEPER_PAGE_SIZE": "0"}, "variable SWEEPER_PAGE_SIZE", "SWEEPER_PAGE_SIZE="
        ),
        pytest.param(
            [], {"SWEEPER_WRITE_INTERVAL": "nan"}, "variable SWEEPER_WRITE_INTERVAL", "SWEEPER_WRI"
        ),
        pytest.param(
            [],
            {"SWEEPER_ALLOW_REPOS": "acme/w, acme"},
            "variable SWEEPER_ALLOW_REPOS",
            "SWEEPER_ALLOW_REPOS entry 'acme'",
        ),
        pytest.param(
            ["--allow-repo", ALLOW_REPOS_PLACEHOLDER],
            {},
            "flag --allow-repo",
            "--allow-repo still holds deploy/'s placeholder",
        ),
        pytest.param(
            [], {"SWEEPER_NAMESPACES": "ok,Bad_NS"}, "variable SWEEPER_NAMESPACES", "SWEEPER_NAM"
        ),
        pytest.param(
            [], {"SWEEPER_LOCK_NAMESPACE": "Bad_NS"}, "variable SWEEPER_LOCK_NAMESPACE", "SWEEPER_L"
        ),
        pytest.param(
            [], {"GITHUB_API_URL": "ftp://x"}, "variable GITHUB_API_URL", "GITHUB_API_URL="
        ),
        pytest.param(
            [], {"SWEEPER_RATE_RESERVE": "lots"}, "variable SWEEPER_RATE_RESERVE", "SWEEP"
        ),
    ],
)
def test_every_refusal_names_where_the_value_came_from(
    argv: list[str], env: dict[str, str], source: str, start: str
) -> None:
    """A bad variable is never blamed on a flag (SWEEPER_MIN_AGE=bogus blamed --min-age)."""
    err = refusal(argv, {**ENV, **env})
    assert err.source == source and str(err).startswith(start), str(err)
    if not argv:
        assert "--" not in str(err).split(" ", 1)[0]


def test_pod_namespace_is_named_when_it_is_the_bad_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The Lease's default namespace from POD_NAMESPACE: a bad one names POD_NAMESPACE."""
    monkeypatch.setattr(settings_module, "SA_NAMESPACE_FILE", tmp_path / "absent")
    env = {"GITHUB_TOKEN": "t", "POD_NAMESPACE": "team-a"}
    assert settings_from([], env)[0].lock_namespace == "team-a"
    err = refusal([], {**env, "POD_NAMESPACE": "Bad_NS"})
    assert err.source == "variable POD_NAMESPACE"


@pytest.mark.parametrize(
    ("flag", "good", "bad"),
    [
        ("--write-interval", ["0", "60", "0.25"], ["-1", "61", "nan", "inf", "soon"]),
        ("--page-size", ["1", "5000"], ["0", "5001", "1.5", "many"]),
        ("--max-create", ["0", "10000"], ["-1", "1.5", "lots"]),
    ],
)
def test_numbers_have_the_documented_ranges(flag: str, good: list[str], bad: list[str]) -> None:
    """--write-interval 0-60 s, --page-size 1-5000, --max-create 0 or more, as --help says."""
    for text in good:
        settings_from([flag, text], ENV)
    for text in bad:
        assert refusal([flag, text], ENV).source == f"flag {flag}", text


def test_a_token_file_that_is_not_utf8_is_named_never_shown(tmp_path: Path) -> None:
    """A binary token file was a UnicodeDecodeError traceback: now exit 2 naming the file."""
    token = tmp_path / "token"
    token.write_bytes(b"\xff\xfeghp_secret_in_the_file\n")
    err = refusal(["--github-token-file", str(token)], {"SWEEPER_LOCK_NAMESPACE": "ops"})
    assert err.source == f"file {token}" and str(token) in str(err)
    assert "not UTF-8" in str(err) and "secret_in_the_file" not in str(err)


def test_a_key_file_that_is_not_utf8_is_named_never_shown(tmp_path: Path) -> None:
    """The App's key file likewise: the file named, nothing of its content."""
    key = tmp_path / "key.pem"
    key.write_bytes(b"\xff" + _rsa_key_file(tmp_path).read_bytes())
    err = refusal(
        ["--github-app-id", "1", "--github-app-private-key-file", str(key)],
        {"SWEEPER_LOCK_NAMESPACE": "ops"},
    )
    assert err.source == f"file {key}" and "not UTF-8" in str(err)
    assert "PRIVATE KEY" not in str(err)


def test_abbreviated_flags_are_typos_not_guesses() -> None:
    """argparse would take `--dry` for --dry-run and `--max` for --max-create: refused."""
    for argv in (["--dry"], ["--max", "5"]):
        assert refusal(argv, ENV).source == f"flag {argv[0]}"
