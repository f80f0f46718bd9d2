"""The GitHub Action (action.yml) and the CI templates (examples/ci/) work as written.

Three levels: every file parses and installs the suite from somewhere it can come from (the
suite is on no package index); the action's metadata is complete and keeps the API key off
every command line; and the action's own steps, read from action.yml, run here in order
against the embedded emulator (action/run.sh also alone, with a stand-in for the suite).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
ACTION = ROOT / "action.yml"
SCRIPT = ROOT / "action" / "run.sh"
CI = ROOT / "examples" / "ci"
CI_FILES = sorted([*CI.glob("*.yml"), *CI.glob("*.yaml")])
SUITE = "agentphone-conformance"
THIS_ACTION = re.compile(r"^[\w.-]+/agentphone-conformance(?:/[^@]*)?@(?P<ref>.*)$")
KEY_INPUT = re.compile(r"inputs\.(?:(?:second-)?api-key|webhook-secret)(?![\w-])")
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
FAKE_KEY = "sk_fake_Zq8vT1nW4eRr2yU7"

# The action's inputs as the issue defines them (name -> default; None: no default given).
INPUTS = {
    "target": "",
    "api-key": "",
    "api-key-env": "",
    "second-api-key": "",
    "webhook-secret": "",
    "webhook-secret-env": "",
    "seed": "",
    "profile": "",
    "report-dir": "reports/agentphone-conformance",
    "baseline": "",
    "har": "true",
    "badge": "true",
    "python-version": "3.11",
    "upload-artifact": "true",
    "artifact-name": "agentphone-conformance-reports",
    "retention-days": "",
}


def _load(path: Path) -> dict[Any, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict), f"{path.name}: not a mapping"
    return document


def _action() -> dict[Any, Any]:
    return _load(ACTION)


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


# --- install lines ---------------------------------------------------------------------------

# pip install options that take a value which is not a requirement.
_VALUE_OPTIONS = (
    {"-r", "--requirement", "-c", "--constraint", "-C", "--config-settings", "--src"}
    | {"-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--upgrade-strategy"}
    | {"-t", "--target", "--prefix", "--root", "--python-version", "--platform", "--abi"}
    | {"--implementation"}
)
_NAMED_URL = re.compile(
    r"^\s*(?P<name>[A-Za-z0-9][\w.-]*)\s*(?:\[[^\]]*\])?\s*@\s*(?P<url>\S+)\s*$"
)
_NAME = re.compile(r"^(?P<name>[A-Za-z0-9][\w.-]*)")


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _commands(text: str) -> Iterator[list[str]]:
    """The simple commands of a shell script, as words (`a && b; c | d` is three)."""
    text = text.replace("\\\n", " ")
    text = EXPRESSION.sub(lambda m: "${{" + m.group(1).replace(" ", "") + "}}", text)
    for raw in text.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw)  # a comment starts a word
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = ""
        command: list[str] = []
        for word in lexer:
            if word and set(word) <= set(";&|()<>"):
                if command:
                    yield command
                command = []
            else:
                command.append(word)
        if command:
            yield command


def _pip_requirements(command: list[str]) -> list[str] | None:
    """The requirements of a `pip install` command (None: not one)."""
    for i, word in enumerate(command[:-1]):
        is_pip = re.fullmatch(r"(?:.*/)?pip3?(?:\.\d+)?", word) or (
            word == "pip" and i > 0 and command[i - 1] == "-m"
        )
        if is_pip and command[i + 1] == "install":
            break
    else:
        return None
    requirements: list[str] = []
    words = iter(command[i + 2 :])
    for word in words:
        if word in _VALUE_OPTIONS:
            next(words, None)
        elif word in ("-e", "--editable"):
            requirements.append(next(words, ""))
        elif not word.startswith("-"):
            requirements.append(word)
    return requirements


def _pinned_git_url(url: str) -> bool:
    if not url.startswith("git+https://"):
        return False
    path = urlsplit(url.removeprefix("git+")).path
    return "@" in path and bool(path.rsplit("@", 1)[1])


def _is_path(requirement: str) -> bool:
    return requirement.startswith((".", "/", "~", "$")) or (
        "://" not in requirement and "/" in requirement
    )


def install_problem(requirement: str) -> str | None:
    """Why `pip install REQUIREMENT` cannot be relied on to install the suite, or None.

    The suite is on no package index: it comes from a path (a checkout, the action's own
    `${{ github.action_path }}`) or a `git+https://` URL pinned to a ref (`@v1`, `@<sha>`).
    Any git URL must be so pinned; other packages from an index are fine.
    """
    named = _NAMED_URL.match(requirement)
    url = named.group("url") if named else requirement
    if url.startswith("git+"):
        return None if _pinned_git_url(url) else "a git URL must be git+https://... pinned @ref"
    if named or _is_path(url):
        return None
    if "://" in url:
        suite = SUITE in url or SUITE.replace("-", "_") in url
        return "the suite comes from a path or a pinned git+https URL" if suite else None
    name = _NAME.match(url)
    if name and _normalized(name.group("name")) == SUITE:
        return "agentphone-conformance is on no package index: install it from git+https @ref"
    return None


def _shell_texts(node: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """Every shell text of a workflow, an action or a GitLab pipeline: `run:` of steps,
    `script`, `before_script` and `after_script` of jobs; (where, text)."""
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{where}.{key}" if where else str(key)
            if key == "run" and isinstance(value, str):
                yield here, value
            elif key in ("script", "before_script", "after_script"):
                items = value if isinstance(value, list) else [value]
                for index, item in enumerate(items):
                    lines = item if isinstance(item, list) else [item]
                    yield from ((f"{here}[{index}]", str(line)) for line in lines)
            else:
                yield from _shell_texts(value, here)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _shell_texts(item, f"{where}[{index}]")


def _installs(path: Path) -> list[tuple[str, str]]:
    """Every requirement a file's shell texts pip-install: (where, requirement)."""
    found: list[tuple[str, str]] = []
    for where, text in _shell_texts(_load(path)):
        for command in _commands(text):
            found.extend((where, r) for r in _pip_requirements(command) or [])
    return found


