"""A webhook trigger, as a user of the suite writes one (README, "Webhooks"): it makes a
message arrive on $CONVERSATION_ID of $ACCOUNT (primary or second) and returns. Here through
the emulator's control route at TRIGGER_BASE_URL, with the account's key from
TRIGGER_KEY_PRIMARY or TRIGGER_KEY_SECOND. TRIGGER_FAIL=1 makes it fail, as a broken
trigger would. The benchmark's runs use it, and so do the tests."""

from __future__ import annotations

import json
import os
import sys
import urllib.parse
import urllib.request

BODY = "a message the webhook trigger made arrive"  # the benchmark tells these apart by it


def main() -> int:
    if os.environ.get("TRIGGER_FAIL"):
        print("the SMS gateway said no", file=sys.stderr)
        return 1
    conversation = urllib.parse.quote(os.environ["CONVERSATION_ID"], safe="")
    key = os.environ[f"TRIGGER_KEY_{os.environ['ACCOUNT'].upper()}"]
    request = urllib.request.Request(
        f"{os.environ['TRIGGER_BASE_URL']}/_emulator/conversations/{conversation}/messages",
        data=json.dumps({"body": BODY}).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        method="POST",
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only
    with opener.open(request, timeout=10) as answer:
        return 0 if answer.status == 201 else 1


if __name__ == "__main__":
    sys.exit(main())
