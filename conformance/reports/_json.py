"""report.json: the result as data, its JSON Schema, and the one way to read it back."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from jsonschema.exceptions import best_match

from ..model import REPORT_FORMAT, Outcome, RunResult, scrub_result
from ..schemas import schema, validator
from ._common import TOOL_NAME, one_line
from ._output import write_text

__all__ = ["load_report", "parse_report", "render_json", "report_schema", "write_json"]


def report_schema() -> dict[str, Any]:
    """The JSON Schema (Draft 2020-12) of report.json: a fresh copy, free to mutate."""
    return schema("report")


def render_json(result: RunResult) -> str:
    return json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n"


def write_json(result: RunResult, path: Path, secrets: Iterable[str] = ()) -> Path:
    secrets = tuple(secrets)
    return write_text(path, render_json(scrub_result(result, secrets)), secrets)


def _rejected(source: str, detail: str) -> ValueError:
    return ValueError(f"{source}: not an {TOOL_NAME} report ({detail})")


def parse_report(data: Any, source: str = "report") -> RunResult:
    """Validate decoded report.json data and rebuild the result; ValueError if it is not one.

    `source` names the data in the error (a path, "stdin", ...).
    """
    if isinstance(data, dict):
        found = data.get("format")
        if isinstance(found, int) and not isinstance(found, bool) and found != REPORT_FORMAT:
            raise _rejected(
                source,
                f"report format {found}; this version of {TOOL_NAME} reads format "
                f"{REPORT_FORMAT} - use the version that wrote it",
            )
    error = best_match(validator("report").iter_errors(data))
    if error is not None:
        raise _rejected(source, f"at {error.json_path}: {one_line(error.message, 300)}")
    counts = {outcome.value: 0 for outcome in Outcome}
    for check in data["checks"]:
        counts[check["outcome"]] += 1
    summary = {outcome.value: 0 for outcome in Outcome} | data["summary"]  # older: fewer keys
    if summary != counts:
        raise _rejected(
            source, f"the summary {data['summary']} does not match the checks' outcomes {counts}"
        )
    return RunResult.from_dict(data)


def load_report(path: str | Path) -> RunResult:
    """Read a report.json, validated against the schema; ValueError if it is not one.

    A file that cannot be read raises OSError, as `open` does.
    """
    path = Path(path)
    raw = path.read_bytes()
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _rejected(str(path), f"not UTF-8 JSON: {exc}") from None
    return parse_report(data, source=str(path))
