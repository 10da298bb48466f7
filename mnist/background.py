"""Computations that outlive a page's rerun: started once per key and shared by every
session of the server (the Inside page's t-SNE, about a minute for the first look at a
model on two cores). A rerun stops a Streamlit script mid-way, which would throw such work
away; a job runs in its own thread, and a page only looks at how it is doing."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Job:
    future: Future
    started: float = field(default_factory=time.monotonic)

    @property
    def done(self) -> bool:
        return self.future.done()

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started

    @property
    def error(self) -> BaseException | None:
        return self.future.exception() if self.done else None

    def result(self) -> Any:
        return self.future.result()


class Jobs:
    """At most ``workers`` jobs run at once (the rest wait their turn); the ``keep`` newest
    are kept, with their results, for whoever asks next."""

    def __init__(self, workers: int = 1, keep: int = 8):
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="mnist-job")
        self._jobs: OrderedDict[Hashable, Job] = OrderedDict()
        self._keep = keep
        self._lock = threading.Lock()

    def start(self, key: Hashable, fn: Callable[..., Any], *args: Any) -> Job:
        """The job for ``key``: the one already started (running, done or failed), else a
        new one running ``fn(*args)``."""
        with self._lock:
            job = self._jobs.get(key)
            if job is None:
                job = self._jobs[key] = Job(self._pool.submit(fn, *args))
            self._jobs.move_to_end(key)
            while len(self._jobs) > self._keep:
                oldest = next(iter(self._jobs))
                if not self._jobs[oldest].done:
                    break  # never drop a running job: someone is waiting for it
                del self._jobs[oldest]
            return job

    def get(self, key: Hashable) -> Job | None:
        with self._lock:
            return self._jobs.get(key)

    def forget(self, key: Hashable) -> None:
        """Drop a finished job (one that failed, to try again); a running one stays."""
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and job.done:
                del self._jobs[key]
