"""The encoder stage's losses (REFERENCE.md section 7), as plug-ins of its ``'encoder'`` step.

The step (:meth:`CoordGANInversion.train_step`) provides ``real`` images,
their reconstruction ``rec`` = G(E(x)), ``swap`` = G(w_s, W+ of the pair
partner), and, for generated samples (no gradient), ``sample`` (a
``GeneratorOutput``), ``sample_w_s`` (their structure codes),
``sample_w_s_enc`` (the encoder's) and ``sample_corr_map_enc`` (C^w of the
encoder's codes), besides ``perceptual`` and ``iteration``.
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from coordgan.registry import LOSSES
from .base import BaseLoss, StepOutputs
from .coordgan_losses import ImageDistanceLoss

LATENT_NORMS = ('l1', 'l2')


@LOSSES.register_module()
class L1Distance(nn.Module):
    """Per-sample mean absolute difference: (B, ...) x2 -> (B,)."""

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (x - y).abs().flatten(1).mean(1)


@LOSSES.register_module()
class ReconstructionLoss(ImageDistanceLoss):
    """distance(G(E(x)), x): the shared LPIPS by default, or ``distance`` (e.g. ``L1Distance``)."""

    phases = ('encoder',)

    def __init__(self, loss_weight: float = 10.0,
                 ramp: Optional[dict] = None,
                 distance: Optional[dict] = None):
        super().__init__(loss_weight, ramp, distance)

    def compute(self, phase: str, step: StepOutputs) -> torch.Tensor:
        return self.image_distance(step.perceptual)(step.rec,
                                                    step.real).mean()


@LOSSES.register_module()
class InversionTextureSwapLoss(ImageDistanceLoss):
    """distance(G(w_s, W+ of the partner), x): the encoded structure must carry the picture's.

    The two images have different textures, so a distance blind to colour
    (``distance=dict(type='EdgeDistance')``) weighs what the term is for.
    """

    phases = ('encoder',)

    def __init__(self, loss_weight: float = 5.0,
                 ramp: Optional[dict] = None,
                 distance: Optional[dict] = None):
        super().__init__(loss_weight, ramp, distance)

    def compute(self, phase: str, step: StepOutputs) -> torch.Tensor:
        return self.image_distance(step.perceptual)(step.swap,
                                                    step.real).mean()


class LatentConsistencyLoss(BaseLoss):
    """The encoder's code of a generated image against the code that made it.

    ``norm='l1'`` (the authors' code) or ``'l2'`` (the paper: mean squared).
    """

    phases = ('encoder',)

    def __init__(self, loss_weight: float = 10.0, norm: str = 'l1',
                 ramp: Optional[dict] = None):
        super().__init__(loss_weight, ramp)
        if norm not in LATENT_NORMS:
            raise ValueError(f'{type(self).__name__} norm must be one of '
                             f'{LATENT_NORMS}, got {norm!r}')
        self.norm = norm

    def forward(self, predicted: torch.Tensor,
                target: torch.Tensor) -> torch.Tensor:
        if self.norm == 'l1':
            return F.l1_loss(predicted, target)
        return F.mse_loss(predicted, target)

    def extra_repr(self) -> str:
        return f'{super().extra_repr()}, norm={self.norm!r}'


@LOSSES.register_module()
class LatentCodeLoss(LatentConsistencyLoss):
    """|w_s,E - w_s| on generated samples."""

    def compute(self, phase: str, step: StepOutputs) -> torch.Tensor:
        return self(step.sample_w_s_enc, step.sample_w_s)


@LOSSES.register_module()
class LatentCoordsLoss(LatentConsistencyLoss):
    """|C^w(w_s,E) - C^w(w_s)| on generated samples."""

    def compute(self, phase: str, step: StepOutputs) -> torch.Tensor:
        return self(step.sample_corr_map_enc, step.sample.corr_map)
