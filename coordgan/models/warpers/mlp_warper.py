"""CoordGAN's coordinate warping network: a per-pixel MLP on [x, y, w_s]."""
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from coordgan.registry import WARPERS
from .base import BaseWarper


@WARPERS.register_module()
class MLPWarper(BaseWarper):
    """Per-pixel MLP [x, y, w_s] -> hidden -> ... -> 2, ReLU between layers, tanh at the end.

    Plain PyTorch (not equalised) layers, as in the paper. The first layer's
    weight acts on the concatenation [x, y, w_s]; it is applied as a
    coordinate part plus a per-sample code part so that the (B, H*W,
    2 + style_dim) input is never built.
    """

    def __init__(self,
                 style_dim: int = 512,
                 hidden_channels: Sequence[int] = (512, 512)):
        super().__init__(style_dim)
        dims = [2 + style_dim, *hidden_channels, 2]
        self.layers = nn.ModuleList(
            nn.Linear(i, o) for i, o in zip(dims[:-1], dims[1:]))

    def forward(self, w_s: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
        self.check_inputs(w_s, grid)
        b, (h, w) = w_s.shape[0], grid.shape[-2:]
        coords = grid.flatten(2).transpose(1, 2)  # (1|B, HW, 2)
        first = self.layers[0]
        x = F.linear(coords, first.weight[:, :2]) + F.linear(
            w_s, first.weight[:, 2:], first.bias)[:, None]
        for layer in self.layers[1:]:
            x = layer(torch.relu(x))
        return torch.tanh(x).transpose(1, 2).reshape(b, 2, h, w)
