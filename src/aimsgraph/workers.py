"""Worker processes that can be stopped: the HTTP API's heavy work runs here, never on the
event loop.

pyoxigraph cannot cancel a query, and a thread cannot be stopped, so a query that runs too
long is ended the only sure way: its process is killed (SIGKILL) and a fresh one started in
its place, while the other workers go on answering. A `WorkerPool` holds a fixed number of
worker processes (the concurrent work cap), hands each task to an idle one, waits for it in a
thread (the event loop only dispatches), and answers `PoolTimeout` when the task's deadline
passes, `PoolBusy` when more tasks already wait than the queue may hold.

Workers are started through multiprocessing's forkserver, which has imported aimsgraph once:
a replacement is running in milliseconds, then opens the served snapshot itself. Each worker
asks the kernel to kill it when the forkserver (which lives as long as the server) dies, so no
worker outlives the server, even one stuck inside a query.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from multiprocessing.reduction import ForkingPickler as _ForkingPickler

from .errors import AimsGraphError

MiB = 1024 * 1024


class PoolError(AimsGraphError):
    """The pool could not run a task: see the subclasses."""


class PoolBusy(PoolError):
    """Every worker is busy and the queue of waiting tasks is full."""


class PoolTimeout(PoolError):
    """The task's deadline passed (waiting for a worker, or running); its worker was stopped."""


class WorkerDied(PoolError):
    """The worker process ended during the task (e.g. past its memory limit)."""


# --- the worker side ------------------------------------------------------------------------------


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent (the forkserver) exits."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


def _limit_memory(megabytes: int | None) -> None:
    if not megabytes:
        return
    with contextlib.suppress(Exception):
        import resource

        limit = megabytes * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def worker_main(conn, factory: Callable[..., Any], args: tuple, nice: int, memory_mb: int | None) -> None:
    """A worker's life: build its state with `factory(*args)` (opening the snapshot), say
    "ready", then run one task at a time: `(name, args)` in, `("ok", value)` or
    `("error", exception)` out. The state's `run(name, args)` does the work."""
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server handles ^C; it stops us itself
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if nice:
        with contextlib.suppress(OSError):
            os.nice(nice)
    _limit_memory(memory_mb)
    try:
        state = factory(*args)
    except BaseException as exc:  # noqa: BLE001 - reported to the pool, which logs and retries
        with contextlib.suppress(Exception):
            conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", os.getpid()))
    while True:
        try:
            name, task_args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            reply = ("ok", state.run(name, task_args))
        except MemoryError:
            os._exit(3)  # past the memory limit: nothing in this process can be trusted now
        except Exception as exc:  # noqa: BLE001 - every failure goes back to the caller
            if not isinstance(exc, AimsGraphError):
                traceback.print_exc(file=sys.stderr)
            reply = ("error", exc)
        try:
            conn.send(reply)
        except (EOFError, OSError):
            return
        except Exception as exc:  # an exception that cannot be pickled
            conn.send(("error", AimsGraphError(f"{type(exc).__name__}: {exc}")))


# --- the server side ------------------------------------------------------------------------------


_CONTEXT: multiprocessing.context.BaseContext | None = None


def _context() -> multiprocessing.context.BaseContext:
    global _CONTEXT
    if _CONTEXT is None:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["aimsgraph.service"])
        _CONTEXT = ctx
    return _CONTEXT


_SPAWN_LOCK = threading.Lock()


@contextlib.contextmanager
def _without_main():
    """Start worker processes without re-running the parent's __main__ module in them (what
    multiprocessing does for spawn and forkserver children): the worker's code lives in
    aimsgraph, and a host application's main script must not run again per worker."""
    from multiprocessing import spawn

    with _SPAWN_LOCK:
        original = spawn.get_preparation_data

        def preparation(name):
            data = original(name)
            data.pop("init_main_from_path", None)
            data.pop("init_main_from_name", None)
            return data

        spawn.get_preparation_data = preparation
        try:
            yield
        finally:
            spawn.get_preparation_data = original


class _Worker:
    def __init__(self, process, conn, pid: int):
        self.process = process
        self.conn = conn
        self.pid = pid
        self.broken = False

    def kill(self) -> None:
        self.broken = True
        with contextlib.suppress(Exception):
            self.process.kill()
        with contextlib.suppress(Exception):
            self.process.join(timeout=5)
        with contextlib.suppress(Exception):
            self.conn.close()


@dataclass
class PoolStats:
    size: int
    idle: int
    waiting: int
    started: int
    killed: int


