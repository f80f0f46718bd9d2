"""Mutation testing of the emulator: how well the suite's default run catches faults it was
not written for.

Run from the repository root: `python -m bench.mutation [options]` (see bench/README.md).
cosmic-ray's standard operators mutate the emulator's request handling and storage, one
mutation at a time; each mutant the conformant default run reaches is put in place in a
process forked from a warm parent and the default run is run against it; its exit code says
killed (not 0) or survived (0). Writes OUT/mutation.json and OUT/mutation.md.

The modules, each importing only those above it:

- `library`: cosmic-ray and parso, imported at run time (an optional dependency)
- `mutants`: the scope, the functions, the mutants and their stable ids
- `scope`: the traced default run, and which mutants it reaches
- `worker`: forked runs, a mutant put in place, how each run ended
- `report`: records, totals and score, mutation.json and mutation.md
- `job`: the steps, from settings to report; `__main__`: the options
"""