def _uses(node: Any) -> Iterator[tuple[Mapping[str, Any], str]]:
    """Every step (or job) with `uses:`, with its value."""
    if isinstance(node, dict):
        if isinstance(node.get("uses"), str):
            yield node, node["uses"]
        for value in node.values():
            yield from _uses(value)
    elif isinstance(node, list):
        for item in node:
            yield from _uses(item)


@pytest.mark.parametrize("path", [*CI_FILES, ACTION], ids=_name)
def test_every_ci_file_parses(path: Path) -> None:
    document = _load(path)
    assert document


@pytest.mark.parametrize(
    ("line", "good"),
    [
        ("pip install agentphone-conformance", False),
        ("python -m pip install --quiet agentphone-conformance", False),
        ("pip install agentphone-conformance==0.1.0", False),
        ('pip install "agentphone-conformance>=0.1"', False),
        ("pip install 'Agentphone_Conformance[test]'", False),
        ("pip install -U pip && pip install agentphone-conformance", False),
        ("pip install git+https://github.com/OWNER/agentphone-conformance", False),
        ("pip install git+https://github.com/OWNER/agentphone-conformance@", False),
        ("pip install git+http://github.com/OWNER/agentphone-conformance@v1", False),
        ("pip install https://example.org/agentphone-conformance-0.1.0.tar.gz", False),
        ('pip install "git+https://github.com/OWNER/agentphone-conformance@v1"', True),
        ('pip install "git+https://gitlab.com/OWNER/agentphone-conformance@0123abc"', True),
        ('pip install "agentphone-conformance @ git+https://github.com/O/a@v1.2"', True),
        ('python -m pip install --disable-pip-version-check "${{ github.action_path }}"', True),
        ('pip install "$GITHUB_ACTION_PATH"', True),
        ("pip install -e '.[test]'", True),
        ("pip install ./agentphone-conformance", True),
        ("pip install --upgrade pip  # agentphone-conformance comes later", True),
    ],
)
def test_the_install_check_tells_good_lines_from_bad(line: str, good: bool) -> None:
    problems = [install_problem(r) for c in _commands(line) for r in _pip_requirements(c) or []]
    assert problems, line
    assert all(p is None for p in problems) is good, (line, problems)


@pytest.mark.parametrize("path", [*CI_FILES, ACTION], ids=_name)
def test_every_install_line_can_succeed(path: Path) -> None:
    for where, requirement in _installs(path):
        problem = install_problem(requirement)
        assert problem is None, f"{_name(path)} {where}: pip install {requirement}: {problem}"


@pytest.mark.parametrize("path", CI_FILES, ids=_name)
def test_the_suite_is_installed_before_it_runs(path: Path) -> None:
    """A job that runs `agentphone-conformance` itself installs it first (in GitLab, its
    before_script, its own or the default one); a job that uses the action needs nothing."""
    document = _load(path)
    jobs = document.get("jobs") or {
        name: job for name, job in document.items() if isinstance(job, dict) and "script" in job
    }
    assert jobs, f"{_name(path)}: no job"
    for name, job in jobs.items():
        if "steps" in job:
            texts = [str(step.get("run", "")) for step in job["steps"]]
        else:
            before = job.get("before_script", document.get("default", {}).get("before_script"))
            texts = [*(before or []), *job["script"]]
        installed = False
        for text in texts:
            for command in _commands(text):
                requirements = _pip_requirements(command)
                if requirements is not None:
                    installed = installed or any(
                        install_problem(r) is None and (SUITE in r or "action_path" in r)
                        for r in requirements
                    )
                elif command[0] == SUITE:
                    assert installed, f"{_name(path)} job {name}: runs {SUITE} before installing it"


# --- the action's metadata -------------------------------------------------------------------

_TOP_KEYS = {"name", "author", "description", "inputs", "outputs", "runs", "branding"}
_RUN_KEYS = {"run", "shell", "env", "working-directory"}
_STEP_KEYS = {"name", "id", "if", "uses", "with", "continue-on-error"} | _RUN_KEYS


def test_the_action_is_a_composite_action_of_valid_shape() -> None:
    action = _action()
    assert set(action) <= _TOP_KEYS
    assert action["name"] and action["description"]
    assert action["runs"]["using"] == "composite"
    steps = action["runs"]["steps"]
    for step in steps:
        assert set(step) <= _STEP_KEYS, step
        assert ("uses" in step) != ("run" in step), step
        if "run" in step:
            assert step["shell"] == "bash", step  # composite run steps must name their shell
        else:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", step["uses"]), step["uses"]
    used = [step["uses"].split("@")[0] for step in steps if "uses" in step]
    assert used == ["actions/setup-python", "actions/upload-artifact"]

    def index(found: Callable[[dict[str, Any]], bool]) -> int:
        return next(i for i, step in enumerate(steps) if found(step))

    install = index(lambda s: "pip install" in str(s.get("run")))
    run = index(lambda s: s.get("id") == "run")
    upload = index(lambda s: "upload-artifact" in str(s.get("uses")))
    assert 0 < install < run < upload < len(steps) - 1  # the job fails last, after the upload
    assert "${{ github.action_path }}" in steps[install]["run"]
    assert "action/run.sh" in steps[run]["run"] and SCRIPT.is_file()
    condition = steps[upload]["if"].replace(" ", "")
    assert "always()" in condition and "inputs.upload-artifact=='true'" in condition
    assert steps[upload]["with"]["path"] == "${{ inputs.report-dir }}"
    assert "steps.run.outputs.exit-code" in json.dumps(steps[-1])


def test_the_action_inputs_and_outputs_are_documented() -> None:
    action = _action()
    inputs, outputs = action["inputs"], action["outputs"]
    assert {name: spec.get("default") for name, spec in inputs.items()} == INPUTS
    for name, spec in inputs.items():
        assert set(spec) <= {"description", "required", "default", "deprecationMessage"}
        assert str(spec.get("description", "")).strip(), f"input {name} has no description"
        assert spec.get("required") is False, f"input {name}: every input is optional"
    assert set(outputs) == {"exit-code", "report-dir"}
    for name, spec in outputs.items():
        assert set(spec) == {"description", "value"}, name
        assert str(spec["description"]).strip(), f"output {name} has no description"
        assert spec["value"] == f"${{{{ steps.run.outputs.{name} }}}}"
    # Every input the steps read is declared, and every declared input is read.
    read = set(re.findall(r"inputs\.([\w-]+)", json.dumps(action["runs"])))
    assert read == set(inputs)


