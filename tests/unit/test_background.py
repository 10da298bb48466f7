"""mnist.background: a job per key, started once, shared, kept, failed jobs kept until
forgotten."""

from __future__ import annotations

import threading

import pytest

from mnist.background import Jobs


def test_a_key_starts_one_job_that_everyone_shares():
    release = threading.Event()
    calls = []

    def work(n):
        calls.append(n)
        assert release.wait(60)
        return n * 2

    jobs = Jobs(workers=1)
    first = jobs.start("a", work, 21)
    again = jobs.start("a", work, 99)  # running: the same job, not a second computation
    assert again is first and not first.done and first.error is None
    release.set()
    assert first.future.result(timeout=60) == 42
    assert jobs.start("a", work, 99).result() == 42  # done: kept, instant
    assert calls == [21]
    assert jobs.get("a") is first and jobs.get("b") is None


def test_a_failed_job_is_kept_until_forgotten():
    def fail():
        raise ValueError("no features")

    jobs = Jobs()
    job = jobs.start("k", fail)
    with pytest.raises(ValueError):
        job.future.result(timeout=60)
    assert isinstance(jobs.start("k", fail).error, ValueError)  # the page can show it
    jobs.forget("k")
    retried = jobs.start("k", lambda: "ok")
    assert retried is not job and retried.future.result(timeout=60) == "ok"


def test_only_the_newest_finished_jobs_are_kept_and_running_ones_never_dropped():
    release = threading.Event()
    jobs = Jobs(workers=2, keep=2)
    slow = jobs.start("slow", lambda: release.wait(60))
    for k in range(3):
        jobs.start(k, lambda k=k: k).future.result(timeout=60)
    assert jobs.get("slow") is slow  # the oldest, but running: kept
    release.set()
    slow.future.result(timeout=60)
    jobs.start("new", lambda: 0).future.result(timeout=60)
    kept = [k for k in ("slow", 0, 1, 2, "new") if jobs.get(k) is not None]
    assert len(kept) == 2 and "new" in kept and "slow" not in kept
    jobs.forget("new")
    jobs.forget("missing")  # nothing to forget: no error
    assert jobs.get("new") is None
