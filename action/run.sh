#!/usr/bin/env bash
# The shell step of the GitHub Action (action.yml at the repository root): runs
# `agentphone-conformance run` with the action's inputs, puts summary.md on the job's
# summary page and writes the step's outputs. Usable on its own, e.g. locally:
#
#   INPUT_REPORT_DIR=reports/ci INPUT_SEED=1 INPUT_PROFILE=quick bash action/run.sh
#
# Everything comes from the environment (action.yml sets these from its inputs and holds
# their defaults: har and badge "true" there). An unset or empty variable adds no option
# here: the target file's setting applies, else the suite's default (run alone: no HAR, no
# badge unless INPUT_HAR / INPUT_BADGE say "true").
#
#   INPUT_TARGET              a TOML target file; empty: the embedded emulator
#   INPUT_API_KEY             the key's value, handed to the suite only in the variable the
#                             run reads it from (below), never as an argument
#   INPUT_API_KEY_ENV         the variable the run reads the key from (--api-key-env);
#                             empty: the target file's api_key_env, else AGENTPHONE_API_KEY
#   INPUT_SECOND_API_KEY      a second account's key, in the variable the target file's
#                             [second_account] api_key_env names (AGENTPHONE_SECOND_API_KEY)
#   INPUT_WEBHOOK_SECRET      the test account's webhook secret, in the variable below
#   INPUT_WEBHOOK_SECRET_ENV  that variable (--webhook-secret-env); empty: the target
#                             file's [webhooks] secret_env, else AGENTPHONE_WEBHOOK_SECRET
#   INPUT_SEED                --seed
#   INPUT_PROFILE             --profile
#   INPUT_REPORT_DIR          --report-dir (required: summary.md is read from there)
#   INPUT_BASELINE            --baseline (a report.json or an accepted-failures file)
#   INPUT_HAR                 "true": --har REPORT_DIR/run.har
#   INPUT_BADGE               "true": --badge REPORT_DIR/badge.svg
#   PYTHON                    the interpreter the suite is installed in (default: python)
#   GITHUB_STEP_SUMMARY       file summary.md is appended to (skipped when unset)
#   GITHUB_OUTPUT             file the outputs exit-code and report-dir go to (skipped when unset)
#
# Exits with the suite's exit code (0 conformant, 1 violations, 2 usage, 3 target
# unusable, 130 interrupted); 2 also when these variables are unusable.
set -uo pipefail

report_dir="${INPUT_REPORT_DIR:-}"
suite_ran=false  # a summary.md is this run's only once the suite has run

output() {  # name value: one output of the step
    if [ -n "${GITHUB_OUTPUT:-}" ]; then
        printf '%s=%s\n' "$1" "$2" >>"$GITHUB_OUTPUT"
    fi
}

finish() {  # code: write the outputs and the summary, then exit with the code
    local code="$1"
    output exit-code "$code"
    output report-dir "$report_dir"
    if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
        if "$suite_ran" && [ -f "$report_dir/summary.md" ]; then
            cat "$report_dir/summary.md" >>"$GITHUB_STEP_SUMMARY"
        else
            printf '### agentphone-conformance: exit code %s\n\nNo summary.md was written: the error line in the job log says what went wrong and what to do.\n' \
                "$code" >>"$GITHUB_STEP_SUMMARY"
        fi
    fi
    exit "$code"
}

usage_error() {  # message: one line naming the problem and the fix, exit 2
    printf 'error: %s\n' "$1" >&2
    finish 2
}

# The secrets: each in the variable the run reads it from, not left under INPUT_* as well.
api_key="${INPUT_API_KEY:-}"
second_key="${INPUT_SECOND_API_KEY:-}"
webhook_secret="${INPUT_WEBHOOK_SECRET:-}"
unset INPUT_API_KEY INPUT_SECOND_API_KEY INPUT_WEBHOOK_SECRET

if [ -z "$report_dir" ]; then
    usage_error "INPUT_REPORT_DIR is empty - set the action's report-dir input (a directory)"
fi

# The variables the target file names (the suite reads it; a file it cannot read gives the
# defaults here, and the run says what is wrong with it).
names=()
mapfile -t names < <("${PYTHON:-python}" -m conformance.cli.action_env "${INPUT_TARGET:-}" 2>/dev/null)
file_key_env="${names[0]:-AGENTPHONE_API_KEY}"
second_key_env="${names[1]:-AGENTPHONE_SECOND_API_KEY}"
file_secret_env="${names[2]:-}"

valid_name() {  # input value: a usable variable name, or a usage error
    if ! [[ "$2" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
        usage_error "$1 must name an environment variable (letters, digits, _), not '$2' - e.g. $1: VENDOR_X_API_KEY"
    fi
}

args=(run --report-dir "$report_dir")
if [ -n "${INPUT_TARGET:-}" ]; then
    args+=(--target "$INPUT_TARGET")
fi
key_env="$file_key_env"
if [ -n "${INPUT_API_KEY_ENV:-}" ]; then
    valid_name api-key-env "$INPUT_API_KEY_ENV"
    key_env="$INPUT_API_KEY_ENV"
    args+=(--api-key-env "$key_env")
fi
if [ -n "$second_key" ] && [ "$key_env" = "$second_key_env" ]; then
    usage_error "the key and the second account's key would share the variable $key_env - give api-key-env another name"
fi
if [ -n "$api_key" ]; then
    export "$key_env=$api_key"   # a builtin: the key is on no process's command line
fi
if [ -n "$second_key" ]; then
    export "$second_key_env=$second_key"
fi
if [ -n "$webhook_secret" ] || [ -n "${INPUT_WEBHOOK_SECRET_ENV:-}" ]; then
    secret_env="${INPUT_WEBHOOK_SECRET_ENV:-${file_secret_env:-AGENTPHONE_WEBHOOK_SECRET}}"
    valid_name webhook-secret-env "$secret_env"
    if [ -n "$webhook_secret" ]; then
        export "$secret_env=$webhook_secret"
    fi
    args+=(--webhook-secret-env "$secret_env")
fi
if [ -n "${INPUT_SEED:-}" ]; then
    args+=(--seed "$INPUT_SEED")
fi
if [ -n "${INPUT_PROFILE:-}" ]; then
    args+=(--profile "$INPUT_PROFILE")
fi
if [ -n "${INPUT_BASELINE:-}" ]; then
    args+=(--baseline "$INPUT_BASELINE")
fi
for flag in har badge; do
    variable="INPUT_${flag^^}"
    case "${!variable:-}" in
        true) if [ "$flag" = har ]; then args+=(--har "$report_dir/run.har"); else args+=(--badge "$report_dir/badge.svg"); fi ;;
        false | '') ;;
        *) usage_error "the action's $flag input must be true or false, not '${!variable}'" ;;
    esac
done

if ! command -v agentphone-conformance >/dev/null 2>&1; then
    usage_error "agentphone-conformance is not installed here - install it first: python -m pip install <a checkout of agentphone-conformance>"
fi

# A summary.md left by an earlier run must not stand in for this one's (a run that ends
# in a usage error, or finds the target unusable, writes none).
rm -f -- "$report_dir/summary.md"
suite_ran=true

printf '+ agentphone-conformance'
printf ' %q' "${args[@]}"
printf '\n'
status=0
agentphone-conformance "${args[@]}" || status=$?
finish "$status"
