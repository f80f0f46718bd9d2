"""What to test: a base URL, accounts (keys named by environment variable) and the
conversation ids the suite may PATCH and will restore. From options or a TOML file.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ._errors import ExitCode, HarnessError
from ._options import OPTIONS, GivenOptions

__all__ = [
    "Account",
    "Target",
    "TargetSpec",
    "WebhookSetup",
    "key_variants",
    "load_target_file",
    "validate_base_url",
]

DEFAULT_KEY_ENV = "AGENTPHONE_API_KEY"
DEFAULT_SECOND_KEY_ENV = "AGENTPHONE_SECOND_API_KEY"


@dataclass(frozen=True)
class Account:
    api_key: str = field(repr=False)
    key_env: str  # where the key came from: shown instead of the key, in curl commands too
    conversation_ids: tuple[str, ...]


@dataclass(frozen=True)
class WebhookSetup:
    """How the webhook checks get deliveries (README, "Webhooks").

    Against the embedded emulator the suite registers a webhook itself (`managed`). Against
    a real target it never does - a registration gives the account a new secret and breaks
    the customer's receiver - : the user points a test account's webhook at the receiver,
    gives its secret, and says how a message arrives (`trigger` or `wait`)."""

    listen: str = "127.0.0.1:0"  # where the receiver listens
    public_url: str | None = None  # the URL the target should POST to, if not the listener's
    secret_env: str | None = None  # the variable holding the webhook's secret
    secret: str = field(default="", repr=False)
    trigger: str | None = None  # a command that makes a message arrive ($CONVERSATION_ID)
    wait: float | None = None  # or: seconds to wait for a message someone sends by hand
    managed: bool = False  # the embedded emulator: registered and removed by the suite

    @property
    def enabled(self) -> bool:
        return self.managed or bool(self.secret and (self.trigger or self.wait))


@dataclass(frozen=True)
class Target:
    """A resolved target: keys read, URL checked. Never printed whole (keys are secrets)."""

    name: str
    base_url: str
    primary: Account
    second: Account | None = None
    embedded: bool = False
    faults: tuple[str, ...] = ()
    emulator_edition: str | None = None  # the edition the embedded emulator serves
    witness_ids: tuple[str, ...] = ()  # the primary account's conversations it only reads
    webhooks: WebhookSetup = field(default_factory=WebhookSetup)
    # How the client reaches it without the network (an httpx transport): the embedded
    # emulator's own, in this process. None: over HTTP, at base_url.
    transport: Any = field(default=None, compare=False, repr=False)

    @property
    def secrets(self) -> dict[str, str]:
        """Each API key and each near-miss of it the suite sends (see `key_variants`),
        mapped to how a shell command spells it ("${AGENTPHONE_API_KEY}", ...)."""
        accounts = [self.primary] + ([self.second] if self.second else [])
        spelled: dict[str, str] = {}
        for account in accounts:
            if account.api_key:
                for _label, variant, shell in key_variants(account):
                    spelled[variant] = shell
                spelled[account.api_key] = f"${{{account.key_env}}}"
        if self.webhooks.secret and self.webhooks.secret_env:
            spelled[self.webhooks.secret] = f"${{{self.webhooks.secret_env}}}"
        return spelled


def key_variants(account: Account) -> list[tuple[str, str, str]]:
    """Keys one step from the real one, which a loose comparison would accept:
    (label, the variant, how a shell spells it). Too short a key has none."""
    key, var = account.api_key, account.key_env
    if len(key) < 8:
        return []
    variants = [
        ("the key with its last character dropped", key[:-1], f"${{{var}%?}}"),
        ("the key with a character appended", key + "0", f"${{{var}}}0"),
    ]
    if key.swapcase() != key:
        variants.append(("the key in the other letter case", key.swapcase(), f"${{{var}~~}}"))
    return variants


@dataclass(frozen=True)
class TargetSpec:
    """A target as configured, before keys are read from the environment."""

    name: str | None = None
    base_url: str | None = None  # None: the embedded emulator
    key_env: str = DEFAULT_KEY_ENV
    conversation_ids: tuple[str, ...] = ()
    second_key_env: str = DEFAULT_SECOND_KEY_ENV
    second_conversation_ids: tuple[str, ...] = ()
    witness_ids: tuple[str, ...] = ()  # conversations of the first account, only ever read
    webhooks: WebhookSetup = field(default_factory=WebhookSetup)  # secret: not read yet
    faults: tuple[str, ...] = ()  # embedded emulator only
    emulator_edition: str = "current"  # embedded emulator only: which edition it serves
    settings: GivenOptions = field(default_factory=GivenOptions)  # the file's [settings]
    source: Path | None = None  # the target file it was read from

    @property
    def embedded(self) -> bool:
        return self.base_url is None

    def resolve(self, environ: Mapping[str, str] | None = None) -> Target:
        """Read the keys from the environment and check everything an external run needs."""
        env = os.environ if environ is None else environ
        assert self.base_url is not None, "the embedded emulator resolves itself"
        base_url = validate_base_url(self.base_url)
        if not self.conversation_ids:
            raise HarnessError(
                "no conversation to test",
                "pass --conversation-id ID (repeatable): an existing conversation the suite may "
                "PATCH; it is restored at the end",
            )
        key = env.get(self.key_env, "").strip()
        if not key:
            state = "is empty" if self.key_env in env else "is not set"
            raise HarnessError(
                f"the API key variable {self.key_env} {state}",
                f"export {self.key_env}=<your API key> (keys are never taken on the command line)",
            )
        primary = Account(key, self.key_env, self.conversation_ids)
        second = None
        second_key = env.get(self.second_key_env, "").strip()
        if self.second_conversation_ids and not second_key:
            raise HarnessError(
                f"the second account's conversations are given (--second-conversation-id, or a "
                f"target file's [second_account]) but {self.second_key_env} "
                f"{'is empty' if self.second_key_env in env else 'is not set'}",
                f"export {self.second_key_env}=<the second account's key>, or leave them out",
            )
        if second_key and self.second_conversation_ids:
            if second_key == key:
                raise HarnessError(
                    f"{self.second_key_env} holds the same key as {self.key_env}",
                    "the cross-tenant checks need a key of a different account",
                )
            second = Account(second_key, self.second_key_env, self.second_conversation_ids)
        return Target(
            name=self.name or urlsplit(base_url).netloc,
            base_url=base_url,
            primary=primary,
            second=second,
            witness_ids=tuple(w for w in self.witness_ids if w not in self.conversation_ids),
            webhooks=self._webhooks(env),
        )

    def _webhooks(self, env: Mapping[str, str]) -> WebhookSetup:
        setup = self.webhooks
        if setup.secret_env is None:
            return setup
        secret = env.get(setup.secret_env, "").strip()
        if not secret:
            raise HarnessError(
                f"the webhook secret variable {setup.secret_env} is not set",
                f"export {setup.secret_env}=<the test account's webhook secret>",
            )
        if not (setup.trigger or setup.wait):
            raise HarnessError(
                "--webhook-secret-env given, but not how a message arrives",
                "add --webhook-trigger COMMAND (it makes one arrive; $CONVERSATION_ID is set) or "
                "--webhook-wait SECONDS (you send one by hand when asked)",
            )
        return replace(setup, secret=secret)


def validate_base_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HarnessError(
            f"malformed target URL {url!r}",
            "give --base-url as http(s)://host[:port], e.g. https://api.agentphone.ai",
        )
    try:
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError:
        raise HarnessError(
            f"malformed target URL {url!r}: bad port", "use a port between 1 and 65535"
        ) from None
    if parts.query or parts.fragment:
        raise HarnessError(
            f"malformed target URL {url!r}", "drop the query string or fragment from --base-url"
        )
    path = parts.path.rstrip("/")
    if path.endswith("/v1"):
        raise HarnessError(
            f"the target URL {url!r} ends with /v1",
            "drop /v1: the suite adds /v1/conversations/... itself",
        )
    return f"{parts.scheme}://{parts.netloc}{path}"


_FILE_KEYS = {
    "name",
    "base_url",
    "api_key_env",
    "conversation_ids",
    "witness_conversation_ids",
    "second_account",
    "emulator",
    "settings",
    "webhooks",
}
_WEBHOOK_KEYS = {"secret_env", "listen", "public_url", "trigger", "wait"}
_SECOND_KEYS = {"api_key_env", "conversation_ids"}
_EMULATOR_KEYS = {"faults", "edition"}
EMULATOR_EDITIONS = ("seed", "current")
_SETTINGS_KEYS = {option.name for option in OPTIONS}
_SECRET_LOOKING = {"api_key", "key", "token", "second_api_key", "authorization", "password"}


def _problem(path: Path, what: str, fix: str) -> HarnessError:
    return HarnessError(f"target file {path}: {what}", fix, ExitCode.USAGE)


def _ids(path: Path, value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _problem(
            path, f"{where} must be a list of non-empty strings", f'write {where} = ["conv_..."]'
        )
    return tuple(dict.fromkeys(value))  # a conversation named twice is one


def _check_keys(path: Path, table: Mapping[str, Any], allowed: set[str], where: str) -> None:
    for key in table:
        if key in _SECRET_LOOKING:
            raise _problem(
                path,
                f"{where}{key} would put a credential in the file",
                'name an environment variable instead: api_key_env = "MY_KEY_VAR"',
            )
        if key not in allowed:
            raise _problem(
                path, f"unknown key {where}{key}", f"allowed here: {', '.join(sorted(allowed))}"
            )


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HarnessError(
            f"target file {path} does not exist", "check the --target path"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise HarnessError(
            f"target file {path} cannot be read ({exc})",
            "check its permissions and encoding (UTF-8)",
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise _problem(path, f"not valid TOML ({exc})", "fix the syntax") from None


def _table(path: Path, data: Mapping[str, Any], name: str, allowed: set[str], fix: str) -> Any:
    """The sub-table `name` (empty if absent), its keys checked."""
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise _problem(path, f"[{name}] must be a table", fix)
    _check_keys(path, table, allowed, f"{name}.")
    return table


def _key_env(path: Path, table: Mapping[str, Any], where: str, default: str) -> str:
    value = table.get("api_key_env", default)
    if not (isinstance(value, str) and value.strip()):
        raise _problem(
            path,
            f"{where}api_key_env must name an environment variable",
            f'write {where}api_key_env = "MY_KEY_VAR"',
        )
    return value


def _emulator(path: Path, data: Mapping[str, Any]) -> tuple[tuple[str, ...], str]:
    """The [emulator] table's faults and edition; none when the file names an external
    target."""
    if "emulator" not in data:
        if "base_url" not in data:
            raise _problem(
                path, "no base_url", 'add base_url = "https://..." (or an [emulator] table)'
            )
        return (), "current"
    emulator = _table(path, data, "emulator", _EMULATOR_KEYS, "write [emulator] faults = [...]")
    if "base_url" in data:
        raise _problem(
            path,
            "both base_url and [emulator]",
            "a target is either an external URL or the embedded emulator",
        )
    faults: Sequence[Any] = emulator.get("faults", [])
    if not isinstance(faults, list) or not all(isinstance(f, str) for f in faults):
        raise _problem(
            path,
            "emulator.faults must be a list of fault names",
            "run `agentphone-conformance faults` for the names",
        )
    edition = emulator.get("edition", "current")
    if edition not in EMULATOR_EDITIONS:
        raise _problem(
            path,
            f"emulator.edition must be one of {', '.join(EMULATOR_EDITIONS)}, not {edition!r}",
            'write edition = "seed" (the seed page) or "current" (with later additions)',
        )
    return tuple(faults), edition


def webhook_setup(
    *,
    listen: str | None = None,
    public_url: str | None = None,
    secret_env: str | None = None,
    trigger: str | None = None,
    wait: float | None = None,
    base: WebhookSetup | None = None,
) -> WebhookSetup:
    """`base` with the values given; each checked (a usage error names it)."""
    setup = base or WebhookSetup()
    changes: dict[str, Any] = {}
    if listen is not None:
        host, _, port = listen.rpartition(":")
        if not host or not (port.isascii() and port.isdigit()) or int(port) > 65535:
            raise HarnessError(
                f"--webhook-listen {listen!r} is not HOST:PORT", "e.g. 0.0.0.0:8780 (0: any port)"
            )
        changes["listen"] = listen
    if public_url is not None:
        parts = urlsplit(public_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise HarnessError(
                f"--webhook-public-url {public_url!r} is not an http(s) URL",
                "give the URL a tunnel forwards to the receiver, e.g. https://abc.example/hook",
            )
        changes["public_url"] = public_url
    if secret_env is not None:
        changes["secret_env"] = secret_env
    if trigger is not None:
        changes["trigger"] = trigger
    if wait is not None:
        if not 1 <= wait <= 3600:
            raise HarnessError(f"--webhook-wait {wait:g} is out of range", "give 1 to 3600 seconds")
        changes["wait"] = float(wait)
    return replace(setup, **changes)


def _webhook_setup(path: Path, table: Mapping[str, Any]) -> WebhookSetup:
    for key in ("secret_env", "listen", "public_url", "trigger"):
        if key in table and not (isinstance(table[key], str) and table[key].strip()):
            raise _problem(
                path, f"webhooks.{key} must be a non-empty string", f"fix webhooks.{key}"
            )
    wait = table.get("wait")
    if wait is not None and (isinstance(wait, bool) or not isinstance(wait, int | float)):
        raise _problem(path, "webhooks.wait must be a number of seconds", "write wait = 120")
    try:
        return webhook_setup(**table)
    except HarnessError as error:
        raise _problem(path, error.message, error.hint) from None


def load_target_file(path: Path) -> TargetSpec:
    """Parse and validate a TOML target file. See README "Target files"."""
    data = _read_toml(path)
    _check_keys(path, data, _FILE_KEYS, "")
    name = data.get("name")
    if name is not None and not (isinstance(name, str) and name.strip()):
        raise _problem(path, "name must be a non-empty string", 'write name = "vendor-x"')
    faults, emulator_edition = _emulator(path, data)
    base_url = data.get("base_url")
    if base_url is not None and not isinstance(base_url, str):
        raise _problem(path, "base_url must be a string", 'write base_url = "https://..."')
    settings = _table(path, data, "settings", _SETTINGS_KEYS, "write [settings] max_requests = 300")
    webhooks = _webhook_setup(
        path, _table(path, data, "webhooks", _WEBHOOK_KEYS, 'write [webhooks] listen = "..."')
    )
    second = _table(
        path,
        data,
        "second_account",
        _SECOND_KEYS,
        "write [second_account] api_key_env = ... conversation_ids = [...]",
    )
    return TargetSpec(
        name=name,
        base_url=base_url,
        key_env=_key_env(path, data, "", DEFAULT_KEY_ENV),
        conversation_ids=_ids(path, data.get("conversation_ids", []), "conversation_ids"),
        witness_ids=_ids(
            path, data.get("witness_conversation_ids", []), "witness_conversation_ids"
        ),
        second_key_env=_key_env(path, second, "second_account.", DEFAULT_SECOND_KEY_ENV),
        second_conversation_ids=_ids(
            path, second.get("conversation_ids", []), "second_account.conversation_ids"
        ),
        faults=faults,
        emulator_edition=emulator_edition,
        webhooks=webhooks,
        source=path,
        settings=GivenOptions.parse(settings, f"target file {path} [settings]"),
    )
