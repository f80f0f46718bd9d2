"""Target configuration: options, TOML files, keys from the environment only."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.core import GivenOptions, resolve
from conformance.core._errors import ExitCode, HarnessError
from conformance.core._target import TargetSpec, load_target_file, validate_base_url


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "target.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_full_target_file_resolves_with_keys_from_the_environment(tmp_path: Path) -> None:
    spec = load_target_file(
        _file(
            tmp_path,
            """
name = "vendor-x"
base_url = "https://api.vendor.example/"
api_key_env = "VX_KEY"
conversation_ids = ["conv_1", "conv_2"]
[second_account]
api_key_env = "VX_KEY_2"
conversation_ids = ["conv_9"]
[settings]
max_requests = 300
rate_limit = 2.5
""",
        )
    )
    target = spec.resolve({"VX_KEY": "key-one-123", "VX_KEY_2": "key-two-456"})
    assert target.base_url == "https://api.vendor.example"
    assert target.primary.conversation_ids == ("conv_1", "conv_2")
    assert target.second is not None and target.second.key_env == "VX_KEY_2"
    assert target.secrets == {
        "key-one-123": "${VX_KEY}",
        "key-one-12": "${VX_KEY%?}",  # the near-misses AUTH-UNKNOWN-KEY-REJECTED sends
        "key-one-1230": "${VX_KEY}0",
        "KEY-ONE-123": "${VX_KEY~~}",
        "key-two-456": "${VX_KEY_2}",
        "key-two-45": "${VX_KEY_2%?}",
        "key-two-4560": "${VX_KEY_2}0",
        "KEY-TWO-456": "${VX_KEY_2~~}",
    }
    assert "key-one-123" not in repr(target)
    options = resolve(GivenOptions(rate_limit=1.0), spec.settings)
    assert (options.max_requests, options.rate_limit) == (300, 1.0)  # the command line wins


def test_an_emulator_target_file(tmp_path: Path) -> None:
    spec = load_target_file(_file(tmp_path, '[emulator]\nfaults = ["shape-wrong-type"]\n'))
    assert spec.embedded and spec.faults == ("shape-wrong-type",)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('base_url = "https://x"\napi_key = "sk_live_123"\n', "would put a credential"),
        ('base_url = "https://x"\ncolour = "blue"\n', "unknown key colour"),
        ('base_url = "https://x"\nconversation_ids = "conv_1"\n', "must be a list"),
        ("base_url = [", "not valid TOML"),
        ('name = "x"\n', "no base_url"),
        ('base_url = "https://x"\n[emulator]\nfaults = []\n', "both base_url and [emulator]"),
        ('base_url = "https://x"\n[settings]\nspeed = 3\n', "unknown key settings.speed"),
        ('base_url = "https://x"\n[second_account]\ntoken = "t"\n', "credential"),
    ],
)
def test_bad_target_files_name_the_problem(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(HarnessError, match=needle.replace("[", r"\[").replace("]", r"\]")) as err:
        load_target_file(_file(tmp_path, text))
    assert err.value.code is ExitCode.USAGE and err.value.hint


def test_bad_settings_values_are_usage_errors() -> None:
    where = "target file x.toml [settings]"
    with pytest.raises(HarnessError, match="max_requests must be an integer"):
        GivenOptions.parse({"max_requests": "many"}, where)
    with pytest.raises(HarnessError, match="unknown profile"):
        GivenOptions.parse({"profile": "turbo"}, where)


@pytest.mark.parametrize(
    ("environ", "needle"),
    [
        ({}, "AGENTPHONE_API_KEY is not set"),
        ({"AGENTPHONE_API_KEY": " "}, "AGENTPHONE_API_KEY is empty"),
        ({"AGENTPHONE_API_KEY": "k1"}, "AGENTPHONE_SECOND_API_KEY is not set"),
        ({"AGENTPHONE_API_KEY": "k1", "AGENTPHONE_SECOND_API_KEY": ""}, "SECOND_API_KEY is empty"),
        ({"AGENTPHONE_API_KEY": "k1", "AGENTPHONE_SECOND_API_KEY": "k1"}, "same key"),
    ],
)
def test_keys_come_from_the_environment(environ: dict[str, str], needle: str) -> None:
    spec = TargetSpec(
        base_url="https://x.example", conversation_ids=("c",), second_conversation_ids=("d",)
    )
    with pytest.raises(HarnessError, match=needle):
        spec.resolve(environ)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://api.agentphone.ai", "https://api.agentphone.ai"),
        ("http://127.0.0.1:8765/", "http://127.0.0.1:8765"),
        ("https://gateway.example/agentphone/", "https://gateway.example/agentphone"),
    ],
)
def test_base_urls_are_normalised(url: str, expected: str) -> None:
    assert validate_base_url(url) == expected


@pytest.mark.parametrize(
    "url",
    ["api.agentphone.ai", "ftp://x", "https://", "https://x/v1", "https://x?a=1", "http://x:0x"],
)
def test_malformed_base_urls_are_refused(url: str) -> None:
    with pytest.raises(HarnessError, match="target URL"):
        validate_base_url(url)


def test_a_conversation_named_twice_is_one(tmp_path: Path) -> None:
    from conformance.core._target import load_target_file

    target = tmp_path / "t.toml"
    target.write_text(
        'base_url = "https://x.example"\nconversation_ids = ["c1", "c2", "c1"]\n', "utf-8"
    )
    assert load_target_file(target).conversation_ids == ("c1", "c2")


def test_a_conversation_given_twice_on_the_command_line_is_one() -> None:
    from conformance.core import GivenOptions
    from conformance.jobs import plan_run

    job = plan_run(
        given=GivenOptions(),
        base_url="https://x.example",
        conversation_ids=("c1", "c1", "c2"),
        witness_ids=("w", "w"),
    )
    assert job.spec.conversation_ids == ("c1", "c2") and job.spec.witness_ids == ("w",)
