"""Shared fixtures: the emulator's handler called directly, and the emulator over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from conformance.emulator import App, Emulator, Request, Response, seeded_state

# Hypothesis profiles, picked by HYPOTHESIS_PROFILE (dev by default; CI sets ci).
settings.register_profile("dev", max_examples=60, deadline=None)
settings.register_profile(
    "ci", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("thorough", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

SEED = seeded_state()
KEY_1 = SEED.accounts[0].api_key
KEY_2 = SEED.accounts[1].api_key
# account 1: busy, bare; account 2: other (busy), quiet (no messages)
BUSY, BARE, OTHER, QUIET = list(SEED.conversations)


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m conformance ARGS` in a fresh process, with no AGENTPHONE_* variable of
    this machine's leaking in (only those in `env`)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AGENTPHONE_")}
    return subprocess.run(
        [sys.executable, "-m", "conformance", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**environ, **(env or {})},
        cwd=cwd,
        check=False,
    )


def call(
    app: App,
    method: str,
    path: str,
    body: Any = None,
    *,
    key: str | None = KEY_1,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
    query: str = "",
) -> Response:
    """Call the handler the way an HTTP client would: JSON body, bearer key."""
    sent = dict(headers or {})
    if key is not None and "Authorization" not in sent:
        sent["Authorization"] = f"Bearer {key}"
    payload = raw if raw is not None else b"" if body is None else json.dumps(body).encode()
    if payload and "Content-Type" not in sent:
        sent["Content-Type"] = "application/json"
    return app.handle(Request(method=method, path=path, query=query, headers=sent, body=payload))


def conversation(app: App, conversation_id: str, key: str = KEY_1) -> Any:
    response = call(app, "GET", f"/v1/conversations/{conversation_id}", key=key)
    assert response.status == 200, response.body
    return response.json()


@pytest.fixture
def app() -> App:
    return App()


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator() as running:
        yield running
