"""Benchmark: plain schemathesis beside our suite, against the emulator and each of its faults.

Run from the repository root: `python -m bench [options]` (see bench/README.md).

For every target (the conformant emulator, then each fault of the catalogue) both tools run
as subprocesses, one after the other, each against its own freshly started in-process
`Emulator` with that fault on (loopback only). Per target and tool it records: caught or not,
false alarm or not, whether the conversations' metadata is back to the seeded state
afterwards, and the wall time of the subprocess (interpreter start-up included).

The modules, each importing only those above it:

- `process`: a tool as a subprocess (clean environment, scratch cwd, log, time-out, clock)
- `schemathesis_cli`: the plain schemathesis CLI - config file, command line, run, findings
  (also used by tests/test_fidelity.py)
- `settings`: the command line, parsed once into a frozen `Settings`
- `machine`: what the benchmark ran on
- `rows`: typed results - `ToolRun`, `Row`, `Totals`, `BenchResult`
- `tools`: one tool against one fresh emulator, judged
- `benchmark`: every target, both tools
- `report`: bench.md and bench.json
- `__main__`: wiring; `bench.py` is a shim for `python bench/bench.py`
"""
