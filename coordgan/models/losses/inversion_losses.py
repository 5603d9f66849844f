"""The encoder stage's losses (REFERENCE.md section 7), as plug-ins of its ``'encoder'`` step.

The step (:meth:`CoordGANInversion.train_step`) provides ``real`` images,
their reconstruction ``rec`` = G(E(x)) and its C^w ``real_corr_map_enc``,
``swap`` = G(w_s, W+ of the pair partner), ``correspondence_map`` (images ->
C^w of their encoded structure codes, with gradient), and, for generated
samples (no gradient), ``sample`` (a ``GeneratorOutput``), ``sample_w_s``
(their structure codes), ``sample_w_s_enc`` (the encoder's) and
``sample_corr_map_enc`` (C^w of the encoder's codes), besides
``perceptual`` and ``iteration``.
"""
import math
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


@LOSSES.register_module()
class EquivarianceLoss(BaseLoss):
    """C^w of a moved real image should be C^w moved with it: |C^w(E(T x)) - T C^w(E(x))|.

    Not a term of the paper or the authors' code: an optional plug-in. T is
    a random similarity per image (rotation up to ``max_rotation`` radians,
    scale in ``[1 / max_scale, max_scale]``, shift up to ``max_shift`` in the
    [-1, 1] frame). The image of T x at pixel p is x at T(p), so the object
    point there has the canonical coordinate C^w(E(x)) read at T(p); points
    that T carries outside the picture are left out. An encoder whose maps
    are shrunk toward one fixed map (matches that move less than the
    objects) breaks this, where the reconstruction terms do not see it; a
    map that is one constant everywhere would satisfy it, so it goes with
    the other terms, never alone. The picture is resampled bilinearly with
    border padding. Reads ``real``, ``real_corr_map_enc``, ``rng`` and
    ``correspondence_map`` (images -> C^w through the encoder, with
    gradient) from the encoder step.
    """

    phases = ('encoder',)

    def __init__(self, loss_weight: float = 1.0,
                 max_rotation: float = 0.2,
                 max_scale: float = 1.1,
                 max_shift: float = 0.1,
                 ramp: Optional[dict] = None):
        super().__init__(loss_weight, ramp)
        if not 0 <= max_rotation <= math.pi:
            raise ValueError(f'max_rotation must be in [0, pi] radians, got '
                             f'{max_rotation}')
        if not 1 <= max_scale <= 2:
            raise ValueError(f'max_scale must be in [1, 2], got {max_scale}')
        if not 0 <= max_shift <= 1:
            raise ValueError(f'max_shift must be in [0, 1] (a fraction of the'
                             f' half-width), got {max_shift}')
        self.max_rotation = float(max_rotation)
        self.max_scale = float(max_scale)
        self.max_shift = float(max_shift)

    def sample_transforms(self, num: int, device: torch.device,
                          rng: Optional[torch.Generator] = None
                          ) -> torch.Tensor:
        """(num, 2, 3) affine matrices: output position p -> input position T(p), [-1, 1] frame."""
        u = torch.rand(num, 4, device=device, generator=rng) * 2 - 1
        angle = u[:, 0] * self.max_rotation
        scale = torch.exp(u[:, 1] * math.log(self.max_scale))
        cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
        shift = u[:, 2:] * self.max_shift
        return torch.stack([
            torch.stack([cos, -sin, shift[:, 0]], 1),
            torch.stack([sin, cos, shift[:, 1]], 1)
        ], 1)

    def forward(self, moved_map: torch.Tensor, corr_map: torch.Tensor,
                theta: torch.Tensor) -> torch.Tensor:
        """Mean |moved_map - corr_map read at T(p)| over points inside the picture."""
        grid = F.affine_grid(theta.to(corr_map.dtype), list(corr_map.shape),
                             align_corners=False)
        target = F.grid_sample(corr_map, grid, mode='bilinear',
                               padding_mode='border', align_corners=False)
        inside = (grid.abs() <= 1).all(-1).unsqueeze(1).to(corr_map.dtype)
        diff = (moved_map - target).abs() * inside
        return diff.sum() / (inside.sum() * corr_map.shape[1]).clamp(min=1)

    def compute(self, phase: str, step: StepOutputs) -> torch.Tensor:
        real = step.real
        theta = self.sample_transforms(real.shape[0], real.device, step.rng)
        grid = F.affine_grid(theta.to(real.dtype), list(real.shape),
                             align_corners=False)
        moved = F.grid_sample(real, grid, mode='bilinear',
                              padding_mode='border', align_corners=False)
        return self(step.correspondence_map(moved), step.real_corr_map_enc,
                    theta)

    def extra_repr(self) -> str:
        return (f'{super().extra_repr()}, max_rotation={self.max_rotation}, '
                f'max_scale={self.max_scale}, max_shift={self.max_shift}')
