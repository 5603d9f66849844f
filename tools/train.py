"""Train a coordgan model from a config with mmengine's Runner.

    python tools/train.py configs/coordgan_synthetic.py
    python tools/train.py CONFIG --resume                 # newest complete checkpoint
    bash tools/dist_train.sh CONFIG 8                     # 8 GPUs with torchrun
"""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction

from coordgan.apis import (build_runner, init_cpu_distributed,
                           prepare_train_config, shutdown_distributed)
from coordgan.engine import RunError
from coordgan.utils import CheckpointError


def parse_args():
    parser = argparse.ArgumentParser(description='Train a coordgan model')
    parser.add_argument('config', help='train config file')
    parser.add_argument('--work-dir', help='where logs, checkpoints and '
                        'pictures go (default: work_dirs/<config name>)')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from this checkpoint, or without a value from the '
        'latest checkpoint in the work_dir')
    parser.add_argument('--amp', action='store_true',
                        help='automatic mixed precision for every optimizer')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config entries, e.g. model.generator.warper.type=X')
    parser.add_argument('--launcher', default='none',
                        choices=['none', 'pytorch', 'slurm', 'mpi'])
    # torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(args.config))[0])
    try:
        cfg = prepare_train_config(cfg, work_dir=work_dir, amp=args.amp,
                                   resume=args.resume)
    except (ValueError, FileNotFoundError) as err:
        # Config and checkpoint problems found at start-up: the message.
        raise SystemExit(f'{type(err).__name__}: {err}') from None
    init_cpu_distributed(args.launcher)
    try:
        build_runner(cfg).train()
    except (RunError, CheckpointError) as err:
        # The reason and what to do, without a traceback (the log has it too
        # once the Runner has a logger).
        raise SystemExit(f'{type(err).__name__}: {err}') from None
    shutdown_distributed()


if __name__ == '__main__':
    main()
