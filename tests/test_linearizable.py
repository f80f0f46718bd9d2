"""The linearizability checker of one register (`checks/_linearizable.py`), held to the
definition: hand-made histories with known answers, a brute force over every order on
small random histories, and histories built from a real register (linearizable by
construction) with and without a read made impossible."""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.checks._linearizable import Operation, check, impossible_reads


def W(client: int, value: str, call: float, ret: float) -> Operation:
    return Operation(client, "write", value, call, ret)


def R(client: int, value: str, call: float, ret: float) -> Operation:
    return Operation(client, "read", value, call, ret)


def test_an_empty_history_and_a_sequential_one_are_linearizable() -> None:
    assert check([], "w0").linearizable is True
    history = [W(0, "a", 0, 1), R(1, "a", 2, 3), W(0, "b", 4, 5), R(1, "b", 6, 7)]
    verdict = check(history, "w0")
    assert verdict.linearizable is True and verdict.order == (0, 1, 2, 3)


def test_a_read_concurrent_with_a_write_may_see_either_value() -> None:
    for seen in ("w0", "a"):
        assert check([W(0, "a", 0, 10), R(1, seen, 2, 3)], "w0").linearizable is True


def test_a_read_of_an_overwritten_value_is_not_linearizable() -> None:
    history = [W(0, "a", 0, 1), W(0, "b", 2, 3), R(1, "a", 4, 5)]
    verdict = check(history, "w0")
    assert verdict.linearizable is False
    assert 2 in verdict.stuck
    assert impossible_reads(history, "w0") == [2]


def test_new_then_old_is_not_linearizable_though_each_read_alone_is_possible() -> None:
    """The write is concurrent with both reads: each alone may see old or new, but once one
    read saw the new value, a read invoked after it returned cannot see the old one."""
    history = [W(0, "a", 0, 10), R(1, "a", 1, 2), R(2, "w0", 3, 4)]
    assert impossible_reads(history, "w0") == []
    assert check(history, "w0").linearizable is False


def test_a_value_never_written_and_one_from_the_future() -> None:
    never = [W(0, "a", 0, 1), R(1, "zz", 2, 3)]
    future = [R(1, "a", 0, 1), W(0, "a", 2, 3)]
    for history in (never, future):
        assert check(history, "w0").linearizable is False
        read = next(i for i, o in enumerate(history) if o.kind == "read")
        assert impossible_reads(history, "w0") == [read]


def test_the_search_is_bounded() -> None:
    history = [W(i, f"v{i}", 0, 100) for i in range(12)] + [R(99, "v3", 101, 102)]
    verdict = check(history, "w0", max_steps=5)
    assert verdict.linearizable is None and verdict.steps > 5
    assert check(history, "w0").linearizable is True


# --- against the definition ------------------------------------------------------------------


def brute_force(history: Sequence[Operation], initial: Hashable) -> bool:
    """Every order of the operations that respects real time, each replayed on a register."""
    for order in itertools.permutations(range(len(history))):
        position = {op: at for at, op in enumerate(order)}
        if any(
            history[a].ret < history[b].call and position[a] > position[b]
            for a in range(len(history))
            for b in range(len(history))
        ):
            continue
        state: Hashable = initial
        for index in order:
            operation = history[index]
            if operation.kind == "write":
                state = operation.value
            elif operation.value != state:
                break
        else:
            return True
    return False


@st.composite
def small_histories(draw: st.DrawFn) -> list[Operation]:
    count = draw(st.integers(1, 6))
    operations = []
    for index in range(count):
        call = draw(st.integers(0, 12))
        ret = call + draw(st.integers(0, 6))
        if draw(st.booleans()):
            operations.append(W(index, f"v{index}", call, ret))
        else:
            value = draw(st.sampled_from(["w0", *(f"v{i}" for i in range(count))]))
            operations.append(R(index, value, call, ret))
    return operations


@settings(max_examples=400, deadline=None)
@given(small_histories())
def test_the_checker_agrees_with_the_definition(history: list[Operation]) -> None:
    assert check(history, "w0").linearizable is brute_force(history, "w0")


@st.composite
def register_histories(draw: st.DrawFn) -> tuple[list[Operation], int | None]:
    """Operations of a real register: each takes effect at an instant inside its interval,
    in the order of those instants; then, maybe, one read made to return a value never
    written (its index returned)."""
    count = draw(st.integers(2, 24))
    points = sorted(draw(st.lists(st.floats(0, 1000), min_size=count, max_size=count)))
    state, history = "w0", []
    for index, point in enumerate(points):
        call = point - draw(st.floats(0, 50))
        ret = point + draw(st.floats(0, 50))
        client = draw(st.integers(0, 4))
        if draw(st.booleans()):
            state = f"v{index}"
            history.append(W(client, state, call, ret))
        else:
            history.append(R(client, state, call, ret))
    reads = [i for i, op in enumerate(history) if op.kind == "read"]
    broken = draw(st.sampled_from([None, *reads]))
    if broken is not None:
        op = history[broken]
        history[broken] = R(op.client, "never-written", op.call, op.ret)
    return history, broken


@settings(max_examples=200, deadline=None)
@given(register_histories())
def test_a_real_registers_history_is_linearizable_until_a_read_lies(
    case: tuple[list[Operation], int | None],
) -> None:
    history, broken = case
    verdict = check(history, "w0")
    assert verdict.linearizable is (broken is None)
    assert impossible_reads(history, "w0") == ([] if broken is None else [broken])


def test_a_write_that_may_not_have_taken_effect_may_be_left_out_or_taken() -> None:
    inf = float("inf")
    maybe = Operation(0, "write", "a", 0, inf, certain=False)
    for seen in ("w0", "a"):
        assert check([maybe, R(1, seen, 5, 6)], "w0").linearizable is True
    # once a read saw it, it took effect: a later read cannot miss it
    assert check([maybe, R(1, "a", 5, 6), R(1, "w0", 7, 8)], "w0").linearizable is False
