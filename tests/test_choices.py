"""Every choice the README lists as open is made by a server of the tests, and that server
passes the whole suite.

The README's "Choices where the contract is silent" names, after each choice, the servers
that make it. Here: every choice names at least one; every server named exists; each runs
through the whole suite clean in `test_independent_servers.py` (on two seeds or more); and
each variant's own smoke test shows it really makes its choice (a 415, a 308, a 16 KiB limit,
timestamps spelt per operation, ...), so a server cannot pass by not making it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .servers import SERVERS
from .test_independent_servers import BASE, DEPLOYED, NODE

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SMOKE = "".join(
    (ROOT / "tests" / name).read_text(encoding="utf-8")
    for name in (
        "test_server_variants.py",
        "test_node_server.py",
        "test_independent_servers_smoke.py",
    )
)


def choices() -> dict[str, list[str]]:
    """Each bullet of the README's list: its bold name -> the servers in its last brackets."""
    section = README.split("### Choices where the contract is silent", 1)[1].split("\n### ", 1)[0]
    bullets = re.split(r"\n- ", section.split("\n- ", 1)[1])
    found = {}
    for bullet in bullets:
        name = re.match(r"\*\*(.+?)\*\*", bullet)
        servers = re.findall(r"\[([a-z0-9, \n-]+)\]", bullet)
        assert name, bullet[:60]
        assert servers, f"the choice {name[1]!r} names no server that makes it"
        found[name[1]] = [s.strip() for s in servers[-1].replace("\n", " ").split(",")]
    return found


CHOICES = choices()


def test_the_readme_lists_the_choices() -> None:
    assert len(CHOICES) >= 15
    assert {
        "Editions",
        "Timestamps",
        "Numbers",
        "Limits",
        "How an invalid request is refused",
    } <= set(CHOICES)


@pytest.mark.parametrize("choice", CHOICES)
def test_each_choice_is_made_by_servers_the_suite_passes(choice: str) -> None:
    for server in CHOICES[choice]:
        assert server in SERVERS or server == NODE, f"{choice}: no server {server!r}"
        assert server in BASE + DEPLOYED, f"{choice}: {server} is not run through the suite"
        if server not in BASE:
            assert server in SMOKE, f"{choice}: no smoke test shows that {server} makes it"
