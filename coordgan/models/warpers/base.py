"""The warper kind: structure code -> warped coordinate map."""
from abc import ABCMeta, abstractmethod
from typing import Sequence

import torch
import torch.nn as nn


class BaseWarper(nn.Module, metaclass=ABCMeta):
    """Maps a structure code and the canonical grid to a correspondence map.

    Subclasses implement :meth:`forward`: ``w_s`` (B, style_dim) and ``grid``
    (1 or B, 2, H, W) in [-1, 1] -> C^w (B, 2, H, W) in [-1, 1], channel 0 = x.
    """

    def __init__(self, style_dim: int = 512):
        super().__init__()
        self.style_dim = style_dim

    @abstractmethod
    def forward(self, w_s: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
        """(B, style_dim), (1|B, 2, H, W) -> (B, 2, H, W) in [-1, 1]."""

    def check_inputs(self, w_s: torch.Tensor, grid: torch.Tensor) -> None:
        """Raise a ValueError naming the argument whose shape is wrong."""
        if w_s.ndim != 2 or w_s.shape[1] != self.style_dim:
            raise ValueError(f'{type(self).__name__}: w_s must be (B, '
                             f'{self.style_dim}), got {tuple(w_s.shape)}')
        if grid.ndim != 4 or grid.shape[1] != 2 or grid.shape[0] not in (
                1, w_s.shape[0]):
            raise ValueError(f'{type(self).__name__}: grid must be (1 or '
                             f'{w_s.shape[0]}, 2, H, W), got '
                             f'{tuple(grid.shape)}')


def zero_init_head(in_channels: int, hidden_channels: Sequence[int],
                   out_channels: int, init_std: float = 0.0) -> nn.Sequential:
    """MLP (B, in_channels) -> (B, out_channels), ReLU between layers, last layer all zeros.

    Parametric warpers predict a change from the identity; a zero last layer
    makes that change exactly 0 at initialisation, so training starts from
    the canonical grid itself. Plain PyTorch init elsewhere, like the MLP
    warper's.

    ``init_std > 0`` draws the last layer's weight from N(0, init_std^2)
    instead (its bias stays 0): every code then starts at its own small
    change from the identity. With an all-zero layer all codes start at one
    map and the gradients that would tell them apart are equal, so the
    warper can stay at the identity (docs/variants.md).
    """
    if init_std < 0:
        raise ValueError(f'init_std must be >= 0, got {init_std}')
    dims = [in_channels, *hidden_channels, out_channels]
    layers = []
    for i, o in zip(dims[:-1], dims[1:]):
        layers += [nn.Linear(i, o), nn.ReLU()]
    head = nn.Sequential(*layers[:-1])
    if init_std > 0:
        nn.init.normal_(head[-1].weight, std=init_std)
    else:
        nn.init.zeros_(head[-1].weight)
    nn.init.zeros_(head[-1].bias)
    return head
