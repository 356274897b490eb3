"""Shared pieces of ``qlink bench``: concurrent clients, latency summaries, tables and options."""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url

T = TypeVar("T")
BARRIER_TIMEOUT = 120.0


@dataclass(frozen=True)
class Summary:
    """Throughput and latency of one measured phase (latencies in milliseconds)."""

    ops: int
    seconds: float
    tps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float

    def as_dict(self) -> dict[str, float | int]:
        """Return the summary rounded for printing and JSON."""
        return {k: v if isinstance(v, int) else round(v, 3) for k, v in asdict(self).items()}


def percentile(ordered: Sequence[float], q: float) -> float:
    """Return the nearest-rank ``q``-th percentile (0 < q <= 100) of an ascending sequence."""
    if not ordered:
        raise ValueError("percentile of no values")
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summarise(latencies: Sequence[float], seconds: float) -> Summary:
    """Summarise per-operation latencies (seconds) of a phase that took ``seconds`` wall time."""
    if not latencies:
        return Summary(0, seconds, 0.0, 0.0, 0.0, 0.0, 0.0)
    ordered = sorted(latencies)
    ms = [value * 1000 for value in ordered]
    return Summary(
        ops=len(ordered),
        seconds=seconds,
        tps=len(ordered) / seconds if seconds > 0 else 0.0,
        p50_ms=percentile(ms, 50),
        p95_ms=percentile(ms, 95),
        p99_ms=percentile(ms, 99),
        max_ms=ms[-1],
    )


def run_clients(count: int, work: Callable[[int], list[float]]) -> tuple[list[float], float]:
    """Run ``work(client_index)`` in ``count`` threads released together by one barrier.

    Return every latency the clients reported and the wall time from release to the last
    client's end. The first client error is re-raised after all threads have stopped.
    """
    barrier = threading.Barrier(count + 1, timeout=BARRIER_TIMEOUT)
    results: list[list[float]] = [[] for _ in range(count)]
    errors: list[BaseException] = []

    def client(index: int) -> None:
        barrier.wait()
        try:
            results[index] = work(index)
        except BaseException as exc:  # handed to the main thread below, never swallowed
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    if errors:
        raise errors[0]
    return [value for chunk in results for value in chunk], seconds


def timed(action: Callable[[], object]) -> float:
    """Run ``action`` and return how long it took, in seconds."""
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


class StatementCounter:
    """Counts the SQL statements an engine sends (cursor executes; BEGIN/COMMIT not included)."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self, *_args: Any, **_kwargs: Any) -> None:
        with self._lock:
            self.count += 1


@contextmanager
def counting_statements(engine: Engine) -> Iterator[StatementCounter]:
    """Count the statements ``engine`` executes inside the block."""
    counter = StatementCounter()
    event.listen(engine, "before_cursor_execute", counter)
    try:
        yield counter
    finally:
        event.remove(engine, "before_cursor_execute", counter)


def client_levels(text: str) -> tuple[int, ...]:
    """Parse ``--clients 1,16,64`` into ascending unique positive counts (argparse type)."""
    try:
        levels = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of integers: {text}") from exc
    if not levels or levels[0] < 1:
        raise argparse.ArgumentTypeError("client counts must be positive integers")
    return tuple(levels)


def positive_int(text: str) -> int:
    """Parse a positive integer option (argparse type)."""
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an integer: {text}") from exc
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], *, left: int = 1) -> str:
    """Render rows as a plain text table: ``left`` label columns, then right-aligned numbers."""
    cells = [[str(h) for h in headers], *[[_cell(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return "  ".join(
            value.ljust(width) if i < left else value.rjust(width)
            for i, (value, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:])])


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}" if value >= 100 else f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "-" if value is None else str(value)


def safe_url(url: str) -> str:
    """Return ``url`` with its password hidden."""
    return make_url(url).render_as_string(hide_password=True)


def progress(message: str) -> None:
    """Report progress on stderr, so ``--json`` output on stdout stays one clean object."""
    print(message, file=sys.stderr, flush=True)


def run_async(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run the coroutine ``make()`` builds on a thread of its own and return its result.

    The caller's thread may already run an event loop (a test session holding Playwright's
    sync API does), where ``asyncio.run`` refuses; the coroutine is created in the new thread,
    so a refusal never leaves one un-awaited.
    """
    out: list[T] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            out.append(asyncio.run(make()))
        except BaseException as exc:  # handed back to the caller below
            failed.append(exc)

    worker = threading.Thread(target=run, name="bench-async")
    worker.start()
    worker.join()
    if failed:
        raise failed[0]
    return out[0]
