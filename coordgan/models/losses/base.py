"""The loss kind: a weighted, optionally warmed-up term of a training objective."""
from typing import Optional

import torch.nn as nn

from .ramps import check_ramp, ramp_factor


class BaseLoss(nn.Module):
    """A loss with ``loss_weight`` and a warm-up ``ramp`` (see :func:`ramp_factor`).

    ``forward`` returns the unweighted loss; :meth:`weight_at` gives the
    weight to multiply it by at a given iteration, so the schedule of every
    loss is computed by the one function in ``ramps.py``.
    """

    def __init__(self, loss_weight: float = 1.0, ramp: Optional[dict] = None):
        super().__init__()
        check_ramp(ramp)
        self.loss_weight = float(loss_weight)
        self.ramp = None if ramp is None else dict(ramp)

    def weight_at(self, iteration: int) -> float:
        """Weight at ``iteration``: ``loss_weight * ramp_factor(ramp, iteration)``."""
        return self.loss_weight * ramp_factor(self.ramp, iteration)

    def extra_repr(self) -> str:
        return f'loss_weight={self.loss_weight}, ramp={self.ramp}'
