"""Seconds per iteration of the README main job on the CPU, per thread and data-loader setting.

Each setting trains the config for ``--iters`` iterations through the same
path as ``tools/train.py`` (config, ``prepare_train_config``, the Runner
with every hook of the config) in its own child process, whose environment
and thread counts are set before torch starts. The per-iteration times come
from the Runner's own ``IterTimerHook`` (data loading, train_step and every
hook); the median after ``--skip`` warm-up iterations is reported. Run it on
a quiet machine (``uptime``: load average well below the core count), from
the repository root:

    PYTHONPATH=. python benchmarks/cpu_threads.py --iters 60
    # the same with one busy process beside it (a shared machine)
    PYTHONPATH=. python benchmarks/cpu_threads.py --iters 60 --busy 1

A setting is ``threads=T,interop=I,workers=W,omp=O,wait=P,hooks=on|off``;
any part left out keeps the default (torch's own thread counts, the
config's ``num_workers``, ``OMP_NUM_THREADS`` and ``OMP_WAIT_POLICY`` as
inherited, the config's hooks). ``wait=passive`` sets ``OMP_WAIT_POLICY``:
idle OpenMP threads sleep instead of spinning.
``hooks=off`` removes the custom hooks and sets the logger and checkpoint
intervals past the run, to weigh what they cost.
"""

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time

DEFAULT_SETTINGS = (
    'default',
    'omp=1',
    'threads=1',
    'threads=2',
    'threads=2,interop=1',
    'wait=passive',
    'threads=1,workers=2',
    'threads=2,workers=2',
    'hooks=off',
)
KEYS = ('threads', 'interop', 'workers', 'omp', 'wait', 'hooks')


def parse_setting(text):
    """'threads=2,workers=0' -> {'threads': '2', 'workers': '0'}; ValueError naming the keys."""
    if text == 'default':
        return {}
    setting = {}
    for part in text.split(','):
        key, _, value = part.partition('=')
        if key not in KEYS or not value:
            raise ValueError(f'setting {text!r}: parts are key=value with '
                             f'key one of {KEYS}')
        setting[key] = value
    return setting


def child(args):
    """Train in this process with the setting in args.setting; print the iteration times as JSON."""
    setting = parse_setting(args.setting)
    import torch
    if 'threads' in setting:
        torch.set_num_threads(int(setting['threads']))
    if 'interop' in setting:
        torch.set_num_interop_threads(int(setting['interop']))
    from mmengine.config import Config
    from mmengine.runner import Runner

    from coordgan.apis import prepare_train_config
    cfg = Config.fromfile(args.config)
    cfg.train_cfg.max_iters = args.iters
    cfg.default_hooks.checkpoint.save_last = False
    if 'workers' in setting:
        workers = int(setting['workers'])
        cfg.train_dataloader.num_workers = workers
        cfg.train_dataloader.persistent_workers = workers > 0
    if setting.get('hooks') == 'off':
        cfg.custom_hooks = []
        cfg.default_hooks.logger.interval = args.iters + 1
        cfg.default_hooks.checkpoint.interval = args.iters + 1
    with tempfile.TemporaryDirectory() as work_dir:
        cfg = prepare_train_config(cfg, work_dir=work_dir)
        runner = Runner.from_cfg(cfg)
        runner.train()
        times = [float(t) for t in
                 runner.message_hub.get_scalar('train/time').data[0]]
    print(json.dumps(dict(times=times, threads=torch.get_num_threads(),
                          interop=torch.get_num_interop_threads())))


def busy_loop():
    """Keep one core busy (a stand-in for another user of a shared machine)."""
    x = 0
    while True:
        x = (x * 31 + 7) % 1000003


def run_setting(args, text):
    """-> {'s_per_it': median after the warm-up, ...} for one setting, from a child process."""
    setting = parse_setting(text)
    env = dict(os.environ)
    if 'omp' in setting:
        env['OMP_NUM_THREADS'] = setting['omp']
    if 'wait' in setting:
        env['OMP_WAIT_POLICY'] = setting['wait'].upper()
    command = [sys.executable, os.path.abspath(__file__), '--child',
               '--setting', text, '--config', args.config,
               '--iters', str(args.iters)]
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    lines = proc.stdout.strip().splitlines()
    if proc.returncode or not lines:
        tail = (proc.stderr.strip().splitlines() or ['no output'])[-1]
        return dict(setting=text, error=f'exit {proc.returncode}: {tail}')
    result = json.loads(lines[-1])
    times = result.pop('times')[args.skip:]
    # The mean is what the run's length follows; the median resists the
    # occasional iteration that waited seconds for a core.
    return dict(setting=text, s_per_it=statistics.median(times),
                mean_s=statistics.mean(times), min_s=min(times),
                max_s=max(times), wall_s=wall, times_s=times,
                omp=env.get('OMP_NUM_THREADS'), **result)


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='\n'.join(__doc__.splitlines()[2:]))
    parser.add_argument('--config', default='configs/coordgan_synthetic.py')
    parser.add_argument('--iters', type=int, default=60)
    parser.add_argument('--skip', type=int, default=10,
                        help='warm-up iterations left out of the median')
    parser.add_argument('--settings', nargs='+', default=DEFAULT_SETTINGS)
    parser.add_argument('--busy', type=int, default=0,
                        help='busy-loop processes beside every setting')
    parser.add_argument('--json', help='write the results to this file')
    parser.add_argument('--child', action='store_true',
                        help=argparse.SUPPRESS)
    parser.add_argument('--setting', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.child:
        for text in args.settings:
            parse_setting(text)
        if args.iters <= args.skip:
            parser.error(f'--iters ({args.iters}) must exceed --skip '
                         f'({args.skip})')
    return args


def main():
    args = parse_args()
    if args.child:
        child(args)
        return
    from terminaltables import AsciiTable
    busy = [multiprocessing.Process(target=busy_loop, daemon=True)
            for _ in range(args.busy)]
    for proc in busy:
        proc.start()
    try:
        results = [run_setting(args, text) for text in args.settings]
    finally:
        for proc in busy:
            proc.terminate()
    print(f'{args.config}: {args.iters} iterations, median after {args.skip};'
          f' {os.cpu_count()} cores, load average {os.getloadavg()}, '
          f'{args.busy} busy process(es) beside')
    rows = [['setting', 's/it (median)', 'mean', 'min', 'max',
             'torch threads', 'interop', 'OMP_NUM_THREADS']]
    for r in results:
        if 'error' in r:
            rows.append([r['setting'], r['error'][:60]] + [''] * 6)
            continue
        rows.append([r['setting']] + [
            f'{r[k]:.3f}' for k in ('s_per_it', 'mean_s', 'min_s', 'max_s')
        ] + [r['threads'], r['interop'], r['omp'] or 'unset'])
    print(AsciiTable(rows).table)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(args=vars(args), load_avg=os.getloadavg(),
                           results=results), f, indent=1)


if __name__ == '__main__':
    main()
