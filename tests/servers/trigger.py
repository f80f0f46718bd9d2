"""A webhook trigger for the independent servers: makes a message arrive on
$CONVERSATION_ID of $ACCOUNT ("primary" or "second") through the server's own test-support
route, ``POST /testing/inbound``, and exits 0 once the server has stored it.

The server and the keys come from the environment: TEST_SERVER_URL, and
TEST_SERVER_KEY_PRIMARY / TEST_SERVER_KEY_SECOND.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request

TIMEOUT_S = 10.0


def main() -> int:
    account = os.environ.get("ACCOUNT", "primary")
    if account not in ("primary", "second"):
        print(f"ACCOUNT must be primary or second, not {account!r}", file=sys.stderr)
        return 2
    body = {"conversation": os.environ["CONVERSATION_ID"], "text": "Is anyone there?"}
    request = urllib.request.Request(
        os.environ["TEST_SERVER_URL"].rstrip("/") + "/testing/inbound",
        data=json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {os.environ[f'TEST_SERVER_KEY_{account.upper()}']}",
            "Content-Type": "application/json",
        },
        method="POST",
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy
    try:
        with opener.open(request, timeout=TIMEOUT_S) as answer:
            return 0 if answer.status == 201 else 1
    except urllib.error.HTTPError as error:
        print(f"the server answered {error.code}: {error.read()[:300]!r}", file=sys.stderr)
    except OSError as error:
        print(f"the server could not be reached: {error}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
