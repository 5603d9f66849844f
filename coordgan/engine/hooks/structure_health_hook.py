"""Warns when the structure branch collapses: correspondence maps that no longer differ between images."""
import logging
from collections import deque
from typing import Optional

from mmengine.hooks import Hook
from mmengine.logging import print_log

from coordgan.registry import HOOKS

SPREAD_KEY = 'structure_spread_px'


@HOOKS.register_module()
class StructureHealthHook(Hook):
    """Checks the logged ``structure_spread_px`` (how far the batch's C^w maps differ, in grid pixels).

    From iteration ``check_after`` on (set it to the end of the warm-ups),
    every ``interval`` iterations it averages the last ``window`` values and
    logs a warning if that mean is below ``min_spread_px``: the warper then
    gives (nearly) the same correspondence map to every structure code, and
    dense correspondence cannot emerge. The model must log the key
    (:class:`coordgan.models.CoordGAN` does).
    """

    priority = 'LOW'

    def __init__(self,
                 check_after: int = 20000,
                 interval: int = 1000,
                 window: int = 100,
                 min_spread_px: float = 0.5):
        if interval < 1 or window < 1:
            raise ValueError(f'StructureHealthHook: interval and window must '
                             f'be >= 1, got {interval} and {window}')
        if not min_spread_px >= 0:
            raise ValueError(f'StructureHealthHook: min_spread_px must be >= '
                             f'0, got {min_spread_px}')
        self.check_after = int(check_after)
        self.interval = int(interval)
        self.min_spread_px = float(min_spread_px)
        self.values = deque(maxlen=int(window))
        self.num_warnings = 0

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        if not outputs or SPREAD_KEY not in outputs:
            return
        self.values.append(float(outputs[SPREAD_KEY]))
        it = runner.iter + 1
        if it < self.check_after or it % self.interval:
            return
        mean = sum(self.values) / len(self.values)
        if mean < self.min_spread_px:
            self.num_warnings += 1
            print_log(
                f'structure branch looks collapsed: the correspondence maps '
                f'of different structure codes differ by {mean:.3f} px on '
                f'average over the last {len(self.values)} iterations '
                f'(< {self.min_spread_px} px) at iteration {it}, after the '
                'warm-ups; dense correspondence is not emerging (see '
                'docs/training.md)', logger='current',
                level=logging.WARNING)
