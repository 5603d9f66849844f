"""A loss of your own: keep C^w smooth by penalising differences between neighbouring points.

docs/adding_a_loss.md walks through this file; tests/test_custom_imports.py
loads it through ``custom_imports`` exactly as a user's config would. No
edit to the package: the training step runs every configured loss of its
phase.
"""
import torch

from coordgan.models.losses import BaseLoss
from coordgan.registry import LOSSES


@LOSSES.register_module()
class CorrSmoothnessLoss(BaseLoss):
    """Mean squared difference of C^w between horizontal and vertical neighbours."""

    phases = ('generator',)  # the G step; its outputs are read below

    def forward(self, corr_map: torch.Tensor) -> torch.Tensor:
        """C^w (B, 2, H, W) -> scalar."""
        dx = corr_map[..., :, 1:] - corr_map[..., :, :-1]
        dy = corr_map[..., 1:, :] - corr_map[..., :-1, :]
        return dx.pow(2).mean() + dy.pow(2).mean()

    def compute(self, phase, step):
        return self(step.fake.corr_map)