def test_the_api_key_is_only_ever_in_env() -> None:
    steps = _action()["runs"]["steps"]
    in_env = []
    for step in steps:
        assert not KEY_INPUT.search(str(step.get("run", ""))), step["run"]
        assert not KEY_INPUT.search(json.dumps(step.get("with", {}))), step
        assert not KEY_INPUT.search(str(step.get("if", ""))), step
        in_env += [name for name, value in step.get("env", {}).items() if KEY_INPUT.search(value)]
    assert sorted(in_env) == ["INPUT_API_KEY", "INPUT_SECOND_API_KEY", "INPUT_WEBHOOK_SECRET"]
    # The examples never put a secret on a command line either.
    for path in CI_FILES:
        for where, text in _shell_texts(_load(path)):
            assert "secrets." not in text and "secrets[" not in text, f"{_name(path)} {where}"


# --- the examples ----------------------------------------------------------------------------


def _action_steps(document: Any) -> list[tuple[Mapping[str, Any], str]]:
    return [(step, m["ref"]) for step, uses in _uses(document) if (m := THIS_ACTION.match(uses))]


@pytest.mark.parametrize("path", CI_FILES, ids=_name)
def test_every_uses_names_a_ref(path: Path) -> None:
    declared = set(_action()["inputs"])
    for step, uses in _uses(_load(path)):
        if uses.startswith(("./", "docker://")):
            continue
        assert re.fullmatch(r"[^@\s]+@[^@\s]+", uses), f"{_name(path)}: {uses} names no ref"
        if THIS_ACTION.match(uses):
            assert set(step.get("with", {})) <= declared, f"{_name(path)}: unknown input"


def test_the_github_example_runs_the_action_per_vendor_then_merges() -> None:
    workflow = _load(CI / "github-actions.yml")
    vendors, merge = workflow["jobs"]["conformance"], workflow["jobs"]["matrix"]
    include = vendors["strategy"]["matrix"]["include"]
    assert len(include) >= 2 and all({"vendor", "target", "key_secret"} <= set(e) for e in include)
    [(step, ref)] = _action_steps(vendors)
    assert ref
    given = step["with"]
    assert given["target"] == "${{ matrix.target }}"
    assert given["api-key"] == "${{ secrets[matrix.key_secret] }}"
    assert "matrix.vendor" in given["report-dir"] and "matrix.vendor" in given["artifact-name"]
    # The merge job installs the suite at the action's ref and finds every vendor's artifact.
    assert merge["needs"] == "conformance" and "cancelled()" in merge["if"]
    installs = [r for _, r in _installs(CI / "github-actions.yml")]
    assert [r.rsplit("@", 1)[1] for r in installs if SUITE in r] == [ref]
    [download] = [s for s, uses in _uses(merge) if uses.startswith("actions/download-artifact@")]
    for entry in include:
        name = given["artifact-name"].replace("${{ matrix.vendor }}", entry["vendor"])
        assert fnmatchcase(name, download["with"]["pattern"]), name
    runs = " ".join(str(s.get("run", "")) for s in merge["steps"])
    assert "agentphone-conformance matrix --merge" in runs and "GITHUB_STEP_SUMMARY" in runs


def test_the_nightly_example_is_scheduled_and_keeps_its_reports() -> None:
    workflow = _load(CI / "nightly.yml")
    triggers: dict[str, Any] = workflow.get("on") or workflow[True]  # YAML 1.1: `on` is true
    assert triggers["schedule"] and all(len(t["cron"].split()) == 5 for t in triggers["schedule"])
    steps = [(step, ref) for job in workflow["jobs"].values() for step, ref in _action_steps(job)]
    assert len(steps) == 1 and steps[0][1]
    given = steps[0][0]["with"]
    assert int(given["retention-days"]) > 0
    assert given.get("upload-artifact", "true") == "true"
    assert given["api-key"].startswith("${{ secrets.")


def test_the_gitlab_example_installs_from_a_pinned_repository() -> None:
    pipeline = _load(CI / "gitlab-ci.yml")
    installs = [r for _, r in _installs(CI / "gitlab-ci.yml") if SUITE in r]
    assert installs and all(_pinned_git_url(r) for r in installs)
    assert not pipeline["default"]["image"].endswith("-slim")  # pip needs git for git+https


# --- the action's steps, run here ------------------------------------------------------------


@dataclass
class StepRun:
    name: str
    returncode: int
    stdout: str
    stderr: str


@dataclass
class LocalRun:
    ran: list[StepRun] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)  # the action's outputs
    output_files: str = ""  # every step's GITHUB_OUTPUT, as written
    summary: str = ""

    @property
    def exit_code(self) -> int:
        return self.ran[-1].returncode

    def text(self) -> str:
        """Everything the run showed or wrote outside its report directory."""
        logs = "".join(s.stdout + s.stderr for s in self.ran)
        return logs + self.output_files + self.summary + json.dumps(self.outputs)


def _read_outputs(text: str) -> dict[str, str]:
    """A GITHUB_OUTPUT file: `name=value` lines and `name<<DELIMITER` blocks."""
    found: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        name, equals, value = line.partition("=")
        if "<<" in name:
            name, delimiter = name.split("<<", 1)
            block = []
            for more in lines:
                if more == delimiter:
                    break
                block.append(more)
            found[name] = "\n".join(block)
        elif equals:
            found[name] = value
    return found


