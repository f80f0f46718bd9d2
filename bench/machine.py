"""What the benchmark ran on: CPU, cores, load, OS and the versions of both tools."""

from __future__ import annotations

import importlib.metadata
import os
import platform
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conformance import __version__ as SUITE_VERSION


@dataclass(frozen=True)
class Machine:
    cpu_model: str
    cores: int | None
    usable_cores: int  # by this process
    load_average_at_start: tuple[float, ...]  # empty where there is no load average
    os: str
    python: str
    schemathesis: str
    agentphone_conformance: str
    date: str  # UTC, ISO 8601
    load_average_at_end: tuple[float, ...] | None = None  # None: not measured

    def to_dict(self) -> dict[str, Any]:
        """The `machine` section of bench.json (no `load_average_at_end` if not measured)."""
        fields = asdict(self)
        if self.load_average_at_end is None:
            del fields["load_average_at_end"]
        return {name: list(v) if isinstance(v, tuple) else v for name, v in fields.items()}


def load_average() -> tuple[float, ...] | None:
    try:
        return tuple(round(x, 2) for x in os.getloadavg())
    except OSError:
        return None


def describe_machine() -> Machine:
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        usable = os.cpu_count() or 0
    return Machine(
        cpu_model=_cpu_model(),
        cores=os.cpu_count(),
        usable_cores=usable,
        load_average_at_start=load_average() or (),
        os=platform.platform(),
        python=platform.python_version(),
        schemathesis=importlib.metadata.version("schemathesis"),
        agentphone_conformance=SUITE_VERSION,
        date=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    )


def _cpu_model() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines()
    except OSError:
        return platform.processor() or "unknown"
    for line in lines:
        if line.lower().startswith(("model name", "hardware", "processor\t: ")):
            name = line.split(":", 1)[1].strip()
            if name and not name.isdigit():
                return name
    return "unknown"
