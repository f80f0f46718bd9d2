"""The mutation job (`python -m bench.mutation`): it generates mutants with cosmic-ray's
operators, a mutant that breaks the emulator is killed by the default run, a small sample
writes valid reports, and the equivalent file is honoured.

cosmic-ray comes with the test dependencies. No score is asserted: the job measures the
suite, it does not gate it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

from bench.mutation import mutants as M
from bench.mutation.report import Report, load_equivalent, markdown, record, totals
from bench.mutation.worker import Ended, Task, run_tasks

REPO = Path(__file__).resolve().parents[1]

TINY = '''\
def tiny(a, b):
    """Docstrings are no target."""
    if a > b:
        return a + 1
    return b


class Box:
    def size(self, items=3):
        return len(self.items) * 2 if self.items else items
'''


def _job(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """`python -m bench.mutation ARGS --out tmp_path/out` from a scratch folder."""
    out = tmp_path / "out"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    done = subprocess.run(
        [sys.executable, "-m", "bench.mutation", *args, "--out", str(out)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done, json.loads((out / "mutation.json").read_text(encoding="utf-8"))


def _find(scope: list[tuple[str, str]], want: str, operator: str, changed: str) -> M.Mutant:
    """The library's mutant of `want` by `operator` on the line holding `changed`."""
    for mutant in M.generate(scope).mutants:
        line = mutant.original_lines[0] if mutant.original_lines else ""
        if mutant.function.qualname == want and mutant.operator == operator and changed in line:
            return mutant
    raise LookupError(f"no {operator} mutant of {want} on a line with {changed!r}")


def test_generates_mutants_for_a_tiny_function() -> None:
    scope = [("tiny", "tiny"), ("tiny", "Box.size")]
    generated = M.generate(scope, sources={"tiny": TINY})
    by_id = {m.id: m for m in generated.mutants}
    assert len(by_id) == len(generated.mutants)  # ids are unique
    flipped = by_id["<tiny>:tiny:3:ReplaceComparisonOperator_Gt_Lt:0"]
    assert flipped.original_lines == ("    if a > b:",)
    assert flipped.mutated_lines == ("    if a < b:",)
    assert "    if not a > b:" in by_id["<tiny>:tiny:3:AddNot:0"].mutated_lines
    assert by_id["<tiny>:tiny:4:NumberReplacer:1"].mutated_lines == ("        return a + 0",)
    # a method, parsed under its class: the mutation is in place, the rest untouched
    doubled = by_id["<tiny>:Box.size:10:ReplaceBinaryOperator_Mul_Add:0"]
    assert doubled.mutated_lines == ("        return len(self.items) + 2 if self.items else items",)
    source = doubled.module_source()
    assert source.count("\n") == TINY.count("\n") and "def tiny(a, b):" in source
    compile(source, "<tiny>", "exec")
    # the signature is no target (its default runs at import): `items=3` is never mutated
    assert all(m.line >= 3 for m in generated.mutants)
    assert not any("items=4" in "".join(m.mutated_lines) for m in generated.mutants)
    # stable: the same ids and digests every time
    again = M.generate(scope, sources={"tiny": TINY})
    assert [(m.id, m.digest) for m in again.mutants] == [
        (m.id, m.digest) for m in generated.mutants
    ]


def test_only_names_functions_of_the_scope() -> None:
    assert M.resolve_only(["_get"]) == [(M.APP, "App._get")]
    assert {q for _, q in M.resolve_only(["to_json"])} == {
        "Reaction.to_json",
        "Message.to_json",
        "Conversation.to_json",
    }
    with pytest.raises(ValueError, match="not a function in scope"):
        M.resolve_only(["_webhook_route"])


@pytest.fixture(scope="module")
def chosen(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, M.Mutant], Any]:
    """Three mutants of the real emulator run by `--mutant`: metadata merged instead of
    replaced, the request counter (used by nothing but throttling, which the default run
    leaves off) counting by two, listed as equivalent, and a 404 turned into 405."""
    scope = [(M.APP, "App._apply"), (M.APP, "App.handle")]
    picked = {
        "merge": _find(
            scope, "App._apply", "ReplaceAndWithOr", "and isinstance(conversation.metadata, dict)"
        ),
        "counter": _find(scope, "App.handle", "NumberReplacer", "self._requests += 1"),
    }
    not_found = [(M.APP, q) for q in ("App._get", "App._not_found")]
    for mutant in M.generate(not_found, missing_ok=True).mutants:
        line, mutated = "".join(mutant.original_lines), "".join(mutant.mutated_lines)
        found = "_json(404" in line.replace(" ", "") and "debug" not in line
        if mutant.operator == "NumberReplacer" and found and "405" in mutated:
            picked["404"] = mutant
            break
    tmp_path = tmp_path_factory.mktemp("chosen")
    equivalent = tmp_path / "equivalent.json"
    reason = "the counter only throttles, and the default run throttles nothing"
    equivalent.write_text(json.dumps({picked["counter"].digest: reason}), encoding="utf-8")
    args = [arg for m in picked.values() for arg in ("--mutant", m.id)]
    args += [arg for m in picked.values() for arg in ("--only", m.function.qualname)]
    _done, data = _job(tmp_path, *args, "--equivalent", str(equivalent))
    return picked, data


def test_known_breaking_mutants_are_killed(chosen: tuple[dict[str, M.Mutant], Any]) -> None:
    picked, data = chosen
    outcome = {m["id"]: m for m in data["mutants"]}
    merge = outcome[picked["merge"].id]
    assert merge["outcome"] == "killed" and merge["exit_code"] == 1
    assert "META-REPLACE" in merge["gating"]
    assert merge["mutated"] == ["                or isinstance(conversation.metadata, dict)"]
    not_found = outcome[picked["404"].id]
    assert not_found["outcome"] == "killed" and not_found["exit_code"] != 0


