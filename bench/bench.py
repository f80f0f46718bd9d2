#!/usr/bin/env python
"""`python bench/bench.py [options]`: the same as `python -m bench [options]` run from the
repository root (the documented way, see bench/README.md); kept for older instructions."""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    HERE = Path(__file__).resolve().parent
    # Run as a script, this folder is first on sys.path: `bench` would be this file and the
    # package's modules would shadow top-level names. The repository root goes there instead.
    sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != HERE]
    sys.path.insert(0, str(HERE.parent))

    from bench.__main__ import main

    sys.exit(main())
