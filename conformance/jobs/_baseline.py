"""Baseline files: the report.json of an earlier run, or an accepted-failures file.

Either way a bad file is one `HarnessError` (exit code 2) that names the file, what is
wrong and what to do; never a traceback. The comparison itself is plain data: the model's
`compare`.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any, Final

from jsonschema.exceptions import ValidationError, best_match

from ..core import HarnessError
from ..model import AcceptedFailure, Baseline, RunResult
from ..reports import parse_report
from ..schemas import schema, validator

__all__ = [
    "ACCEPTED_FORMAT",
    "accepted_failures_schema",
    "load_baseline",
    "load_run_report",
    "parse_accepted_failures",
    "parse_baseline",
]

ACCEPTED_FORMAT: Final = 1  # bump when the accepted-failures format changes incompatibly
_HINT: Final = (
    "give the report.json of an earlier run, or an accepted-failures file "
    '({"format": 1, "accepted": [{"check": ..., "reason": ...}]}; see the README)'
)
_REPORT_HINT: Final = (
    "give the report.json a run wrote (`run --report-dir DIR` writes DIR/report.json)"
)
_FILE_HINT: Final = (
    "fix the file: see examples/accepted-failures.json and the schema, "
    "conformance/schemas/accepted-failures.schema.json"
)
_REASON_HINT: Final = (
    "every accepted failure must say why it is accepted (a ticket, a vendor's promise)"
)


def accepted_failures_schema() -> dict[str, Any]:
    """The JSON Schema (Draft 2020-12) of an accepted-failures file: a fresh copy."""
    return schema("accepted-failures")


def _entry_name(data: Any, index: int) -> str:
    entry = data["accepted"][index]
    check = entry.get("check") if isinstance(entry, dict) else None
    return f"accepted[{index}]" + (f" ({check})" if isinstance(check, str) and check else "")


def _schema_error(data: Any, source: str, error: ValidationError) -> HarnessError:
    path = list(error.absolute_path)
    index = path[1] if len(path) >= 2 and path[0] == "accepted" else None
    if isinstance(index, int):
        entry, field = _entry_name(data, index), path[2:]
        if field == ["reason"] or (
            not field and error.validator == "required" and "'reason'" in error.message
        ):
            problem = "has a blank reason" if field else "has no reason"
            return HarnessError(f"baseline {source}: {entry} {problem}", _REASON_HINT)
        if field == ["check"] and error.validator == "pattern":
            return HarnessError(
                f"baseline {source}: accepted[{index}] names {error.instance!r}, not a check ID",
                "write the ID exactly, e.g. META-NULL-CLEARS: `agentphone-conformance checks` "
                "lists them",
            )
        where = entry + "".join(f".{p}" for p in field)
    else:
        where = error.json_path.removeprefix("$.") if path else "the top level"
    message = error.message if len(error.message) <= 200 else error.message[:199] + "…"
    return HarnessError(
        f"baseline {source}: not a valid accepted-failures file ({where}: {message})",
        _FILE_HINT,
    )


def parse_accepted_failures(data: Any, source: str = "accepted failures") -> Baseline:
    """Validate a decoded accepted-failures file and build the baseline; HarnessError if bad."""
    if isinstance(data, dict):
        found = data.get("format")
        if isinstance(found, int) and not isinstance(found, bool) and found != ACCEPTED_FORMAT:
            raise HarnessError(
                f"baseline {source}: accepted-failures format {found}; this version reads "
                f"format {ACCEPTED_FORMAT}",
                "use the version of agentphone-conformance the file was written for",
            )
    error = best_match(validator("accepted-failures").iter_errors(data))
    if error is not None:
        raise _schema_error(data, source, error)
    entries: list[AcceptedFailure] = []
    seen: dict[tuple[str, str | None], int] = {}
    for index, item in enumerate(data["accepted"]):
        key = (item["check"], item.get("target"))
        if key in seen:
            scope = f" for target {key[1]!r}" if key[1] is not None else ""
            raise HarnessError(
                f"baseline {source}: accepted[{index}] repeats {key[0]}{scope} "
                f"(already accepted[{seen[key]}])",
                "keep one entry per check and target",
            )
        seen[key] = index
        expires = item.get("expires")
        try:
            day = date.fromisoformat(expires) if expires is not None else None
        except ValueError:
            raise HarnessError(
                f"baseline {source}: {_entry_name(data, index)} expires on {expires!r}, not a date",
                "write the last day the acceptance holds as YYYY-MM-DD",
            ) from None
        entries.append(AcceptedFailure(item["check"], item["reason"].strip(), key[1], day))
    return Baseline(source=source, accepted=tuple(entries), description=data.get("description", ""))


def _run_report(data: Any, source: str) -> RunResult:
    try:
        return parse_report(data, source)
    except ValueError as exc:
        raise HarnessError(f"baseline {exc}", _HINT) from None


def parse_baseline(data: Any, source: str = "baseline") -> Baseline:
    """A decoded baseline file: a report.json (it has "checks") or an accepted-failures file
    (it has "accepted"). HarnessError if it is neither, or a bad one."""
    if isinstance(data, dict) and "accepted" in data:
        return parse_accepted_failures(data, source)
    if isinstance(data, dict) and ("checks" in data or "tool" in data):
        report = _run_report(data, source)
        return Baseline(source=source, report=report)
    raise HarnessError(
        f"baseline {source} is neither a report.json nor an accepted-failures file", _HINT
    )


def _read_json(path: Path, what: str, hint: str) -> Any:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise HarnessError(f"{what} {path} not found", hint) from None
    except IsADirectoryError:
        raise HarnessError(f"{what} {path} is a directory", "name the JSON file itself") from None
    except OSError as exc:
        raise HarnessError(f"cannot read {what} {path} ({exc.strerror or exc})", hint) from None
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HarnessError(f"{what} {path} is not UTF-8 JSON ({exc})", hint) from None


def load_baseline(path: str | Path) -> Baseline:
    """Read a baseline file (report.json or accepted failures); HarnessError if bad."""
    path = Path(path)
    return parse_baseline(_read_json(path, "baseline", _HINT), str(path))


def load_run_report(path: str | Path) -> RunResult:
    """Read the report.json of the run to compare (diff's NEW); HarnessError if bad."""
    path = Path(path)
    data = _read_json(path, "report", _REPORT_HINT)
    try:
        return parse_report(data, str(path))
    except ValueError as exc:
        raise HarnessError(str(exc), _REPORT_HINT) from None
