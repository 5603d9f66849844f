"""A warper of your own: a global affine map of the canonical grid predicted from w_s.

The walkthrough in docs/adding_a_warper.md builds this file step by step;
tests/test_custom_imports.py loads it through ``custom_imports`` exactly as
a user's config would.
"""
import torch
import torch.nn as nn

from coordgan.models.warpers import BaseWarper
from coordgan.registry import WARPERS


@WARPERS.register_module()
class AffineWarper(BaseWarper):
    """C^w = tanh(A(w_s) [x, y, 1]^T): one 2x3 matrix per sample."""

    def __init__(self, style_dim: int = 512):
        super().__init__(style_dim)
        self.head = nn.Linear(style_dim, 6)
        # Start at the identity so early training sees the canonical frame.
        nn.init.zeros_(self.head.weight)
        with torch.no_grad():
            self.head.bias.copy_(torch.tensor([1., 0., 0., 0., 1., 0.]))

    def forward(self, w_s: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
        self.check_inputs(w_s, grid)
        theta = self.head(w_s).view(-1, 2, 3)
        b, (h, w) = w_s.shape[0], grid.shape[-2:]
        coords = grid.expand(b, -1, -1, -1).flatten(2)  # (B, 2, HW)
        ones = coords.new_ones(b, 1, h * w)
        warped = theta @ torch.cat([coords, ones], dim=1)
        return torch.tanh(warped).view(b, 2, h, w)
