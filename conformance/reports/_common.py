"""What every report agrees on: the verdict, how an outcome is named and coloured, and
how long text is cut short."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import quote

from ..model import (
    CheckResult,
    Confirmation,
    Exchange,
    Finding,
    Level,
    Outcome,
    RunResult,
    plural,
)

__all__ = [
    "ALONE",
    "KINDS",
    "REPLAYED",
    "TOOL_NAME",
    "Headline",
    "advisory_warnings",
    "edition_line",
    "format_duration",
    "format_size",
    "kind",
    "levels",
    "one_line",
    "plural",
    "printable",
    "relative_link",
    "relative_path",
    "replayed",
    "reproduction_script",
    "request_line",
    "rerun_check",
    "same_cause_line",
    "table_rows",
    "truncate_bytes",
    "verdict",
]

TOOL_NAME: Final = "agentphone-conformance"

#: The ways a check can end, as reports show them: (label, emoji), by `kind()`. The emoji
#: are for markdown and terminals; the HTML pages draw `_marks.mark(key)` instead.
KINDS: Final[dict[str, tuple[str, str]]] = {
    "passed": ("passed", "✅"),
    "failed-required": ("failed (required)", "❌"),
    "failed-advisory": ("failed (advisory)", "⚠️"),
    "not-applicable": ("not applicable", "⚪"),
    "not-implemented": ("not implemented", "⬜"),
    "skipped": ("skipped", "⏭️"),
    "error": ("error", "💥"),
}


def kind(result: CheckResult) -> str:
    """The outcome, with failures split by level: a key of KINDS."""
    if result.outcome is Outcome.FAILED:
        return f"failed-{result.check.level.value}"
    return result.outcome.value


#: What a failure's replay showed, for people.
REPLAYED: Final = {
    Confirmation.CONFIRMED: "confirmed: it failed again when replayed",
    Confirmation.FLAKY: (
        "flaky: it passed when replayed; still a failure (a server that answers the same "
        "request two ways is not conformant)"
    ),
    Confirmation.NOT_REPLAYED: "not replayed",
}


#: The label of a finding's last request when it alone does not reproduce the finding.
ALONE: Final = "This request alone (the steps below set up the state it needs)"


def replayed(result: CheckResult) -> str | None:
    """What the failure's replay showed, or None for a result that is not a failure."""
    if not result.confirmation:
        return None
    note = f": {result.replay_note}" if result.replay_note else ""
    return REPLAYED[result.confirmation] + note


def rerun_check(result: RunResult, check_id: str) -> str | None:
    """The command that reruns one check of this run, if the run came from a command."""
    return f"{result.rerun_all} --check {check_id}" if result.rerun_all else None


def edition_line(result: RunResult) -> str:
    """The edition of the contract the run judged, and why."""
    return f"{result.edition.edition.value} ({result.edition.reason})"


def advisory_warnings(result: RunResult) -> list[CheckResult]:
    """Advisory checks that failed without failing the gate (the run is not --strict)."""
    return [
        r
        for r in result.checks
        if r.outcome is Outcome.FAILED
        and r.check.level is Level.ADVISORY
        and not r.gates(result.settings.strict)
    ]


@dataclass(frozen=True)
class Headline:
    """A report's one-line verdict: a mark, a sentence, and the status it stands for.

    `str()` gives the emoji and the sentence, for markdown and terminals; the HTML pages
    draw `mark` (a key of `_marks.MARKS`; the status's own mark if empty) instead, since an
    emoji needs a font a browser may lack."""

    emoji: str
    headline: str  # "conformant", "3 required checks failed", ...
    status: str  # "ok" | "fail" | "inconclusive": agrees with the exit code's sign
    mark: str = ""  # "interrupted", "errored", ...: finer than the status

    def __str__(self) -> str:
        return f"{self.emoji} {self.headline}"


def verdict(result: RunResult) -> Headline:
    """One line that says whether the target conforms; failing iff the exit code is not 0."""
    gate = result.gate_failures
    errors = result.count(Outcome.ERROR)
    if result.interrupted:
        return Headline(
            "⏹",
            "interrupted before every check ran (restores done)",
            "inconclusive",
            "interrupted",
        )
    if gate:
        required = sum(1 for r in gate if r.check.level is Level.REQUIRED)
        advisory = len(gate) - required
        if not advisory:
            headline = f"{plural(required, 'required check')} failed"
        elif not required:
            headline = f"{plural(advisory, 'advisory check')} failed (--strict)"
        else:
            headline = (
                f"{plural(len(gate), 'check')} failed "
                f"({required} required, {advisory} advisory under --strict)"
            )
        causes = sum(1 for r in gate if not r.caused_by)
        if causes < len(gate):
            headline += f", by {plural(causes, 'cause')}"
        if errors:
            headline += f"; {errors} errored"
        return Headline("❌", headline, "fail")
    if result.restore_failed and not errors:
        return Headline(
            "💥",
            f"inconclusive: {plural(len(result.restore_failed), 'conversation')} could not be "
            "restored: put back by hand",
            "inconclusive",
            "errored",
        )
    if errors:
        return Headline(
            "💥",
            f"inconclusive: {plural(errors, 'check')} errored (harness or network, "
            "not the target's fault)",
            "inconclusive",
            "errored",
        )
    if result.other_writers:
        return Headline(
            "👥",
            f"inconclusive: another client wrote {', '.join(result.other_writers)} during the "
            "run (not the target's fault; its value was left in place)",
            "inconclusive",
            "other-writers",
        )
    if result.deadline_reached:
        skipped = result.count(Outcome.SKIPPED)
        return Headline(
            "⏱",
            f"inconclusive: the run's --deadline passed with {plural(skipped, 'check')} "
            "not run (nothing failed before it)",
            "inconclusive",
            "deadline",
        )
    warnings = len(advisory_warnings(result))
    suffix = f" ({plural(warnings, 'advisory warning')})" if warnings else ""
    if not result.count(Outcome.PASSED) and not warnings:
        return Headline("❔", "no violations, but no check ran to completion", "ok", "nothing-ran")
    return Headline("✅", f"conformant{suffix}", "ok")


