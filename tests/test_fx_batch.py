"""Worker pools that survive a dying worker: map_surviving_crashes with a callable that kills its process."""
import multiprocessing
import os
import signal
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import pytest

from feature_extraction.batch import map_surviving_crashes


def tenfold_or_die(item):
    """Worker-side task (imported by the spawned workers): items below 0 kill their process
    the way a native crash (-1, os._exit) or an out-of-memory kill (-2, SIGKILL) does."""
    if item == -1:
        os._exit(1)
    if item == -2:
        os.kill(os.getpid(), signal.SIGKILL)
    return 10 * item


def spawn_pool(workers):
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))


@pytest.mark.parametrize("items, jobs", [
    ([0, 1, 2, -2, 3, 4, 5], 2),  # the killer shares the pool with another item in flight
    ([-1, 1, 2, 3, -2], 3),  # two killers, the first one at the start
    ([1, -1], 1),  # one worker: the killer is alone when it dies
])
def test_a_dying_worker_fails_only_its_own_item(items, jobs):
    outcomes = list(map_surviving_crashes(tenfold_or_die, items, jobs, spawn_pool))
    assert sorted(item for item, _, _ in outcomes) == sorted(items)  # every item exactly once
    for item, result, error in outcomes:
        if item < 0:
            assert result is None and isinstance(error, BrokenProcessPool)
        else:
            assert (result, error) == (10 * item, None)


def test_no_items_and_exceptions_of_the_task_itself():
    assert list(map_surviving_crashes(tenfold_or_die, [], 2, spawn_pool)) == []
    with pytest.raises(TypeError):  # an ordinary exception in the task is the caller's to handle
        list(map_surviving_crashes(tenfold_or_die, [1, None], 2, spawn_pool))  # 10 * None
