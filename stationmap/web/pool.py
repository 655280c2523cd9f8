"""A bounded worker pool for expensive requests that answers 503 with Retry-After instead of tying up the server.

Expensive work (planner computations, report builds) runs on a few threads of its own. A server thread that asks
for a result waits at most ``wait_s``; at most ``max_waiting`` server threads wait at once and at most
``max_pending`` computations run or queue. Beyond either bound the request is refused at once with `PoolBusyError`
(503, ``Retry-After``), so cheap requests such as the worker's page always find a free server thread.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

from stationmap.errors import StationMapError

__all__ = ["BoundedPool", "PoolBusyError", "waiting_limits"]


class PoolBusyError(StationMapError, RuntimeError):
    """The work is still running or the pool is full; the client should retry after `retry_after_s` seconds."""

    http_status = 503
    retry_after_s = 5


@dataclass
class BoundedPool:
    """
    Run keyed computations on `workers` threads; concurrent requests for one key share one computation.

    Attributes
    ----------
    name
        Names the threads and the refusals ("The planner is busy ...").
    workers
        Threads computing.
    max_pending
        Computations running or queued before new ones are refused.
    max_waiting
        Request threads waiting for a result at once before further requests are refused; keep it below the
        server's thread count. None means no bound.
    wait_s
        Longest a request waits for a result, seconds; the computation then goes on in the background.
    busy_error
        The `PoolBusyError` subclass raised.
    advice
        Appended to the message when a computation outlasts `wait_s`.
    """

    name: str = "pool"
    workers: int = 2
    max_pending: int = 8
    max_waiting: int | None = None
    wait_s: float = 20.0
    busy_error: type[PoolBusyError] = PoolBusyError
    advice: str = ""
    _pending: dict[Hashable, Future] = field(default_factory=dict, repr=False)
    _waiting: int = field(default=0, repr=False)
    _guard: threading.RLock = field(default_factory=threading.RLock, repr=False)  # done callbacks may run inside
    _pool: ThreadPoolExecutor | None = field(default=None, repr=False)

    def run(self, key: Hashable, build: Callable[[], Any], *, on_start: Callable[[], None] | None = None) -> Any:
        """
        Return what `build` returns, computed on the pool (shared with a running computation of `key`).

        Parameters
        ----------
        key
            Identifies the computation; requests with an equal key share it.
        build
            The computation; its result is returned to every waiting request.
        on_start
            Called, under the pool's lock, when this request starts a new computation (for counters).

        Raises
        ------
        PoolBusyError
            (`busy_error`) If too many requests wait, too many computations run, or the result is not ready
            within `wait_s`.
        StationMapError
            Whatever `build` raises.
        """
        retry = self.busy_error.retry_after_s
        with self._guard:
            if self.max_waiting is not None and self._waiting >= self.max_waiting:
                msg = f"The {self.name} is busy with {self._waiting} requests; retry in {retry} s."
                raise self.busy_error(msg)
            future = self._pending.get(key)
            if future is None:
                if len(self._pending) >= self.max_pending:
                    msg = f"The {self.name} is busy with {len(self._pending)} computations; retry in {retry} s."
                    raise self.busy_error(msg)
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix=self.name)
                future = self._pool.submit(build)
                self._pending[key] = future
                future.add_done_callback(functools.partial(self._forget, key))
                if on_start is not None:
                    on_start()
            self._waiting += 1
        try:
            return future.result(timeout=self.wait_s)
        except FutureTimeout:
            msg = (f"This computation takes longer than {self.wait_s:g} s; it continues in the background. "
                   f"Retry in {retry} s{self.advice}.")
            raise self.busy_error(msg) from None
        finally:
            with self._guard:
                self._waiting -= 1

    def _forget(self, key: Hashable, _future: Future) -> None:
        with self._guard:
            self._pending.pop(key, None)


def waiting_limits(threads: int) -> tuple[int, int]:
    """
    Return how many request threads may wait for a report and for the planner, out of `threads`.

    A quarter (at least one) for reports, the rest but one for the planner, and always one thread free for the
    worker's page: 8 threads give (2, 5), gunicorn's 4 give (1, 2), 3 give (1, 1); fewer than 3 cannot keep one
    free, which `Settings` refuses.
    """
    reports = max(1, threads // 4)
    return reports, max(1, threads - reports - 1)