def _evaluate(text: str, context: Mapping[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        expression = match.group(1)
        if expression.startswith("steps."):
            return context.get(expression, "")  # GitHub: a missing output is ""
        assert expression in context, f"the local run cannot evaluate ${{{{ {expression} }}}}"
        return context[expression]

    return EXPRESSION.sub(value, text)


def _environment(*prepend: Path) -> dict[str, str]:
    """This machine's environment without anything the action or the suite reads."""
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AGENTPHONE_", "GITHUB_", "INPUT_", "RUNNER_", "VENDOR_X_"))
    }
    path = os.pathsep.join([*map(str, prepend), environ.get("PATH", "")])
    return {**environ, "PATH": path}


def run_action_locally(
    workspace: Path, given: Mapping[str, str], job_env: Mapping[str, str] | None = None
) -> LocalRun:
    """The composite action's steps, from action.yml, in order, as the runner would run them
    (`bash --noprofile --norc -eo pipefail`, in the workspace, a fresh GITHUB_OUTPUT each).

    Skipped: the `uses:` steps (setup-python: this interpreter's virtualenv is the Python;
    upload-artifact: GitHub's service) and the pip install step - the suite is already
    installed here from this checkout (`pip install -e .`), and installing it again would
    need the package index for the build backend and take longer than the test.
    """
    action = _action()
    unknown = set(given) - set(action["inputs"])
    assert not unknown, unknown
    inputs = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()}
    context = {f"inputs.{name}": value for name, value in {**inputs, **given}.items()}
    context["github.action_path"] = str(ROOT)
    bin_dir = Path(sys.executable).parent
    assert shutil.which(SUITE, path=str(bin_dir)), f"{SUITE} is not installed: pip install -e ."
    summary = workspace.parent / "step-summary.md"
    summary.write_text("", encoding="utf-8")
    run = LocalRun()
    for index, step in enumerate(action["runs"]["steps"]):
        name = step.get("name", f"step {index}")
        if "uses" in step or "pip install" in step["run"]:
            run.skipped.append(name)
            continue
        assert step["shell"] == "bash" and "if" not in step, step
        output = workspace.parent / f"output-{index}"
        output.write_text("", encoding="utf-8")
        script = workspace.parent / f"step-{index}.sh"
        script.write_text(_evaluate(step["run"], context), encoding="utf-8")
        env = {
            **_environment(bin_dir),
            **(job_env or {}),
            **{k: _evaluate(str(v), context) for k, v in step.get("env", {}).items()},
            "GITHUB_ACTION_PATH": str(ROOT),
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_OUTPUT": str(output),
            "GITHUB_STEP_SUMMARY": str(summary),
        }
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=workspace,
            env=env,
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
        run.ran.append(StepRun(name, done.returncode, done.stdout, done.stderr))
        written = output.read_text(encoding="utf-8")
        run.output_files += written
        if "id" in step:
            for key, value in _read_outputs(written).items():
                context[f"steps.{step['id']}.outputs.{key}"] = value
        if done.returncode != 0:
            break  # later steps run only if: always() - here, the skipped upload
    run.outputs = {k: _evaluate(v["value"], context) for k, v in action["outputs"].items()}
    run.summary = summary.read_text(encoding="utf-8")
    return run


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "workspace"
    path.mkdir()
    return path


def test_the_action_passes_on_the_emulator(workspace: Path) -> None:
    run = run_action_locally(
        workspace, {"seed": "1", "profile": "quick", "report-dir": "out/reports"}
    )
    assert run.skipped == [
        "Set up Python",
        "Install agentphone-conformance from the action's checkout",
        "Upload the reports",
    ]
    assert [s.returncode for s in run.ran] == [0, 0], run.ran
    assert run.outputs == {"exit-code": "0", "report-dir": "out/reports"}
    reports = workspace / "out" / "reports"
    for name in ("junit.xml", "report.json", "summary.md", "report.html", "run.har", "badge.svg"):
        assert (reports / name).is_file(), name
    summary = (reports / "summary.md").read_text(encoding="utf-8")
    assert summary.startswith("## ✅ conformant") and summary in run.summary
    assert "exit-code=0\nreport-dir=out/reports\n" in run.output_files
    report = json.loads((reports / "report.json").read_text(encoding="utf-8"))
    assert report["settings"]["seed"] == 1


def test_the_action_fails_with_the_suite_after_the_summary(workspace: Path) -> None:
    target = workspace / "null-ignored.toml"
    target.write_text('name = "x"\n[emulator]\nfaults = ["semantics-null-ignored"]\n', "utf-8")
    run = run_action_locally(
        workspace,
        {"target": target.name, "seed": "1", "profile": "quick", "report-dir": "reports"},
    )
    run_step, fail_step = run.ran
    assert run_step.returncode == 0, run_step  # the exit code waits for the upload step
    assert "exit code 1 kept" in run_step.stdout
    assert fail_step.returncode == 1
    assert run.outputs == {"exit-code": "1", "report-dir": "reports"}
    summary = (workspace / "reports" / "summary.md").read_text(encoding="utf-8")
    assert "META-NULL-CLEARS" in summary and summary in run.summary


def test_the_key_reaches_the_suite_and_nothing_else(workspace: Path) -> None:
    target = workspace / "vendor-x.toml"
    target.write_text(
        'name = "x"\nbase_url = "http://127.0.0.1:9"\napi_key_env = "VENDOR_X_API_KEY"\n'
        'conversation_ids = ["conv_x"]\n',
        "utf-8",
    )
    run = run_action_locally(
        workspace,
        {
            "target": target.name,
            "api-key": FAKE_KEY,
            "api-key-env": "VENDOR_X_API_KEY",
            "seed": "1",
            "profile": "quick",
        },
    )
    # 3 (unreachable), not 2 (key variable not set): the key arrived under its name.
    assert run.exit_code == 3 and run.outputs["exit-code"] == "3"
    assert "unreachable" in run.ran[0].stderr
    assert FAKE_KEY not in run.text()
    written = [p for p in workspace.parent.rglob("*") if p.is_file()]  # steps, outputs too
    assert all(FAKE_KEY not in p.read_text("utf-8", errors="replace") for p in written)
    assert "No summary.md was written" in run.summary


# --- action/run.sh alone, with a stand-in for the suite --------------------------------------

