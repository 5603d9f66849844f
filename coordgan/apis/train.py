"""Turning a config plus command-line choices into what mmengine's Runner runs."""
from typing import Optional

import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.runner import Runner

from coordgan.registry import RUNNERS, init_default_scope
from coordgan.utils.config_check import validate_config


def build_runner(cfg: Config) -> Runner:
    """The Runner of ``cfg``: ``RUNNERS.build`` if it names a ``runner_type``, else mmengine's.

    mmengine's tools convention; coordgan's runtime names
    ``CoordGANRunner`` (atomic checkpoints, resume from the newest
    complete one, work_dir checked before training).
    """
    if cfg.get('runner_type') is None:
        return Runner.from_cfg(cfg)
    return RUNNERS.build(cfg)


def prepare_train_config(cfg: Config,
                         work_dir: str,
                         amp: bool = False,
                         resume: Optional[str] = None) -> Config:
    """Set work_dir, AMP and resume on ``cfg`` and check its default scope.

    ``resume='auto'`` resumes from the newest complete checkpoint in
    ``work_dir`` (with ``CoordGANRunner``; mmengine's Runner follows
    ``last_checkpoint``); any other value is a checkpoint path. AMP
    switches every optimizer wrapper of the config (one per trained
    network) to ``AmpOptimWrapper``.
    """
    init_default_scope(cfg.get('default_scope', 'coordgan'))
    cfg.work_dir = work_dir
    if amp:
        wrappers = cfg.optim_wrapper
        subs = [v for v in wrappers.values()
                if isinstance(v, dict) and 'optimizer' in v]
        for sub in subs or [wrappers]:
            if sub.get('type', 'OptimWrapper') != 'OptimWrapper':
                raise ValueError(
                    f'--amp: optimizer wrapper type is already '
                    f'{sub["type"]!r}; set AMP in the config instead')
            sub['type'] = 'AmpOptimWrapper'
            sub.setdefault('loss_scale', 'dynamic')
    if resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif resume is not None:
        cfg.resume = True
        cfg.load_from = resume
    # Unknown keys, wrong types and sizes, missing LPIPS weights and unfit
    # checkpoints fail here, before the Runner builds anything.
    validate_config(cfg, mode='train')
    return cfg


def init_cpu_distributed(launcher: str) -> bool:
    """Start a gloo process group for ``--launcher pytorch`` on a machine without CUDA.

    mmengine's own initialisation always selects a CUDA device, which fails
    on CPU-only machines; with the group already up the Runner uses it.
    Returns whether it started one.
    """
    if launcher != 'pytorch' or torch.cuda.is_available() or (
            dist.is_available() and dist.is_initialized()):
        return False
    dist.init_process_group(backend='gloo')
    return True


def shutdown_distributed() -> None:
    """Wait for every rank, then close the process group.

    A gloo group left open when the interpreter exits can abort the process
    ("terminate called without an active exception").
    """
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
