"""An answer as schemathesis's checks take it.

`Case.validate_response` accepts an httpx response and converts it itself, preparing a
`requests` request from the httpx one on the way (parsing its URL again, and its query):
a third of the cost of judging an answer. The request is already built and sent, so it is
copied over as it went out instead.
"""

from __future__ import annotations

import httpx
import requests
from requests.structures import CaseInsensitiveDict
from schemathesis.core.transport import Response

__all__ = ["as_schemathesis"]


def as_schemathesis(response: httpx.Response) -> Response:
    """`response` as schemathesis's `Response`, its request as it was sent."""
    sent = response.request
    request = requests.PreparedRequest()
    request.method = sent.method
    request.url = str(sent.url)
    request.headers = CaseInsensitiveDict(sent.headers.items())
    request.body = sent.content or None
    return Response(
        status_code=response.status_code,
        headers={name: [value] for name, value in response.headers.items()},
        content=response.content,
        request=request,
        elapsed=response.elapsed.total_seconds(),
        message=response.reason_phrase,
        encoding=response.encoding,
        http_version=response.http_version,
        verify=True,
    )
