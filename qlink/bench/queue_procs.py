"""``qlink bench queue --processes 1,2,4``: the same clients split over N processes.

Each process count gets its own fresh departments (one clinic, set up once). The clients are
divided evenly over the processes (forked; each opens its own engine and its own ETA
projector, as a service process does); every process runs its share of the issue phase, then
its share of call-next. Throughput is all operations over the wall time from the common start
to the last process's end, so a rise with N shows how far the engine scales past one Python
process (the GIL) on this machine.
"""

from __future__ import annotations

import multiprocessing
import time
from typing import Any

from db.engine import Database, make_engine
from qlink.bench.common import progress, run_clients, summarise
from qlink.bench.queue_setup import BenchClinic

_BENCH: dict[str, Any] = {}  # what forked children inherit (set just before the fork)


def measure_processes(
    database: Database, clinic: BenchClinic, processes: tuple[int, ...], clients: int, tokens: int
) -> dict[str, Any]:
    """Issue then call-next with ``clients`` clients over each process count; the report."""
    url = database.engine.url.render_as_string(hide_password=False)
    out: dict[str, Any] = {}
    for count in processes:
        database.engine.dispose()  # no pooled connection crosses the fork
        progress(f"{count} processes x {clients // count} clients: issue, then call-next")
        out[str(count)] = {
            "issue": _run(url, clinic, count, clients, tokens, "issue"),
            "call_next": _run(url, clinic, count, clients, tokens, "call"),
        }
    return out


def _run(
    url: str, clinic: BenchClinic, count: int, clients: int, tokens: int, phase: str
) -> dict[str, Any]:
    context = multiprocessing.get_context("fork")
    _BENCH.update(url=url, clinic=clinic, count=count, clients=clients, tokens=tokens)
    start = context.Event()
    results = context.Queue()
    children = [
        context.Process(target=_child, args=(index, phase, start, results), daemon=True)
        for index in range(count)
    ]
    for child in children:
        child.start()
    time.sleep(0.5)  # let every child open its engine
    began = time.perf_counter()
    start.set()
    latencies: list[float] = []
    errors: list[str] = []
    for _ in children:
        ok, payload = results.get(timeout=900)
        (latencies.extend if ok else errors.append)(payload)
    seconds = time.perf_counter() - began
    for child in children:
        child.join(30)
    if errors:
        raise RuntimeError(f"bench process failed: {errors[0]}")
    return summarise(latencies, seconds).as_dict()


def _child(index: int, phase: str, start: Any, results: Any) -> None:
    from qlink.bench.queue import _caller, _issuer, _spread
    from workers.projector import Projector

    try:
        b = _BENCH
        clinic, count, clients, tokens = b["clinic"], b["count"], b["clients"], b["tokens"]
        mine = clients // count
        database = Database(make_engine(b["url"], pool_size=mine + 2))
        projector = Projector(database, background=True).install()
        queues = clinic.levels[count]
        if phase == "issue":
            all_work = _issuer(database, clinic, queues, clients, tokens)
        else:
            spread = _spread([d for q in queues for d in q.spread], clients)
            all_work = _caller(database, clinic, spread)
        start.wait(60)
        latencies, _seconds = run_clients(mine, lambda i: all_work(index * mine + i))
        projector.uninstall()
        database.dispose()
        results.put((True, latencies))
    except BaseException as exc:  # reported to the parent, which raises it
        results.put((False, repr(exc)))
