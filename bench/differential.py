"""`python -m bench.differential`: what a differential run costs against a distant reference.

    python -m bench.differential               # 3 rounds, 40 ms away
    python -m bench.differential --rounds 1 --latency 0.08 --out /tmp/d

The reference is the embedded emulator behind a loopback proxy that delays every chunk
`--latency / 2` seconds each way (a reference `--latency` away: one round trip per request).
Each round, in this process and in turn: a normal `run` against it (the quick profile), then
`differential` against it (the candidate: the embedded emulator, seeded from it). The goal it
judges: the differential run within 2x the normal run's time, as the median of the rounds'
ratios. Writes OUT/differential.md and OUT/differential.json (OUT: --out, default reports/).
A measurement, not a test: these machines are shared, so it reports every round.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Final

from conformance.core import GivenOptions, TargetSpec
from conformance.emulator import Emulator
from conformance.engine import run
from conformance.jobs import open_target, run_options
from conformance.jobs._differential import DifferentialJob, differential

from .machine import describe_machine
from .settings import REPO

GOAL: Final = 2.0  # the differential run, at most this many times the normal run


@contextmanager
def delayed(upstream_port: int, latency: float) -> Iterator[int]:
    """A TCP proxy on loopback that holds every chunk `latency / 2` seconds each way: its
    port. Chunks keep their order and do not wait on each other (a long pipe, not a slow
    one). Every connection is closed when the block ends."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    port: list[int] = []
    servers: list[asyncio.Server] = []
    open_writers: set[asyncio.StreamWriter] = set()
    handlers: set[asyncio.Task[None]] = set()
    one_way = latency / 2

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def send() -> None:
            while True:
                due, data = await queue.get()
                await asyncio.sleep(max(0.0, due - loop.time()))
                if not data:
                    writer.close()
                    return
                writer.write(data)
                await writer.drain()

        sender = asyncio.ensure_future(send())
        try:
            while True:
                data = await reader.read(65536)
                await queue.put((loop.time() + one_way, data))
                if not data:
                    break
            await sender
        except (ConnectionError, asyncio.CancelledError):
            sender.cancel()
            raise

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            handlers.add(task)
        open_writers.add(writer)
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream_port)
            open_writers.add(up_writer)
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            if task is not None:
                handlers.discard(task)

    async def start() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        servers.append(server)
        port.append(server.sockets[0].getsockname()[1])
        ready.set()

    async def shutdown() -> None:
        for server in servers:
            server.close()
        for writer in list(open_writers):
            writer.close()
        for task in list(handlers):
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        for writer in list(open_writers):
            with suppress(OSError, ConnectionError):
                await writer.wait_closed()
        for server in servers:
            await server.wait_closed()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    try:
        yield port[0]
    finally:
        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def _round(emulator: Emulator, proxy: int, seed: int) -> dict[str, Any]:
    first, second = emulator.state.describe()
    os.environ["AGENTPHONE_API_KEY"] = first["api_key"]
    os.environ["AGENTPHONE_SECOND_API_KEY"] = second["api_key"]
    spec = TargetSpec(
        base_url=f"http://127.0.0.1:{proxy}",
        conversation_ids=(first["conversation_ids"][0],),
        second_conversation_ids=(second["conversation_ids"][0],),
    )
    options = run_options(GivenOptions(seed=seed))
    with open_target(spec) as target:
        clock = time.monotonic()
        normal = run(target, options)
        normal_s = time.monotonic() - clock
    clock = time.monotonic()
    result, reference_run, _ = differential(DifferentialJob(spec, TargetSpec(), options), None)
    differential_s = time.monotonic() - clock
    return {
        "seed": seed,
        "normal_s": round(normal_s, 3),
        "normal_requests": normal.requests_sent,
        "differential_s": round(differential_s, 3),
        "reference_requests": reference_run.requests_sent,
        "compared": result.compared,
        "exit_code": result.exit_code,
        "ratio": round(differential_s / normal_s, 3),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.differential", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--latency", type=float, default=0.04, help="seconds (default 0.04)")
    parser.add_argument("--out", type=Path, default=REPO / "reports", help="output folder")
    args = parser.parse_args(argv)
    rounds = []
    with (
        Emulator(host="127.0.0.1", port=0) as emulator,
        delayed(int(emulator.base_url.rsplit(":", 1)[1]), args.latency) as proxy,
    ):
        for seed in range(1, args.rounds + 1):
            rounds.append(_round(emulator, proxy, seed))
            print(json.dumps(rounds[-1]), file=sys.stderr)
    ratio = statistics.median(r["ratio"] for r in rounds)
    report = {
        "machine": describe_machine().to_dict(),
        "latency_s": args.latency,
        "rounds": rounds,
        "median_ratio": ratio,
        "goal": {"at_most": GOAL, "met": ratio <= GOAL},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "differential.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        f"# Differential run against a reference {args.latency * 1000:.0f} ms away",
        "",
        "| seed | normal run s | its requests | differential s | reference requests | "
        "compared | exit | ratio |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['seed']} | {r['normal_s']} | {r['normal_requests']} | {r['differential_s']} | "
        f"{r['reference_requests']} | {r['compared']} | {r['exit_code']} | {r['ratio']} |"
        for r in rounds
    ]
    met = "met" if ratio <= GOAL else "NOT met"
    lines += ["", f"Median ratio **{ratio}** (goal: at most {GOAL}x): {met}.", ""]
    (args.out / "differential.md").write_text("\n".join(lines))
    print(f"median ratio {ratio} (goal at most {GOAL}x: {met}); wrote {args.out}/differential.md")
    return 0 if ratio <= GOAL else 1


if __name__ == "__main__":
    raise SystemExit(main())
