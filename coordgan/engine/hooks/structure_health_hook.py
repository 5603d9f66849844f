"""Warns when the structure branch collapses: correspondence maps that no longer differ between images."""
import logging
from collections import deque
from typing import Optional, Tuple

import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log

from coordgan.evaluation.structure import generator_spread
from coordgan.models.algorithms.common import unwrap
from coordgan.registry import HOOKS

SPREAD_KEY = 'structure_spread_px'


def averaged_generator(model):
    """The model's EMA generator if it keeps one (``generator_ema.module``), else its generator, else None."""
    model = unwrap(model)
    ema = getattr(model, 'generator_ema', None)
    gen = getattr(ema, 'module', None) or getattr(model, 'generator', None)
    gen = unwrap(gen) if gen is not None else None
    return gen if gen is not None and hasattr(gen, 'warp') else None


@HOOKS.register_module()
class StructureHealthHook(Hook):
    """Warns when the correspondence maps of different structure codes stop differing (in C^w grid pixels).

    From iteration ``check_after`` on (set it to the end of the warm-ups),
    every ``interval`` iterations it measures the spread and logs a warning
    if it is below ``min_spread_px``: the warper then gives (nearly) the same
    correspondence map to every structure code, and dense correspondence
    cannot emerge.

    The spread: with ``num_codes`` (default 64), the per-pixel RMS spread of
    C^w over that many fixed structure codes (``seed``) of the EMA generator
    (the model's generator if it keeps no EMA), logged at every check; the
    same measure as ``tools/analysis_tools/structure_spread.py``. With
    ``num_codes=None``, the mean of the last ``window`` logged
    ``structure_spread_px`` values of the training batch instead, which is
    cheaper but noisy: a batch of 4 holds only 2 structure codes (the
    texture-swap pairs share theirs), so it reads low and swings by a
    factor of 2-3 between iterations.
    """

    priority = 'LOW'

    def __init__(self,
                 check_after: int = 20000,
                 interval: int = 1000,
                 window: int = 100,
                 min_spread_px: float = 0.5,
                 num_codes: Optional[int] = 64,
                 seed: int = 0):
        if interval < 1 or window < 1:
            raise ValueError(f'StructureHealthHook: interval and window must '
                             f'be >= 1, got {interval} and {window}')
        if not min_spread_px >= 0:
            raise ValueError(f'StructureHealthHook: min_spread_px must be >= '
                             f'0, got {min_spread_px}')
        if num_codes is not None and num_codes < 2:
            raise ValueError(f'StructureHealthHook: num_codes must be >= 2 '
                             f'or None, got {num_codes}')
        self.check_after = int(check_after)
        self.interval = int(interval)
        self.min_spread_px = float(min_spread_px)
        self.num_codes = num_codes
        self.seed = int(seed)
        self.values = deque(maxlen=int(window))
        self.num_warnings = 0
        self.spreads = []  # (iteration, spread px) of every check

    def measure(self, runner) -> Optional[Tuple[float, str]]:
        """(spread in C^w grid pixels now, where it comes from); None if there is nothing to measure."""
        gen = (averaged_generator(runner.model)
               if self.num_codes is not None else None)
        if gen is None:
            if not self.values:
                return None
            return (sum(self.values) / len(self.values),
                    f'on average over the last {len(self.values)} training '
                    'batches')
        with torch.no_grad():
            spread = generator_spread(gen, num=self.num_codes,
                                      batch_size=self.num_codes,
                                      seed=self.seed)
        return (spread * (gen.grid_size - 1) / 2,
                f'over {self.num_codes} fixed structure codes')

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        if outputs and SPREAD_KEY in outputs:
            self.values.append(float(outputs[SPREAD_KEY]))
        it = runner.iter + 1
        if it < self.check_after or it % self.interval:
            return
        measured = self.measure(runner)
        if measured is None:
            return
        spread, source = measured
        self.spreads.append((it, spread))
        if spread >= self.min_spread_px:
            print_log(f'structure branch at iteration {it}: the '
                      f'correspondence maps differ by {spread:.3f} px '
                      f'{source} (warning below {self.min_spread_px} px)',
                      logger='current', level=logging.INFO)
            return
        self.num_warnings += 1
        print_log(
            f'structure branch looks collapsed: the correspondence maps '
            f'of different structure codes differ by {spread:.3f} px '
            f'{source} (< {self.min_spread_px} px) at iteration {it}, after '
            'the warm-ups; dense correspondence is not emerging (see '
            'docs/training.md)', logger='current', level=logging.WARNING)
