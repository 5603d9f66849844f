"""Counts the updates skipped for non-finite values and stops a run that keeps producing them."""
from typing import Optional

import torch
from mmengine.hooks import Hook

from coordgan.engine.runner.checkpoint_files import RunError
from coordgan.models.algorithms.common import unwrap
from coordgan.registry import HOOKS

KEY = 'skipped_nonfinite'


class NonFiniteLossError(RunError):
    """Too many iterations in a row had non-finite losses or gradients."""


@HOOKS.register_module()
class NonFiniteLimitHook(Hook):
    """Total of skipped updates in the log; stop after ``max_consecutive`` bad iterations in a row.

    The training models skip every update whose losses or gradients are
    not finite and report the number skipped in the iteration as
    ``skipped_nonfinite`` (:class:`coordgan.models.algorithms.nonfinite.
    SkipNonFiniteMixin`). This hook replaces that number by the run's total
    before it is logged (the total is kept in the checkpoints, so it
    survives ``--resume``). When ``max_consecutive`` iterations in a row
    each skipped an update, training stops with :class:`NonFiniteLossError`
    before any checkpoint of that iteration is written; since skipped
    updates change no weight, the checkpoints already on disk are those of
    the last good state, and the message names the newest one saved before
    the bad streak began.

    Args:
        max_consecutive: iterations in a row with a skipped update that end
            the run (0 never stops it).
    """

    # Before RuntimeInfoHook (VERY_HIGH) logs the outputs, and before the
    # CheckpointHook could save the iteration that ends the run.
    priority = 'HIGHEST'

    def __init__(self, max_consecutive: int = 20):
        if int(max_consecutive) < 0:
            raise ValueError(f'NonFiniteLimitHook: max_consecutive must be '
                             f'>= 0, got {max_consecutive}')
        self.max_consecutive = int(max_consecutive)
        self.total = 0
        self.streak = 0
        self.checkpoint_before_streak: Optional[str] = None

    def before_train(self, runner) -> None:
        self.total = int(runner.message_hub.get_info(KEY, 0))
        self.streak = 0

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        if not outputs or KEY not in outputs:
            return
        skipped = int(outputs[KEY])
        self.total += skipped
        runner.message_hub.update_info(KEY, self.total)
        outputs[KEY] = torch.tensor(float(self.total))
        if not skipped:
            self.streak = 0
            return
        if self.streak == 0:
            self.checkpoint_before_streak = runner.message_hub.get_info(
                'last_ckpt')
        self.streak += 1
        if self.max_consecutive and self.streak >= self.max_consecutive:
            message = self.stop_message(runner)
            runner.logger.error(message)
            raise NonFiniteLossError(message)

    def stop_message(self, runner) -> str:
        last = getattr(unwrap(runner.model), 'last_nonfinite', None)
        good = self.checkpoint_before_streak
        resume = (f'The newest checkpoint saved before them is {good}; '
                  f'skipped updates change no weight, so the checkpoints '
                  f'in the work_dir hold the last good state. After fixing '
                  f'the cause (learning rates, loss weights, data) '
                  f'continue with --resume {good}.' if good else
                  'No checkpoint was saved before them.')
        return (f'Training stopped at iteration {runner.iter + 1}: '
                f'{self.streak} iterations in a row had non-finite losses or '
                f'gradients, and their updates were skipped (last: '
                f'{last or "see the warnings above"}). {resume} The limit '
                f'is default_hooks.nonfinite.max_consecutive='
                f'{self.max_consecutive} (0: never stop).')
