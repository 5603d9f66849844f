"""Warns when other processes compete for the cores that a CPU run's torch threads need."""
import logging
import os
import time
from typing import List, Optional

import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log

from coordgan.registry import HOOKS


def other_load(load_avg: float, own_cores: float) -> float:
    """Runnable processes that are not this run: the 1-minute load average less the cores this run used."""
    return max(0.0, load_avg - own_cores)


def oversubscribed(others: float, threads: int, cpu_count: int,
                   tolerance: float) -> bool:
    """Whether this run's threads and the other load ask for more cores than there are (beyond ``tolerance``)."""
    return others + threads > cpu_count + tolerance


@HOOKS.register_module()
class CPUContentionHook(Hook):
    """Warns in the log when a CPU run shares its cores with other busy processes.

    torch's intra-op threads wait for each other at every op, so a run with
    ``T`` threads on ``T`` cores can slow by more than its lost share when
    other processes are runnable (docs/benchmarks.md). At train start and then at iteration
    ``first_check`` and every ``interval`` iterations this hook estimates
    the other processes' demand as the 1-minute load average less the cores
    this process used since the last check (its CPU time over wall time;
    at the start at most the one core of start-up), and warns, naming the
    load average, the core count and the torch thread count, when that
    demand plus the torch threads exceeds the cores by more than
    ``tolerance``. The numbers of every check are kept in ``checks``.

    ``adapt_threads=True`` also lowers torch's thread count to the cores
    left free (at least 1) when a check finds contention, and gives back
    the count the run started with at the first check that finds room for
    it again (logged). Off by default: the thread count changes the order of float
    sums, so a run that adapts is not bit-for-bit the run that did not.

    Only CPU runs are checked (``cpu_only``): with a GPU the torch threads
    mostly wait for the device. Costs one ``os.getloadavg`` per check.
    """

    priority = 'LOW'

    def __init__(self, interval: int = 500, first_check: int = 20,
                 tolerance: float = 0.75, cpu_only: bool = True,
                 adapt_threads: bool = False):
        if interval < 1 or first_check < 1:
            raise ValueError(f'CPUContentionHook: interval and first_check '
                             f'must be >= 1, got {interval} and '
                             f'{first_check}')
        self.interval = int(interval)
        self.first_check = int(first_check)
        self.tolerance = float(tolerance)
        self.cpu_only = cpu_only
        self.adapt_threads = adapt_threads
        self.num_warnings = 0
        self.checks: List[dict] = []
        self._mark: Optional[tuple] = None
        self._active = True
        self._start_threads: Optional[int] = None

    def before_train(self, runner) -> None:
        self._start_threads = torch.get_num_threads()
        if self.cpu_only:
            params = next(runner.model.parameters(), None)
            self._active = params is None or params.device.type == 'cpu'
        if self._active:
            self.check(runner, own_cores=1.0, when='at train start')

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        it = runner.iter + 1
        if not self._active or not (it == self.first_check or
                                    it % self.interval == 0):
            return
        wall, cpu = self._mark
        own = (time.process_time() - cpu) / max(time.monotonic() - wall,
                                                1e-6)
        self.check(runner, own_cores=own, when=f'at iteration {it}')

    def check(self, runner, own_cores: float, when: str) -> None:
        """Compare the other load with the free cores now; warn if they are short."""
        load = os.getloadavg()[0]
        cpus = os.cpu_count() or 1
        threads = torch.get_num_threads()
        others = other_load(load, own_cores)
        self.checks.append(dict(when=when, load_avg=load, cpu_count=cpus,
                                threads=threads, own_cores=own_cores,
                                others=others))
        self._mark = (time.monotonic(), time.process_time())
        if not oversubscribed(others, threads, cpus, self.tolerance):
            start = self._start_threads or threads
            if (self.adapt_threads and threads < start and
                    not oversubscribed(others, start, cpus, self.tolerance)):
                torch.set_num_threads(start)
                print_log(f'CPU contention over {when} (load average '
                          f'{load:.2f} on {cpus} cores): torch uses {start} '
                          f'threads again.', logger='current',
                          level=logging.INFO)
            return
        self.num_warnings += 1
        free = max(1, int(cpus - others))
        slowdown = (others + threads) / cpus
        if self.adapt_threads and free < threads:
            torch.set_num_threads(free)
            advice = f'torch now uses {free} thread(s) (adapt_threads=True).'
        else:
            advice = (f'Run when the machine is quieter, or use fewer '
                      f'threads (e.g. OMP_NUM_THREADS={free}).')
        print_log(
            f'CPU contention {when}: load average {load:.2f} on {cpus} cores, '
            f'of which about {others:.1f} from other processes, while torch '
            f'uses {threads} threads (this run {own_cores:.1f} cores). Each '
            f'op waits for its slowest thread, so training may run '
            f'{slowdown:.1f}x or more slower than on an idle machine. '
            f'{advice}', logger='current',
            level=logging.WARNING)
