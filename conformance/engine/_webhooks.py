"""The webhook side of a run: the receiver, and how a message is made to arrive.

Against the embedded emulator the suite registers a webhook pointing at its receiver, makes
messages arrive through the emulator's control route (`/_emulator/...`, plainly not the
vendor's API) and removes the webhook at the end. Against any other target it never
registers, changes or removes a webhook: the user has pointed a test account's webhook at
the receiver, given its secret, and said how a message arrives - a command of theirs
(`--webhook-trigger`) or a wait during which they send one (`--webhook-wait`).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

from ..checks import SUCCESS, RunContext, Webhooks, conversation_path
from ..core import Account, HarnessError, Receiver, WebhookSetup

__all__ = ["TRIGGER_SECONDS", "TriggerFailed", "webhook_session"]

TRIGGER_SECONDS = 60.0  # the longest a trigger command may run
_MANAGED_WAIT = 5.0  # seconds the emulator gets to deliver (it does at once)
WEBHOOKS_PATH = "/v1/webhooks"
_ARRIVE = "/_emulator/conversations/{}/messages"

Announce = Callable[[str], None]  # shows the user a line (the run's progress)


class TriggerFailed(HarnessError):
    """The user's trigger command failed: a harness problem, never the target's."""


@contextlib.contextmanager
def webhook_session(run: RunContext, announce: Announce, wanted: bool = True) -> Iterator[None]:
    """Receiver listening and `run.webhooks` set while the body runs, when the target's
    webhook setup allows and a check of the run wants it (`wanted`); otherwise the webhook
    checks find `run.webhooks` None and say how to enable them."""
    setup = run.target.webhooks
    if not wanted or not setup.enabled or (setup.managed and run.read_only):
        yield  # (read-only: registering a webhook and making messages arrive are writes)
        return
    with _listening(setup, run.options.max_answer_bytes) as receiver:
        if setup.managed:
            with _registered(run, receiver) as secret:
                if secret:
                    receiver.secrets = (secret,)
                    run.webhooks = Webhooks(
                        receiver, secret, _emulator_arrival(run), _MANAGED_WAIT, foreign=True
                    )
                yield
        else:
            receiver.secrets = (setup.secret,) if setup.secret else ()
            run.webhooks = Webhooks(
                receiver,
                setup.secret,
                _user_arrival(run, setup, announce),
                setup.wait or TRIGGER_SECONDS,
                foreign=run.target.second is not None and setup.trigger is not None,
            )
            announce(
                f"webhook receiver listening: point the test account's webhook at {receiver.url}"
            )
            yield
    run.webhooks = None


@contextlib.contextmanager
def _listening(setup: WebhookSetup, max_bytes: int) -> Iterator[Receiver]:
    host, _, port = setup.listen.rpartition(":")
    receiver = Receiver(host.strip("[]"), int(port), setup.public_url, max_bytes)
    try:
        receiver.start()
    except OSError as error:
        raise HarnessError(
            f"the webhook receiver cannot listen on {setup.listen}: {error.strerror or error}",
            "give --webhook-listen a free HOST:PORT (port 0 picks one)",
        ) from None
    try:
        yield receiver
    finally:
        receiver.stop()


@contextlib.contextmanager
def _registered(run: RunContext, receiver: Receiver) -> Iterator[str | None]:
    """The embedded emulator only: a webhook for the primary account, pointing at the
    receiver; its secret (None if the emulator would not register one). Removed after."""
    bearer = run.bearer(run.target.primary)
    answer = run.client.send(
        "POST",
        WEBHOOKS_PATH,
        authorization=bearer,
        json_body={"url": receiver.url, "contextLimit": 10},
        reserved=True,
        observed=False,
    )
    body = answer.json_body
    secret = body.get("secret") if isinstance(body, dict) else None
    if answer.status not in SUCCESS or not isinstance(secret, str) or not secret:
        run.notes.append(
            f"the embedded emulator did not register the run's webhook (it answered "
            f"{answer.status}): the webhook checks did not run"
        )
        yield None
        return
    run.client.secrets[secret] = "AGENTPHONE_WEBHOOK_SECRET"
    try:
        yield secret
    finally:
        with contextlib.suppress(Exception):  # the emulator goes away with the run anyway
            run.client.send(
                "DELETE", WEBHOOKS_PATH, authorization=bearer, reserved=True, observed=False
            )


def _emulator_arrival(run: RunContext) -> Callable[[Account, str], None]:
    def arrive(account: Account, conversation_id: str) -> None:
        path = _ARRIVE.format(conversation_path(conversation_id).rsplit("/", 1)[-1])
        answer = run.client.send(
            "POST",
            path,
            authorization=run.bearer(account),
            json_body={"body": "a message the conformance run made arrive"},
            reserved=True,
            observed=False,
        )
        if answer.status not in SUCCESS:
            raise TriggerFailed(
                f"the embedded emulator would not make a message arrive on {conversation_id} "
                f"(it answered {answer.status})",
                "report this: the emulator's control route is the suite's own",
            )

    return arrive


def _user_arrival(
    run: RunContext, setup: WebhookSetup, announce: Announce
) -> Callable[[Account, str], None]:
    def arrive(account: Account, conversation_id: str) -> None:
        which = "second" if account is run.target.second else "primary"
        if setup.trigger is None:
            announce(
                f"webhooks: send a message to conversation {conversation_id} ({which} account) "
                f"now; waiting up to {setup.wait:g} s for its delivery"
            )
            return
        _trigger(setup.trigger, conversation_id, which)

    return arrive


def _trigger(command: str, conversation_id: str, account: str) -> None:
    """Run the user's trigger command once, bounded in time; its output is not kept (it
    may hold secrets)."""
    env: dict[str, Any] = {**os.environ, "CONVERSATION_ID": conversation_id, "ACCOUNT": account}
    try:
        done = subprocess.run(
            shlex.split(command),
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=TRIGGER_SECONDS,
            check=False,
        )
    except (OSError, ValueError) as error:
        raise TriggerFailed(
            f"the webhook trigger could not be started: {error}",
            "give --webhook-trigger a command line that runs (it is split like a shell's)",
        ) from None
    except subprocess.TimeoutExpired:
        raise TriggerFailed(
            f"the webhook trigger ran longer than {TRIGGER_SECONDS:g} s",
            "make it return once the message is sent",
        ) from None
    if done.returncode != 0:
        raise TriggerFailed(
            f"the webhook trigger exited with status {done.returncode}",
            "run it by hand with CONVERSATION_ID set to see why",
        )
