"""Adversarial losses of the image D and the patch co-occurrence D, and their lazy R1 penalties."""
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import is_model_wrapper

from coordgan.registry import LOSSES
from .base import BaseLoss, StepOutputs


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


def _raw(module: nn.Module) -> nn.Module:
    return module.module if is_model_wrapper(module) else module


def patch_logits(patch_d: nn.Module, targets: torch.Tensor,
                 references: torch.Tensor,
                 rng: Optional[torch.Generator]) -> torch.Tensor:
    """Crops of ``targets`` classified against crops of ``references`` (same index) by the patch D."""
    net = _raw(patch_d)
    return patch_d(net.sample_crops(targets, net.num_target_crops, rng),
                   net.sample_crops(references, net.num_ref_crops, rng))


class AdversarialLoss(BaseLoss):
    """A non-saturating logistic GAN term: a G side and a D side.

    In the discriminator step the weight follows ``step.d_loss_weighting``:
    ``'as_generator'`` (the authors' code) uses this term's own weight and
    warm-up, and a term whose weight is 0 is not computed; ``'unit'`` (the
    paper) weighs it 1 throughout.
    """

    phases = ('generator', 'discriminator')

    def generator_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return generator_nonsaturating_loss(fake_logits)

    def discriminator_loss(self, real_logits: torch.Tensor,
                           fake_logits: torch.Tensor) -> torch.Tensor:
        return discriminator_logistic_loss(real_logits, fake_logits)

    forward = generator_loss

    def phase_weight(self, phase: str, step: StepOutputs) -> float:
        if (phase == 'discriminator'
                and step.get('d_loss_weighting', 'as_generator') == 'unit'):
            return 1.0
        return super().phase_weight(phase, step)

    def active(self, phase: str, step: StepOutputs) -> bool:
        return phase != 'discriminator' or self.phase_weight(phase, step) != 0


@LOSSES.register_module()
class GANLoss(AdversarialLoss):
    """The image D's term: G side on D(fake); D side on D(real) vs D(fake)."""

    def compute(self, phase: str, step: StepOutputs) -> torch.Tensor:
        d = step.discriminator
        if phase == 'generator':
            return self.generator_loss(d(step.fake.image))
        return self.discriminator_loss(d(step.real), d(step.fake.image))


@LOSSES.register_module()
class StructureSwapLoss(AdversarialLoss):
    """The patch co-occurrence D's term (REFERENCE.md sections 4-5).

    Crops of ``fake`` are the references. D side: crops of ``fake`` are
    "real" (same image as the reference), crops of ``struc_swap`` (same
    texture, other structure) are "fake". G side: crops of ``struc_swap``
    against references of ``fake`` detached, so G is pushed only through
    the swapped images.
    """

    def compute(self, phase: str, step: StepOutputs) -> torch.Tensor:
        patch_d, fake = step.patch_discriminator, step.fake.image
        if phase == 'generator':
            return self.generator_loss(
                patch_logits(patch_d, step.struc_swap, fake.detach(),
                             step.rng))
        n = fake.shape[0]
        logits = patch_logits(patch_d, torch.cat([fake, step.struc_swap]),
                              torch.cat([fake, fake]), step.rng)
        return self.discriminator_loss(logits[:n], logits[n:])


@LOSSES.register_module()
class R1Regularization(BaseLoss):
    """Lazy R1 of the image D on real images: ``gamma / 2 * ||grad||^2 * interval``.

    Runs every ``interval`` iterations from ``start``; ``loss_weight`` stays
    1, so the effective weight is ``gamma / 2 * interval`` (REFERENCE.md
    section 5). ``interval`` is also the lazy-regularisation interval of the
    optimizer that owns the regularised network: the optimizer constructor
    reads it from the model (:meth:`CoordGAN.regularization_interval`).
    """

    phases = ('regularizer',)
    # The model attribute of the network this penalty regularises.
    regularizes = 'discriminator'

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

    def is_due(self, iteration: int) -> bool:
        """Whether the penalty runs at ``iteration``."""
        return iteration >= self.start and iteration % self.interval == 0

    def active(self, phase: str, step: StepOutputs) -> bool:
        return self.is_due(int(step.iteration))

    def weight_at(self, iteration: int) -> float:
        return super().weight_at(iteration) * self.gamma / 2 * self.interval

    def forward(self, real_logits: torch.Tensor,
                inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        return r1_penalty(real_logits, inputs)

    def compute(self, phase: str, step: StepOutputs) -> torch.Tensor:
        real = step.real.detach().requires_grad_(True)
        logits = step.discriminator(real)
        # 0 * logits keeps every D parameter in the graph (DDP).
        return self(logits, [real]) + 0 * logits.mean()

    def extra_repr(self) -> str:
        return (f'gamma={self.gamma}, interval={self.interval}, '
                f'start={self.start}')


@LOSSES.register_module()
class PatchR1Regularization(R1Regularization):
    """Lazy R1 of the patch D on its "real" data: crops of the D step's fake images.

    The penalty is taken with respect to both the target and the reference
    crops (REFERENCE.md section 5: gamma 1, from iteration 10k).
    """

    regularizes = 'patch_discriminator'

    def __init__(self,
                 gamma: float = 1.0,
                 interval: int = 16,
                 start: int = 0,
                 ramp: Optional[dict] = None):
        super().__init__(gamma, interval, start, ramp)

    def compute(self, phase: str, step: StepOutputs) -> torch.Tensor:
        patch_d = step.patch_discriminator
        net, fake = _raw(patch_d), step.fake.image.detach()
        targets = net.sample_crops(fake, net.num_target_crops,
                                   step.rng).requires_grad_(True)
        refs = net.sample_crops(fake, net.num_ref_crops,
                                step.rng).requires_grad_(True)
        logits = patch_d(targets, refs)
        return self(logits, [targets, refs]) + 0 * logits.mean()
