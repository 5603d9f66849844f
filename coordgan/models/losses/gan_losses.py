"""Non-saturating logistic GAN losses and the R1 penalty."""
from typing import Optional, Sequence

import torch
import torch.nn.functional as F

from coordgan.registry import LOSSES
from .base import BaseLoss


def generator_nonsaturating_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """mean(-log sigmoid(D(fake)))."""
    return F.softplus(-fake_logits).mean()


def discriminator_logistic_loss(real_logits: torch.Tensor,
                                fake_logits: torch.Tensor) -> torch.Tensor:
    """mean(-log sigmoid(D(real))) + mean(-log(1 - sigmoid(D(fake))))."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def r1_penalty(real_logits: torch.Tensor,
               inputs: Sequence[torch.Tensor]) -> torch.Tensor:
    """Mean over samples of ||d sum(D(x)) / dx||^2, summed over ``inputs`` (kept in the graph)."""
    grads = torch.autograd.grad(real_logits.sum(), list(inputs),
                                create_graph=True)
    return sum(g.pow(2).flatten(1).sum(1).mean() for g in grads)


@LOSSES.register_module()
class GANLoss(BaseLoss):
    """Non-saturating logistic GAN loss (image D, or patch D for the structure swap)."""

    def generator_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return generator_nonsaturating_loss(fake_logits)

    def discriminator_loss(self, real_logits: torch.Tensor,
                           fake_logits: torch.Tensor) -> torch.Tensor:
        return discriminator_logistic_loss(real_logits, fake_logits)

    forward = generator_loss


@LOSSES.register_module()
class R1Regularization(BaseLoss):
    """Lazy R1: ``gamma / 2 * ||grad||^2 * interval`` every ``interval`` iterations from ``start``.

    ``loss_weight`` stays 1; the effective weight is ``gamma / 2 * interval``
    (REFERENCE.md section 5).
    """

    def __init__(self,
                 gamma: float = 10.0,
                 interval: int = 16,
                 start: int = 0,
                 ramp: Optional[dict] = None):
        super().__init__(1.0, ramp)
        if interval < 1:
            raise ValueError(f'R1 interval must be >= 1, got {interval}')
        self.gamma = float(gamma)
        self.interval = int(interval)
        self.start = int(start)

    def active(self, iteration: int) -> bool:
        """Whether the penalty runs at ``iteration``."""
        return iteration >= self.start and iteration % self.interval == 0

    def weight_at(self, iteration: int) -> float:
        return super().weight_at(iteration) * self.gamma / 2 * self.interval

    def forward(self, real_logits: torch.Tensor,
                inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        return r1_penalty(real_logits, inputs)

    def extra_repr(self) -> str:
        return (f'gamma={self.gamma}, interval={self.interval}, '
                f'start={self.start}')