_STAND_IN = """#!{python}
import json, os, pathlib, sys
pathlib.Path(os.environ["STAND_IN_RECORD"]).write_text(
    json.dumps({{"argv": sys.argv[1:], "env": dict(os.environ)}}))
report = pathlib.Path(sys.argv[sys.argv.index("--report-dir") + 1])
report.mkdir(parents=True, exist_ok=True)
if os.environ.get("STAND_IN_SUMMARY"):
    (report / "summary.md").write_text(os.environ["STAND_IN_SUMMARY"])
sys.exit(int(os.environ.get("STAND_IN_EXIT", "0")))
"""


@dataclass
class ScriptRun:
    returncode: int
    logs: str
    argv: list[str] | None  # the stand-in's arguments; None: not called
    env: dict[str, str]
    outputs: dict[str, str]
    summary: str


def run_script(tmp_path: Path, inputs: Mapping[str, str], **stand_in: str) -> ScriptRun:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / SUITE
    fake.write_text(_STAND_IN.format(python=sys.executable), encoding="utf-8")
    fake.chmod(0o755)
    record, output, summary = (tmp_path / n for n in ("record.json", "output", "summary.md"))
    for path in (output, summary):
        path.write_text("", encoding="utf-8")
    record.unlink(missing_ok=True)
    env = {
        **_environment(bin_dir),
        **inputs,
        **{f"STAND_IN_{k.upper()}": v for k, v in stand_in.items()},
        "STAND_IN_RECORD": str(record),
        "PYTHON": sys.executable,  # where the suite is installed (action/run.sh reads files)
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    done = subprocess.run(
        ["bash", str(SCRIPT)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    called = json.loads(record.read_text("utf-8")) if record.exists() else None
    return ScriptRun(
        done.returncode,
        done.stdout + done.stderr,
        called and called["argv"],
        called["env"] if called else {},
        _read_outputs(output.read_text("utf-8")),
        summary.read_text("utf-8"),
    )


EMPTY_INPUTS = {
    "INPUT_TARGET": "",
    "INPUT_API_KEY": "",
    "INPUT_API_KEY_ENV": "",
    "INPUT_SECOND_API_KEY": "",
    "INPUT_WEBHOOK_SECRET": "",
    "INPUT_WEBHOOK_SECRET_ENV": "",
    "INPUT_SEED": "",
    "INPUT_PROFILE": "",
    "INPUT_BASELINE": "",
    "INPUT_HAR": "",
    "INPUT_BADGE": "",
}


def test_the_script_adds_no_option_for_an_empty_input(tmp_path: Path) -> None:
    run = run_script(tmp_path, {**EMPTY_INPUTS, "INPUT_REPORT_DIR": "r"}, summary="## fine\n")
    assert run.returncode == 0, run.logs
    assert run.argv == ["run", "--report-dir", "r"]
    assert "AGENTPHONE_API_KEY" not in run.env
    assert run.outputs == {"exit-code": "0", "report-dir": "r"}
    assert run.summary == "## fine\n"


def test_the_script_passes_each_input_as_one_argument_and_keys_in_env(tmp_path: Path) -> None:
    inputs = {
        "INPUT_TARGET": "my targets/vendor x.toml",
        "INPUT_API_KEY": FAKE_KEY,
        "INPUT_API_KEY_ENV": "VENDOR_X_API_KEY",
        "INPUT_SECOND_API_KEY": FAKE_KEY + "2",
        "INPUT_WEBHOOK_SECRET": FAKE_KEY + "w",
        "INPUT_WEBHOOK_SECRET_ENV": "VENDOR_X_WEBHOOK_SECRET",
        "INPUT_SEED": "7",
        "INPUT_PROFILE": "quick",
        "INPUT_REPORT_DIR": "reports dir/x",
        "INPUT_BASELINE": "accepted failures.json",
        "INPUT_HAR": "true",
        "INPUT_BADGE": "false",
    }
    run = run_script(tmp_path, inputs, exit="1", summary="## ❌ not conformant\n")
    assert run.argv == [
        "run",
        "--report-dir",
        "reports dir/x",
        "--target",
        "my targets/vendor x.toml",
        "--api-key-env",
        "VENDOR_X_API_KEY",
        "--webhook-secret-env",
        "VENDOR_X_WEBHOOK_SECRET",
        "--seed",
        "7",
        "--profile",
        "quick",
        "--baseline",
        "accepted failures.json",
        "--har",
        "reports dir/x/run.har",
    ]
    assert run.env["VENDOR_X_API_KEY"] == FAKE_KEY
    assert run.env["AGENTPHONE_SECOND_API_KEY"] == FAKE_KEY + "2"  # no such file: the default
    assert run.env["VENDOR_X_WEBHOOK_SECRET"] == FAKE_KEY + "w"
    assert not {"INPUT_API_KEY", "INPUT_SECOND_API_KEY", "INPUT_WEBHOOK_SECRET"} & set(run.env)
    assert run.returncode == 1 and run.outputs["exit-code"] == "1"
    assert run.summary == "## ❌ not conformant\n"
    assert FAKE_KEY not in run.logs + run.summary + json.dumps(run.outputs)


def test_the_secrets_go_where_the_target_file_says(tmp_path: Path) -> None:
    """api-key-env and webhook-secret-env left empty: each secret reaches the suite in the
    variable the target file names (one meaning: the variable the run reads), and the
    command line overrides nothing."""
    target = tmp_path / "vendor-y.toml"
    target.write_text(
        'base_url = "https://api.vendor-y.example"\napi_key_env = "VENDOR_Y_KEY"\n'
        'conversation_ids = ["c1"]\n[second_account]\napi_key_env = "VENDOR_Y_OTHER_KEY"\n'
        'conversation_ids = ["c2"]\n[webhooks]\nsecret_env = "VENDOR_Y_HOOK"\n',
        encoding="utf-8",
    )
    inputs = {
        **EMPTY_INPUTS,
        "INPUT_TARGET": target.name,
        "INPUT_API_KEY": FAKE_KEY,
        "INPUT_SECOND_API_KEY": FAKE_KEY + "2",
        "INPUT_WEBHOOK_SECRET": FAKE_KEY + "w",
        "INPUT_REPORT_DIR": "r",
    }
    run = run_script(tmp_path, inputs)
    assert run.returncode == 0, run.logs
    assert run.argv == [
        *("run", "--report-dir", "r", "--target", target.name),
        *("--webhook-secret-env", "VENDOR_Y_HOOK"),
    ]
    assert run.env["VENDOR_Y_KEY"] == FAKE_KEY
    assert run.env["VENDOR_Y_OTHER_KEY"] == FAKE_KEY + "2"
    assert run.env["VENDOR_Y_HOOK"] == FAKE_KEY + "w"
    assert "AGENTPHONE_API_KEY" not in run.env and "AGENTPHONE_SECOND_API_KEY" not in run.env


@pytest.mark.parametrize(
    "inputs",
    [
        {"INPUT_API_KEY": FAKE_KEY, "INPUT_API_KEY_ENV": "not a name", "INPUT_REPORT_DIR": "r"},
        {
            "INPUT_SECOND_API_KEY": FAKE_KEY,
            "INPUT_API_KEY_ENV": "AGENTPHONE_SECOND_API_KEY",
            "INPUT_REPORT_DIR": "r",
        },
        {
            "INPUT_WEBHOOK_SECRET": FAKE_KEY,
            "INPUT_WEBHOOK_SECRET_ENV": "a-b",
            "INPUT_REPORT_DIR": "r",
        },
        {"INPUT_API_KEY": FAKE_KEY, "INPUT_REPORT_DIR": ""},
        {"INPUT_HAR": "yes", "INPUT_REPORT_DIR": "r"},
    ],
    ids=["bad-key-env", "key-envs-clash", "bad-webhook-secret-env", "no-report-dir", "bad-har"],
)
def test_the_script_refuses_unusable_inputs_with_exit_2(
    tmp_path: Path, inputs: dict[str, str]
) -> None:
    stale = tmp_path / "r" / "summary.md"
    stale.parent.mkdir()
    stale.write_text("stale summary of an earlier run", encoding="utf-8")
    run = run_script(tmp_path, {**EMPTY_INPUTS, **inputs})
    assert run.returncode == 2 and run.argv is None
    assert run.outputs["exit-code"] == "2"
    assert "error:" in run.logs and FAKE_KEY not in run.logs
    assert "stale" not in run.summary and "No summary.md was written" in run.summary


# --- the nightly example's history job, run here ----------------------------------------------

FAKE_GH = """#!/usr/bin/env python3
# A stand-in for the GitHub CLI over runs stored beside it (runs-stored/RUN_ID/ARTIFACT/...):
# `gh run list [--limit N]` prints run ids, newest first; `gh run download ID --dir D`
# copies that run's artifacts as gh lays them out: with --name N, N's files into D; with
# --pattern, each artifact into D/NAME/. Every call goes to runs-stored/calls.log.
import shutil, sys
from pathlib import Path
stored = Path(sys.argv[0]).resolve().parent / "runs-stored"
args = sys.argv[1:]
with open(stored / "calls.log", "a") as log:
    log.write(" ".join(args) + "\\n")
if args[:2] == ["run", "list"]:
    runs = sorted((p.name for p in stored.iterdir() if p.is_dir()), reverse=True)
    limit = int(args[args.index("--limit") + 1]) if "--limit" in args else len(runs)
    print("\\n".join(runs[:limit]))
elif args[:2] == ["run", "download"]:
    run, target = stored / args[2], Path(args[args.index("--dir") + 1])
    if "--name" in args:
        artifact = run / args[args.index("--name") + 1]
        if not artifact.is_dir():
            sys.exit("no artifact")
        shutil.copytree(artifact, target)
    else:
        for artifact in run.iterdir():
            shutil.copytree(artifact, target / artifact.name)
else:
    sys.exit(f"unexpected gh call: {args}")
"""


def test_the_nightly_history_job_draws_the_last_nights(tmp_path: Path) -> None:
    """The history job's shell steps, in order, with a stand-in `gh` serving three nights'
    artifacts (real runs of the emulator: a fault off, on, off): history.md reaches the job
    summary and says which night broke the check and which fixed it."""
    from conformance.core import GivenOptions, TargetSpec
    from conformance.jobs import Job, execute, run_options

    workflow = _load(CI / "nightly.yml")
    job = workflow["jobs"]["history"]
    assert job["needs"] == "nightly" and "cancelled()" in job["if"]
    assert job["permissions"]["actions"] == "read"
    bin_dir = tmp_path / "bin"
    stored = bin_dir / "runs-stored"
    stored.mkdir(parents=True)
    for night, fault in enumerate(((), ("semantics-null-ignored",), ()), start=1):
        given = GivenOptions(seed=night, checks=("META-NULL-CLEARS", "META-REPLACE"))
        artifact = stored / f"{1000 + night}" / f"conformance-nightly-{night}"
        result, _ = execute(Job(TargetSpec(faults=fault), run_options(given)), artifact)
        assert result.exit_code == (1 if fault else 0)
    (bin_dir / "gh").write_text(FAKE_GH, encoding="utf-8")
    (bin_dir / "gh").chmod(0o755)
    workspace, summary = tmp_path / "workspace", tmp_path / "summary.md"
    workspace.mkdir()
    summary.write_text("", encoding="utf-8")
    env = {
        **_environment(bin_dir, Path(sys.executable).parent),
        **{k: str(v) for k, v in job["env"].items()},
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_REPOSITORY": "OWNER/conformance-nightly",
    }
    shell_steps = [
        step for step in job["steps"] if "run" in step and "pip install" not in step["run"]
    ]
    assert [s["name"] for s in shell_steps] == [
        "Download the last nights' reports",
        "Draw the history",
    ]
    context = {"github.token": "a-token", "github.workflow": "conformance nightly"}
    for step in shell_steps:
        step_env = {k: _evaluate(str(v), context) for k, v in step.get("env", {}).items()}
        done = subprocess.run(
            [
                "bash",
                "--noprofile",
                "--norc",
                "-eo",
                "pipefail",
                "-c",
                _evaluate(step["run"], context),
            ],
            cwd=workspace,
            env={**env, **step_env},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, (step["name"], done.stdout, done.stderr)
    calls = (stored / "calls.log").read_text(encoding="utf-8").splitlines()
    assert calls[0].startswith("run list") and "--limit 30" in calls[0]
    assert sum(call.startswith("run download") for call in calls) == 3
    text = summary.read_text(encoding="utf-8")
    assert "`META-NULL-CLEARS` (required): failing since run 2" in text
    assert "fixed in run 3" in text
    assert (workspace / "history" / "history.html").is_file()
    [upload] = [s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert upload["with"]["path"] == "history"


# --- a whole example job, run here -----------------------------------------------------------

# Steps that are GitHub's services or set up what this machine already has.
_SERVICE_STEPS = ("actions/checkout@", "actions/setup-python@", "actions/upload-artifact@")


@dataclass
class JobRun:
    steps: list[tuple[str, int, str]] = field(default_factory=list)  # name, code, log
    action: LocalRun | None = None
    summary: str = ""

    def step(self, name: str) -> tuple[str, int, str]:
        return next(s for s in self.steps if s[0] == name)


def run_job_locally(
    path: Path,
    workspace: Path,
    *,
    env: Mapping[str, str] = {},
    context: Mapping[str, str] = {},
    bin_dirs: tuple[Path, ...] = (),
) -> JobRun:
    """The single job of the workflow at `path`, its steps in order as the runner would run
    them: its `run:` steps verbatim (bash -eo pipefail, in `workspace`, the job's env with
    `env` laid over it: the user's own settings), this action through
    `run_action_locally`, GitHub's own actions skipped. A step after a failure runs only if
    its `if:` says always() or !cancelled()."""
    workflow = _load(path)
    [job] = workflow["jobs"].values()
    job_env = {k: str(v) for k, v in {**job.get("env", {}), **env}.items()}
    ctx = {**{f"env.{k}": v for k, v in job_env.items()}, **context}
    summary = workspace.parent / "job-summary.md"
    summary.write_text("", encoding="utf-8")
    done, failed = JobRun(), False
    for index, step in enumerate(job["steps"]):
        name = step.get("name", step.get("uses", f"step {index}"))
        condition = str(step.get("if", ""))
        if failed and "always()" not in condition and "!cancelled()" not in condition:
            continue
        uses = step.get("uses", "")
        if uses.startswith(_SERVICE_STEPS):
            continue
        if THIS_ACTION.match(uses):
            given = {k: _evaluate(str(v), ctx) for k, v in step.get("with", {}).items()}
            done.action = run_action_locally(workspace, given, job_env)
            done.steps.append((name, done.action.exit_code, done.action.text()))
            failed = failed or done.action.exit_code != 0
            continue
        assert "run" in step, f"{_name(path)}: a step this test cannot run: {step}"
        output = workspace.parent / f"job-output-{index}"
        output.write_text("", encoding="utf-8")
        step_env = {k: _evaluate(str(v), ctx) for k, v in step.get("env", {}).items()}
        ran = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", _evaluate(step["run"], ctx)],
            cwd=workspace,
            env={
                **_environment(*bin_dirs, Path(sys.executable).parent),
                **job_env,
                **step_env,
                "GITHUB_OUTPUT": str(output),
                "GITHUB_STEP_SUMMARY": str(summary),
                "GITHUB_REPOSITORY": "OWNER/service",
            },
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        done.steps.append((name, ran.returncode, ran.stdout + ran.stderr))
        if "id" in step:
            for key, value in _read_outputs(output.read_text(encoding="utf-8")).items():
                ctx[f"steps.{step['id']}.outputs.{key}"] = value
        failed = failed or ran.returncode != 0
    done.summary = summary.read_text(encoding="utf-8")
    if done.action is not None:
        done.summary += done.action.summary
    return done


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_server_under_test_example_starts_waits_runs_and_stops(workspace: Path) -> None:
    """The job's steps verbatim; only its env is ours: the server under test is an
    independent seed-edition FastAPI server (tests/servers/seed_app.py) run by uvicorn."""
    from .servers.seed_app import create_app

    key, ids = create_app().state.accounts[0]
    port = _free_port()
    start = (
        f"{sys.executable} -m uvicorn --app-dir {ROOT} --factory tests.servers.seed_app:create_app"
        f" --host 127.0.0.1 --port {port}"
    )
    env = {
        "SERVER_INSTALL": "true",  # installed already: the tests' own environment
        "SERVER_START": start,
        "SERVER_URL": f"http://127.0.0.1:{port}",
        "SERVER_API_KEY": key,
        "SERVER_CONVERSATION_ID": ids[0],
        "SERVER_WITNESS_CONVERSATION_ID": ids[1],
    }
    try:
        job = run_job_locally(
            CI / "server-under-test.yml", workspace, env=env, context={"github.run_number": "4"}
        )
    finally:
        pid = workspace / "server.pid"
        if pid.exists():
            subprocess.run(["kill", pid.read_text().strip()], check=False)
    assert [name for name, _, _ in job.steps] == [
        "Install the server under test",
        "Start it in the background",
        "Wait until it answers (at most 60 s)",
        "Describe it to the suite (a target file)",
        "Run the suite against it",
        "Stop the server and show its log",
    ]
    assert all(code == 0 for _, code, _ in job.steps), job.steps
    assert "the server answers" in job.step("Wait until it answers (at most 60 s)")[2]
    assert job.action is not None and job.action.outputs["exit-code"] == "0"
    report = json.loads((workspace / "reports" / "conformance" / "report.json").read_text())
    assert report["target"]["base_url"] == env["SERVER_URL"] and report["settings"]["seed"] == 4
    others = next(c for c in report["checks"] if c["check"]["id"] == "META-OTHERS-UNTOUCHED")
    assert others["outcome"] == "passed"  # the witness was read: the target file has it
    assert "conformant" in job.summary and key not in job.action.text()


def test_the_server_under_test_example_reports_a_server_that_never_answers(
    workspace: Path,
) -> None:
    env = {
        "SERVER_INSTALL": "true",
        "SERVER_START": f"{sys.executable} -c 'import sys; sys.exit(1)'",  # exits at once
        "SERVER_URL": f"http://127.0.0.1:{_free_port()}",
        "SERVER_API_KEY": "k",
        "SERVER_CONVERSATION_ID": "c",
    }
    job = run_job_locally(CI / "server-under-test.yml", workspace, env=env, context={})
    _, code, log = job.step("Wait until it answers (at most 60 s)")
    assert code == 1 and "the server exited before answering" in log
    assert job.action is None  # the suite never ran against nothing
    assert job.steps[-1][0] == "Stop the server and show its log" and job.steps[-1][1] == 0


@pytest.mark.parametrize(
    ("stored", "now", "exit_code"),
    [
        ((), ("semantics-null-ignored",), "1"),  # the bug is new: a regression
        (("semantics-null-ignored",), ("semantics-null-ignored",), "0"),  # known: not again
        (None, ("semantics-null-ignored",), "1"),  # no green run yet: every failure gates
        ((), (), "0"),
    ],
    ids=["regression", "already-in-the-baseline", "no-green-run-yet", "clean"],
)
def test_the_baseline_example_gates_on_what_the_last_green_run_did_not_have(
    workspace: Path, stored: tuple[str, ...] | None, now: tuple[str, ...], exit_code: str
) -> None:
    """The job's steps verbatim with a stand-in `gh` serving the last green run's artifact
    (a real run of the emulator); the target file at the example's path is the emulator,
    with a fault or not."""
    from conformance.core import GivenOptions, TargetSpec
    from conformance.jobs import Job, execute, run_options

    bin_dir = workspace.parent / "bin"
    runs = bin_dir / "runs-stored"
    runs.mkdir(parents=True)
    (bin_dir / "gh").write_text(FAKE_GH, encoding="utf-8")
    (bin_dir / "gh").chmod(0o755)
    example = _load(CI / "baseline-from-last-green.yml")
    artifact = example["jobs"]["conformance"]["env"]["ARTIFACT"]
    if stored is not None:  # a green run on the default branch, with its reports
        given = GivenOptions(seed=3, profile="quick")
        execute(Job(TargetSpec(faults=stored), run_options(given)), runs / "907" / artifact)
    target = workspace / "conformance" / "targets" / "vendor-x.toml"
    target.parent.mkdir(parents=True)
    faults = ", ".join(f'"{f}"' for f in now)
    target.write_text(f'name = "vendor-x"\n[emulator]\nfaults = [{faults}]\n', "utf-8")
    context = {
        "github.token": "a-token",
        "github.workflow": "conformance (regressions)",
        "github.event.repository.default_branch": "main",
        "secrets.VENDOR_X_API_KEY": "",
    }
    job = run_job_locally(
        CI / "baseline-from-last-green.yml", workspace, context=context, bin_dirs=(bin_dir,)
    )
    fetch = job.step("Fetch the last green run's report.json")
    assert fetch[1] == 0, fetch
    assert job.action is not None and job.action.outputs["exit-code"] == exit_code, job.steps
    calls = (runs / "calls.log").read_text(encoding="utf-8")
    assert "--branch main --status success" in calls
    comparison = workspace / "reports" / "comparison.json"
    if stored is None:
        assert "no green run on main" in fetch[2] and not comparison.exists()
    else:
        assert (workspace / "baseline" / "report.json").is_file()
        verdict = json.loads(comparison.read_text(encoding="utf-8"))
        assert verdict["exit_code"] == int(exit_code)
        assert "Changes since baseline" in job.summary


def test_the_profile_is_the_target_files_unless_given(workspace: Path) -> None:
    target = workspace / "ci.toml"
    target.write_text(
        'name = "x"\n[emulator]\nfaults = []\n[settings]\nprofile = "ci"\nmax_requests = 2000\n',
        "utf-8",
    )
    run = run_action_locally(workspace, {"target": target.name, "seed": "2", "report-dir": "r"})
    assert run.outputs["exit-code"] == "0", run.text()
    report = json.loads((workspace / "r" / "report.json").read_text(encoding="utf-8"))
    assert report["settings"]["profile"] == "ci"


# --- pins that resolve -----------------------------------------------------------------------

PLACEHOLDER = "COMMIT_SHA"


def _suite_refs(text: str) -> list[str]:
    """Every ref the suite is pinned at in `text`: `uses: .../agentphone-conformance@REF` and
    `git+https://.../agentphone-conformance@REF`."""
    return re.findall(r"[\w.-]+/agentphone-conformance@([\w.-]+)", text)


def _tags() -> set[str]:
    done = subprocess.run(
        ["git", "-C", str(ROOT), "tag", "--list"], capture_output=True, text=True, check=False
    )
    return set(done.stdout.split()) if done.returncode == 0 else set()


@pytest.mark.parametrize("path", [*CI_FILES, ACTION, ROOT / "README.md"], ids=lambda p: p.name)
def test_every_pin_is_a_commit_or_a_released_tag(path: Path) -> None:
    """The suite has released no tag: every example pins a commit (the placeholder the
    header says how to fill, or a full SHA), one and the same throughout a file."""
    refs = _suite_refs(path.read_text(encoding="utf-8"))
    tags = _tags()
    for ref in refs:
        assert ref == PLACEHOLDER or re.fullmatch(r"[0-9a-f]{40}", ref) or ref in tags, (
            f"{path.name}: @{ref} names no commit and no released tag"
        )
    assert len(set(refs)) <= 1, f"{path.name}: pinned at several refs {set(refs)}"
    if path in CI_FILES and refs:
        text = path.read_text(encoding="utf-8")
        assert "git ls-remote https://github.com/OWNER/agentphone-conformance HEAD" in text


def test_the_documented_way_to_pick_a_commit_gives_one_holding_the_action() -> None:
    """`git ls-remote REPOSITORY HEAD`, as the examples say, on this repository: a full
    SHA, and at that commit the action and the suite are there to be used and installed."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    done = subprocess.run(
        ["git", "ls-remote", str(ROOT), "HEAD"], capture_output=True, text=True, check=True
    )
    sha = done.stdout.split()[0]
    assert re.fullmatch(r"[0-9a-f]{40}", sha)
    for file in ("action.yml", "action/run.sh", "pyproject.toml"):
        shown = subprocess.run(
            ["git", "-C", str(ROOT), "cat-file", "-e", f"{sha}:{file}"], check=False
        )
        assert shown.returncode == 0, file