def test_the_equivalent_file_is_honoured(chosen: tuple[dict[str, M.Mutant], Any]) -> None:
    picked, data = chosen
    counter = picked["counter"]
    assert [m["id"] for m in data["equivalent"]] == [counter.id]
    assert data["equivalent"][0]["equivalent"].startswith("the counter only throttles")
    assert data["survivors"] == []
    t = data["totals"]
    assert (t["mutants"], t["killed"], t["survived"], t["equivalent"]) == (3, 2, 0, 1)
    assert t["score"] == 1.0  # 2 killed / (3 - 1 equivalent)


def test_an_equivalent_entry_of_a_killed_mutant_is_called_wrong(tmp_path: Path) -> None:
    """By id or digest; a survivor listed is left out of the denominator, a killed one is
    not (the entry is wrong, and the report says so)."""
    generated = M.generate([("tiny", "tiny")], sources={"tiny": TINY}).mutants
    first, second, third = generated[:3]
    path = tmp_path / "eq.json"
    path.write_text(json.dumps({first.id: "same", second.digest: "also"}), encoding="utf-8")
    equivalent = load_equivalent(path)
    survived = Ended(exit_code=0, seconds=1.0)
    killed = Ended(exit_code=1, seconds=1.0, failed=("META-REPLACE",), gating=("META-REPLACE",))
    records = [
        record(first, survived, equivalent),
        record(second, killed, equivalent),
        record(third, survived, equivalent),
    ]
    t = totals(records)
    assert (t["mutants"], t["killed"], t["survived"], t["equivalent"]) == (3, 1, 1, 1)
    assert t["score"] == 0.5
    report = Report(
        date="2024-01-15T00:00:00Z",
        command="python -m bench.mutation",
        library="cosmic-ray",
        operators=("AddNot",),
        run_seed=1,
        run_command="agentphone-conformance run --seed 1",
        baseline={"exit_code": 0, "seconds": 1.0},
        scope={"functions": ["tiny"]},
        sources={},
        jobs=1,
        timeout=60,
        wall_s=3.0,
        records=records,
    )
    text = markdown(report)
    assert f"`{first.id}` (digest `{first.digest}`): same" in text
    assert f"`{second.id}`: listed as equivalent, but killed" in text
    bad = tmp_path / "bad.json"
    bad.write_text('["not", "an", "object"]', encoding="utf-8")
    with pytest.raises(ValueError, match="JSON object"):
        load_equivalent(bad)


def test_a_sample_of_two_writes_valid_reports(tmp_path: Path) -> None:
    equivalent = tmp_path / "none.json"
    equivalent.write_text("{}", encoding="utf-8")
    done, data = _job(
        tmp_path, "--sample", "2", "--seed", "3", "--only", "_get", "--equivalent", str(equivalent)
    )
    assert "2 mutants:" in done.stderr
    assert data["scope"]["sampled"] == 2 and data["scope"]["in_scope"] >= 2
    assert data["scope"]["functions"] == ["App._get"]
    assert data["run"]["exit_code"] == 0 and data["library"].startswith("cosmic-ray 8.")
    assert len(data["mutants"]) == 2
    t = data["totals"]
    assert t["mutants"] == 2 and t["killed"] + t["survived"] + t["equivalent"] == 2
    for mutant in data["mutants"]:
        assert mutant["function"] == "App._get"
        assert mutant["outcome"] in ("killed", "timeout", "survived")
        assert mutant["file"] == "conformance/emulator/_app.py" and mutant["line"] > 0
        assert mutant["original"] and mutant["mutated"] and mutant["seconds"] > 0
        assert mutant["id"].startswith(f"{mutant['file']}:App._get:{mutant['line']}:")
    assert [m["id"] for m in data["survivors"]] == [
        m["id"] for m in data["mutants"] if m["outcome"] == "survived"
    ]
    text = (tmp_path / "out" / "mutation.md").read_text(encoding="utf-8")
    assert text.startswith("# Mutation testing of the emulator")
    assert f"| 2 | {t['killed']} | {t['timed_out']} | {t['survived']} |" in text
    for survivor in data["survivors"]:
        assert f"`{survivor['id']}`" in text and f"+ {survivor['mutated'][0].strip()}" in text


def test_a_mutant_that_hangs_is_killed_by_the_time_limit() -> None:
    """A hand-made mutant whose every request spins forever: its process is killed at the
    time limit and the run reported as timed out."""
    (function,) = M.load_functions([(M.APP, "App.handle")])
    spin = "        while True:\n            pass\n"
    body = function.lines[0] + spin + "".join(function.lines[1:])
    hangs = M.Mutant(
        function=function,
        line=function.first + 1,
        operator="hand-made",
        index=0,
        occurrence=0,
        node_start=(function.first + 1, 8),
        node_end=(function.first + 2, 16),
        mutated=body,
        original_lines=(),
        mutated_lines=("while True: pass",),
    )
    compile(hangs.module_source(), "<hangs>", "exec")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with pytest's threads
        ((task, ended),) = list(run_tasks([Task("hangs", hangs)], 1, jobs=1, timeout=3))
    assert task.key == "hangs" and ended.timed_out and ended.exit_code is None
    assert ended.detail == "still running after 3 s" and 3 <= ended.seconds < 15
    timed_out = record(hangs, ended, {})
    assert timed_out.outcome == "timeout"
    t = totals([timed_out])
    assert (t["killed"], t["timed_out"], t["survived"], t["score"]) == (1, 1, 0, 1.0)