class WorkerPool:
    """`size` worker processes, each built by `factory(*args())` in the worker (args are asked
    for at every start, so a replacement opens the snapshot served at that moment)."""

    def __init__(self, name: str, size: int, factory: Callable[..., Any], args: Callable[[], tuple],
                 *, max_queue: int = 64, nice: int = 0, memory_mb: int | None = None,
                 start_timeout: float = 600.0):
        self.name = name
        self.size = max(1, size)
        self.factory = factory
        self.args = args
        self.max_queue = max_queue
        self.nice = nice
        self.memory_mb = memory_mb
        self.start_timeout = start_timeout
        self._idle: collections.deque[_Worker] = collections.deque()
        self._waiters: collections.deque[asyncio.Future] = collections.deque()
        self._all: set[_Worker] = set()
        self._threads = ThreadPoolExecutor(max_workers=self.size * 2 + 2, thread_name_prefix=f"aimsgraph-{name}")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = False
        self.started = 0
        self.killed = 0

    # starting and stopping

    def _spawn(self) -> _Worker:
        ctx = _context()
        parent, child = ctx.Pipe(duplex=True)
        process = ctx.Process(target=worker_main, name=f"aimsgraph-{self.name}",
                              args=(child, self.factory, self.args(), self.nice, self.memory_mb), daemon=True)
        with _without_main():
            process.start()
        child.close()
        if not parent.poll(self.start_timeout):
            process.kill()
            raise PoolError(f"a {self.name} worker did not start within {self.start_timeout:.0f} s")
        try:
            status, detail = parent.recv()
        except EOFError:
            process.join(timeout=5)
            raise PoolError(f"a {self.name} worker exited while starting (code {process.exitcode})") from None
        if status != "ready":
            process.join(timeout=5)
            raise PoolError(f"a {self.name} worker could not start: {detail}")
        self.started += 1
        return _Worker(process, parent, detail)

    async def start(self) -> None:
        """Start every worker (in parallel threads) and wait until each has opened the store."""
        self._loop = asyncio.get_running_loop()
        workers = await asyncio.gather(*(self._loop.run_in_executor(self._threads, self._spawn)
                                         for _ in range(self.size)))
        for worker in workers:
            self._all.add(worker)
            self._idle.append(worker)

    async def close(self) -> None:
        self._closing = True
        for fut in self._waiters:
            if not fut.done():
                fut.cancel()
        for worker in list(self._all):
            worker.kill()
        self._all.clear()
        self._idle.clear()
        self._threads.shutdown(wait=False, cancel_futures=True)

    def _respawn(self, old: _Worker) -> None:
        """Kill `old` and start its replacement in a thread; the new one joins the idle queue."""
        old.kill()
        self.killed += 1
        self._all.discard(old)
        if self._closing:
            return

        def replace() -> None:
            delay = 0.5
            while not self._closing:
                try:
                    worker = self._spawn()
                except Exception as exc:  # noqa: BLE001 - logged; tried again, slower each time
                    if self._closing:
                        return
                    print(f"aimsgraph: {exc}; retrying in {delay:.1f} s", file=sys.stderr)
                    time.sleep(delay)
                    delay = min(delay * 2, 30)
                    continue
                if self._closing:
                    worker.kill()
                    return
                self._all.add(worker)
                assert self._loop is not None
                self._loop.call_soon_threadsafe(self._release, worker)
                return

        self._threads.submit(replace)

    # running tasks

    def _release(self, worker: _Worker) -> None:
        if worker.broken or self._closing:
            self._respawn(worker)
            return
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(worker)
                return
        self._idle.append(worker)

    async def _acquire(self, timeout: float) -> _Worker:
        if self._idle:
            return self._idle.popleft()
        if len(self._waiters) >= self.max_queue:
            raise PoolBusy(f"all {self.size} {self.name} workers are busy and {len(self._waiters)} tasks wait")
        assert self._loop is not None
        fut = self._loop.create_future()
        self._waiters.append(fut)
        try:
            return await asyncio.wait_for(asyncio.shield(fut), max(timeout, 0))
        except (asyncio.TimeoutError, asyncio.CancelledError) as exc:
            if fut.done() and not fut.cancelled():
                self._release(fut.result())
            else:
                fut.cancel()
            with contextlib.suppress(ValueError):
                self._waiters.remove(fut)
            if isinstance(exc, asyncio.TimeoutError):
                raise PoolTimeout("timed out waiting for a worker") from None
            raise

    async def run(self, name: str, args: tuple, timeout: float) -> Any:
        """Run task `name` in a worker within `timeout` seconds (waiting included): its value,
        or the exception the worker raised; PoolTimeout / PoolBusy / WorkerDied otherwise.

        The event loop writes the task to the worker's pipe and is told by the selector when the
        reply is there (no thread, no lock handed back and forth per request); a task of more
        than 1 MiB (an uploaded register) is written from a thread, so the loop never waits on a
        full pipe."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        worker = await self._acquire(timeout)
        reply: asyncio.Future = loop.create_future()
        fd = worker.conn.fileno()
        watching = False

        def readable() -> None:
            loop.remove_reader(fd)
            if reply.done():
                return
            try:
                reply.set_result(worker.conn.recv())
            except (EOFError, OSError):
                reply.set_exception(WorkerDied("the worker process ended during the task"))

        done = False
        try:
            payload = _ForkingPickler.dumps((name, args))
            if len(payload) > MiB:
                await loop.run_in_executor(self._threads, worker.conn.send_bytes, payload)
            else:
                worker.conn.send_bytes(payload)
            loop.add_reader(fd, readable)
            watching = True
            try:
                status, value = await asyncio.wait_for(reply, max(deadline - loop.time(), 0))
            except asyncio.TimeoutError:
                raise PoolTimeout("timed out") from None
            done = True
        except (BrokenPipeError, EOFError, OSError):
            raise WorkerDied("the worker process ended during the task") from None
        finally:
            if watching:
                loop.remove_reader(fd)
            if not done:
                worker.broken = True  # timed out, died, or the request was cancelled mid-task
            self._release(worker)
        if status == "error":
            raise value
        return value

    def pids(self) -> list[int]:
        return sorted(w.pid for w in self._all)

    def stats(self) -> PoolStats:
        return PoolStats(self.size, len(self._idle), len(self._waiters), self.started, self.killed)
