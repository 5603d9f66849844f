"""CPUContentionHook: a warning naming the load and the threads when other processes take the cores."""
import logging
import os
import types

import pytest
import torch
import torch.nn as nn

from coordgan.engine.hooks import cpu_contention
from coordgan.engine.hooks.cpu_contention import CPUContentionHook
from coordgan.registry import HOOKS


@pytest.fixture
def machine(monkeypatch):
    """A 2-core machine whose load average and process CPU time the test sets."""
    state = dict(load=0.0, cpu=0.0, wall=0.0, log=[])
    monkeypatch.setattr(cpu_contention, 'print_log',
                        lambda msg, logger, level: state['log'].append(
                            (level, msg)))
    monkeypatch.setattr(cpu_contention.os, 'getloadavg',
                        lambda: (state['load'], 0.0, 0.0))
    monkeypatch.setattr(cpu_contention.os, 'cpu_count', lambda: 2)
    monkeypatch.setattr(cpu_contention.torch, 'get_num_threads', lambda: 2)
    monkeypatch.setattr(cpu_contention.time, 'process_time',
                        lambda: state['cpu'])
    monkeypatch.setattr(cpu_contention.time, 'monotonic',
                        lambda: state['wall'])
    return state


def warnings_logged(machine, action):
    """The warnings logged while ``action()`` runs."""
    machine['log'].clear()
    action()
    return [msg for level, msg in machine['log'] if level == logging.WARNING]


def run_iterations(hook, runner, machine, first, last, load, own_cores):
    """Iterations first..last, each 1 s of wall time using ``own_cores`` cores."""
    for it in range(first, last + 1):
        machine['load'] = load
        machine['wall'] += 1.0
        machine['cpu'] += own_cores
        runner.iter = it - 1
        hook.after_train_iter(runner, it - 1)


def test_warns_with_the_load_and_threads_only_when_others_take_the_cores(
        machine):
    hook = HOOKS.build(dict(type='CPUContentionHook', interval=10,
                            first_check=5))
    runner = types.SimpleNamespace(iter=0, model=nn.Linear(2, 2))
    # Quiet: the load is this run's own start-up and then its 2 threads.
    machine['load'] = 0.9
    assert warnings_logged(machine, lambda: hook.before_train(runner)) == []
    assert warnings_logged(machine, lambda: run_iterations(
        hook, runner, machine, 1, 10, load=2.2, own_cores=1.9)) == []
    assert [c['when'] for c in hook.checks] == [
        'at train start', 'at iteration 5', 'at iteration 10']
    assert hook.checks[-1]['own_cores'] == pytest.approx(1.9)
    assert hook.checks[-1]['others'] == pytest.approx(0.3)
    # Two busy processes beside it: this run gets one core of its two.
    messages = warnings_logged(machine, lambda: run_iterations(
        hook, runner, machine, 11, 20, load=3.0, own_cores=1.0))
    assert len(messages) == 1 and hook.num_warnings == 1
    assert 'at iteration 20' in messages[0]
    assert 'load average 3.00 on 2 cores' in messages[0]
    assert 'about 2.0 from other processes' in messages[0]
    assert 'torch uses 2 threads' in messages[0]


def test_a_busy_machine_at_the_start_is_named_and_gpu_runs_are_skipped(
        machine):
    hook = CPUContentionHook()
    runner = types.SimpleNamespace(iter=0, model=nn.Linear(2, 2))
    machine['load'] = 3.5
    messages = warnings_logged(machine, lambda: hook.before_train(runner))
    assert len(messages) == 1 and 'at train start' in messages[0]

    gpu_model = types.SimpleNamespace(parameters=lambda: iter(
        [torch.zeros((), device='meta')]))
    hook = CPUContentionHook(first_check=1)
    runner = types.SimpleNamespace(iter=0, model=gpu_model)
    assert warnings_logged(machine, lambda: hook.before_train(runner)) == []
    run_iterations(hook, runner, machine, 1, 3, load=3.5, own_cores=0.5)
    assert hook.checks == [] and hook.num_warnings == 0


def test_adapt_threads_lowers_the_thread_count_to_the_free_cores(
        machine, monkeypatch):
    threads = dict(n=2)
    monkeypatch.setattr(cpu_contention.torch, 'get_num_threads',
                        lambda: threads['n'])
    monkeypatch.setattr(cpu_contention.torch, 'set_num_threads',
                        lambda n: threads.update(n=n))
    runner = types.SimpleNamespace(iter=0, model=nn.Linear(2, 2))
    machine['load'] = 0.5
    hook = CPUContentionHook(first_check=2, interval=2, adapt_threads=True)
    hook.before_train(runner)
    run_iterations(hook, runner, machine, 1, 2, load=2.0, own_cores=2.0)
    assert threads['n'] == 2 and hook.num_warnings == 0
    # One busy process beside this run's two threads: one core is free.
    messages = warnings_logged(machine, lambda: run_iterations(
        hook, runner, machine, 3, 4, load=2.5, own_cores=1.5))
    assert threads['n'] == 1
    assert 'torch now uses 1 thread(s)' in messages[0]
    # Still busy: one thread stays.
    run_iterations(hook, runner, machine, 5, 6, load=2.0, own_cores=1.0)
    assert threads['n'] == 1
    # The other process is gone: the run's two threads come back.
    run_iterations(hook, runner, machine, 7, 8, load=1.0, own_cores=1.0)
    assert threads['n'] == 2
    assert 'torch uses 2 threads again' in machine['log'][-1][1]
    # Without the option the count is left alone.
    threads['n'] = 2
    machine['load'] = 0.5
    hook = CPUContentionHook(first_check=2, interval=2)
    hook.before_train(runner)
    run_iterations(hook, runner, machine, 1, 2, load=2.5, own_cores=1.5)
    assert threads['n'] == 2 and hook.num_warnings == 1


def test_bad_intervals_are_refused():
    with pytest.raises(ValueError, match='interval and first_check'):
        CPUContentionHook(interval=0)


def test_the_runner_calls_the_hook_from_a_config(monkeypatch, tmp_path):
    from mmengine import Config
    from mmengine.runner import Runner

    from coordgan.apis import prepare_train_config
    from helpers import SYNTHETIC_CONFIG, tiny_model_cfg
    cfg = Config.fromfile(SYNTHETIC_CONFIG)
    cfg.model = tiny_model_cfg()
    cfg.train_dataloader.dataset.img_size = 16
    cfg.train_dataloader.dataset.num_samples = 4
    cfg.train_cfg.max_iters = 2
    cfg.default_hooks.checkpoint.interval = 10
    # The runtime's default hook (configs/_base_/default_runtime.py), with
    # its first check moved into this short run.
    assert cfg.default_hooks.cpu_contention.type == 'CPUContentionHook'
    cfg.default_hooks.cpu_contention.first_check = 2
    cfg.custom_hooks = []
    cfg.experiment_name = 'cpu-contention'
    # Only the load is faked here: the Runner's own clocks stay real.
    monkeypatch.setattr(cpu_contention.os, 'getloadavg',
                        lambda: (2.0 + (os.cpu_count() or 1), 0.0, 0.0))
    runner = Runner.from_cfg(prepare_train_config(cfg,
                                                  work_dir=str(tmp_path)))
    runner.train()
    hooks = [h for h in runner.hooks if isinstance(h, CPUContentionHook)]
    assert len(hooks) == 1
    hook = hooks[0]
    assert [c['when'] for c in hook.checks] == ['at train start',
                                                'at iteration 2']
    assert hook.num_warnings == 2