# Characters no report should carry raw (XML 1.0 cannot at all; terminals and browsers act
# on them): C0 controls but tab/LF/CR, DEL, lone surrogates, U+FFFE/U+FFFF.
_UNPRINTABLE = re.compile("[^\t\n\r\x20-\x7e\x80-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def printable(text: str) -> str:
    """`text` with each control character spelled out (`\\x1b`), safe for XML too."""
    return _UNPRINTABLE.sub(_spell, text)


def _spell(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def one_line(text: str, limit: int = 200) -> str:
    """Whitespace collapsed to single spaces, cut to at most `limit` characters with an
    ellipsis: at a space when one is near the end, never in the middle of a word."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit * 2 // 3:
        cut = cut[:space]
    return cut.rstrip() + "…"


def truncate_bytes(text: str, limit: int) -> tuple[str, bool]:
    """At most `limit` bytes of UTF-8 (never a split character); True if it was cut."""
    if len(text.encode("utf-8", errors="surrogatepass")) <= limit:
        return text, False
    size = 0
    for index, char in enumerate(text):
        size += len(char.encode("utf-8", errors="surrogatepass"))
        if size > limit:
            return text[:index], True
    return text, False  # pragma: no cover - the encoded length said otherwise


def format_size(text: str) -> str:
    size = len(text.encode("utf-8", errors="surrogatepass"))
    return f"{size} B" if size < 1024 else f"{size / 1024:.1f} KB"


def format_duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{int(seconds // 60)} min {seconds % 60:.0f} s"


def request_line(exchange: Exchange) -> str:
    """`PATCH https://... -> 422` (or `-> no answer`)."""
    status = "no answer" if exchange.status is None else str(exchange.status)
    return f"{exchange.method} {exchange.url} -> {status}"


MAX_STEP_CURL: Final = 4096  # bytes of one step's curl command a script shows


def reproduction_script(
    finding: Finding, check_id: str = "", number: int = 1, report: str = "report.json"
) -> str | None:
    """The finding's steps as a shell script, in order, each with what it answered; None
    when the finding's own exchange alone shows it (its curl command is the script). A step
    whose command is too long to show is named, and the report's JSON holds it whole."""
    if not finding.steps:
        return None
    lines = []
    if finding.assumes:
        lines.append(f"# assumes: {one_line(finding.assumes, 300)}")
    if check_id:
        lines.append(
            f"# or: agentphone-conformance reproduce {report} {check_id} --finding {number}"
        )
    for step, exchange in enumerate(finding.steps, 1):
        last = " (shows it)" if step == len(finding.steps) else ""
        lines.append(f"# {step}. {one_line(request_line(exchange), 160)}{last}")
        curl, cut = truncate_bytes(exchange.curl, MAX_STEP_CURL)
        lines.append(
            curl
            if not cut
            else f"# (its curl command, {format_size(exchange.curl)}, is in report.json)"
        )
    return "\n".join(lines)


#: The outcomes whose rows are gathered when their reasons are the same: nothing to read
#: but the reason, once.
GATHERED: Final = (Outcome.NOT_APPLICABLE, Outcome.NOT_IMPLEMENTED, Outcome.SKIPPED)


def table_rows(result: RunResult) -> list[list[CheckResult]]:
    """The rows of a table of checks, in the run's order: one check each, except that
    checks that did not run for the same reason (same outcome, same words) share one row,
    at the place of the first of them."""
    rows: list[list[CheckResult]] = []
    shared: dict[tuple[Outcome, str], list[CheckResult]] = {}
    for r in result.checks:
        if r.outcome not in GATHERED or not r.reason:
            rows.append([r])
            continue
        key = (r.outcome, r.reason)
        if key in shared:
            shared[key].append(r)
        else:
            shared[key] = [r]
            rows.append(shared[key])
    return rows


def levels(row: list[CheckResult]) -> str:
    """The level of a row's checks: one word when they share it."""
    return ", ".join(dict.fromkeys(r.check.level.value for r in row))


def same_cause_line(result: CheckResult) -> str:
    """`failed by the same cause as META-REPLACE: a PATCH merges ...` for a check another
    explains; "" for one that leads (or stands alone)."""
    if not result.caused_by:
        return ""
    return f"the same cause as {result.caused_by}: {result.cause}"


def relative_path(path: Path, out_dir: Path | None) -> str:
    """`path` relative to a report's directory where possible, with forward slashes (for
    the paths a JSON report names)."""
    if out_dir is not None:
        try:
            return Path(os.path.relpath(path.resolve(), out_dir.resolve())).as_posix()
        except ValueError:  # another drive (Windows)
            pass
    return path.as_posix()


def relative_link(target: Path | None, out_dir: Path | None) -> str | None:
    """A relative URL from `out_dir` to `target`, if both are known and the file exists."""
    if target is None or out_dir is None or not target.is_file():
        return None
    try:
        relative = os.path.relpath(target.resolve(), out_dir.resolve())
    except ValueError:  # another drive (Windows): no relative path exists
        return None
    return quote(Path(relative).as_posix(), safe="/")
