"""history.json: the history as data, and its JSON Schema (schemas/history.schema.json)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ...model import HISTORY_FORMAT, CheckLine, History, HistoryRun, Timeline
from ...schemas import schema
from .._common import TOOL_NAME, relative_path
from .._output import write_text
from ._common import (
    cell_kind,
    history_verdict,
    line_words,
    run_counts,
    run_verdict,
    scrub_history,
    timeline_verdict,
)

__all__ = ["history_schema", "history_to_dict", "render_history_json", "write_history_json"]


def history_schema() -> dict[str, Any]:
    """The JSON Schema (Draft 2020-12) of history.json: a fresh copy, free to mutate."""
    return schema("history")


def _run(run: HistoryRun, out_dir: Path | None) -> dict[str, Any]:
    result = run.result
    headline = run_verdict(run)
    return {
        "number": run.number,
        "started_at": result.started_at,
        "seed": result.settings.seed,
        "tool_version": result.tool_version,
        "profile": result.settings.profile,
        "strict": result.settings.strict,
        "edition": result.edition.edition.value,
        "faults": list(result.target.faults),
        "exit_code": result.exit_code,
        "interrupted": result.interrupted,
        "status": headline.status,
        "verdict": headline.headline,
        "counts": run_counts(run),
        "report_json": relative_path(run.source, out_dir),
        "report_html": relative_path(run.html, out_dir) if run.html is not None else None,
    }


def _check(timeline: Timeline, line: CheckLine) -> dict[str, Any]:
    return {
        "id": line.check.id,
        "family": line.check.family,
        "level": line.check.level.value,
        "requirement": line.check.requirement,
        "outcomes": [cell_kind(cell) for cell in line.cells],
        "failing_now": line.failing_now is not None,
        "stretches": [
            {
                "since": s.since,
                "last_failed": s.last_failed,
                "fixed_in": s.fixed_in,
                "from_start": s.from_start,
            }
            for s in line.stretches
        ],
        "since_when": line_words(timeline, line),
    }


def _changes(timeline: Timeline) -> dict[str, Any] | None:
    previous = timeline.previous
    if previous is None:
        return None
    changed = timeline.changed()
    return {
        "from_run": previous.number,
        "to_run": timeline.latest.number,
        "newly_failing": [line.check.id for line in timeline.newly_failing()],
        "fixed": [line.check.id for line in timeline.fixed()],
        "changed": [
            {"id": line.check.id, "before": cell_kind(before), "after": cell_kind(after)}
            for line, before, after in changed
        ],
    }


def _target(timeline: Timeline, out_dir: Path | None) -> dict[str, Any]:
    latest = timeline_verdict(timeline)
    return {
        "name": timeline.name,
        "base_url": timeline.base_url,
        "embedded": timeline.embedded,
        "slug": timeline.slug,
        "left_out": timeline.left_out,
        "latest": {
            "run": timeline.latest.number,
            "status": latest.status,
            "headline": latest.headline,
        },
        "changes": _changes(timeline),
        "runs": [_run(run, out_dir) for run in timeline.runs],
        "checks": [_check(timeline, line) for line in timeline.lines],
    }


def history_to_dict(history: History, out_dir: Path | None = None) -> dict[str, Any]:
    """The history as history.json holds it; report paths relative to `out_dir` if given."""
    overall = history_verdict(history)
    return {
        "format": HISTORY_FORMAT,
        "tool": {"name": TOOL_NAME, "version": history.tool_version},
        "generated_at": history.generated_at,
        "last": history.last,
        "runs": history.runs,
        "verdict": {"status": overall.status, "headline": overall.headline},
        "skipped": [
            {"path": relative_path(s.path, out_dir), "reason": s.reason} for s in history.skipped
        ],
        "targets": [_target(t, out_dir) for t in history.timelines],
    }


def render_history_json(history: History, out_dir: Path | None = None) -> str:
    return json.dumps(history_to_dict(history, out_dir), indent=2, ensure_ascii=False) + "\n"


def write_history_json(history: History, path: Path, secrets: Iterable[str] = ()) -> Path:
    secrets = tuple(secrets)
    text = render_history_json(scrub_history(history, secrets), path.parent)
    return write_text(path, text, secrets)
