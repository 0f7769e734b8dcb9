"""The GitHub credential: a token (file or GITHUB_TOKEN) or a GitHub App, read and checked
before any network call. A refusal names the flag, variable or file, never its content."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from sweeper.values import ConfigError, Given

_APP_ID = re.compile(r"^(?:[0-9]{1,12}|Iv[0-9A-Za-z.]{1,60})$")
Text = Given[str | None]


@dataclass(frozen=True, repr=False)
class AppCredentials:
    """A GitHub App: its ID (or client ID), its private key (PEM), and maybe one installation."""

    app_id: str
    private_key: str = field(repr=False)
    installation_id: int | None = None

    def __repr__(self) -> str:  # never the key
        return f"AppCredentials(app_id={self.app_id!r}, ...)"


def credentials(
    token_file: Text, token: Text, app_id: Text, key_file: Text, installation: Text
) -> tuple[str, AppCredentials | None]:
    """Exactly one of a token (its file preferred) and a GitHub App."""
    app = [g for g in (app_id, key_file, installation) if g.value]
    tokens = [g for g in (token_file, token) if (g.value or "").strip()]
    if app and tokens:
        raise ConfigError(
            "both a GitHub token and a GitHub App are configured: give exactly one",
            f"{tokens[0].where} and {app[0].where}",
        )
    if app:
        return "", read_app(app_id, key_file, installation)
    if not tokens:
        raise ConfigError(
            "no GitHub credentials: set GITHUB_TOKEN or --github-token-file, or "
            "--github-app-id with --github-app-private-key-file",
            "none given",
        )
    return read_token(token_file, token), None


def _read_file(path: Given[str], what: str) -> str:
    """A small secret file's text; a refusal names the file, never its content."""
    source = f"file {path.value}"
    try:
        data = Path(path.value).read_bytes()
    except OSError as err:
        raise ConfigError(f"cannot read {path.shown(path.value)}: {err.strerror}", source) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(
            f"{path.shown(path.value)} is not UTF-8 text, so it holds no {what}", source
        ) from None


def read_token(file: Text, variable: Text) -> str:
    """The token from its file (preferred) or GITHUB_TOKEN: one word, no spaces."""
    if file.value:
        path = Given(file.value, file.name)
        source, where = f"file {file.value}", f"the token in {file.value}"
        token = _read_file(path, "token").strip()
        if not token:
            raise ConfigError(f"{path.shown(file.value)} is empty", source)
    else:
        token, source, where = (variable.value or "").strip(), variable.where, "GITHUB_TOKEN"
    if any(ch.isspace() or ord(ch) < 32 for ch in token):
        raise ConfigError(f"{where} contains whitespace or control characters", source)
    return token


def read_app(app_id: Text, key_file: Text, installation: Text) -> AppCredentials:
    """The App's ID and key, checked before any I/O; the key's content is never shown."""
    if not app_id.value or not key_file.value:
        given = app_id if app_id.value else key_file
        raise ConfigError(
            "a GitHub App needs both --github-app-id and --github-app-private-key-file",
            given.where if given.value else "none given",
        )
    if not _APP_ID.match(app_id.value):
        raise ConfigError(
            f"{app_id.shown(app_id.value)} is not an App ID or client ID", app_id.where
        )
    key = Given(key_file.value, key_file.name)
    pem = _read_file(key, "private key")
    if not _is_rsa_private_key(pem.encode("utf-8")):
        raise ConfigError(
            f"{key.shown(key.value)} is not an RSA private key (PEM)", f"file {key.value}"
        )
    pinned = None
    if installation.value:
        if not installation.value.isdigit() or len(installation.value) > 15:
            raise ConfigError(
                f"{installation.shown(installation.value)} is not a number", installation.where
            )
        pinned = int(installation.value)
    return AppCredentials(app_id.value, pem, pinned)


def _is_rsa_private_key(pem: bytes) -> bool:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return isinstance(key, RSAPrivateKey)
