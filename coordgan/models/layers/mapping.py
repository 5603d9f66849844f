"""Mapping networks and the Fourier-feature input layer."""
import math

import torch
import torch.nn as nn

from .equalized import EqualLinear


class PixelNorm(nn.Module):
    """x / sqrt(mean(x^2 over dim 1) + 1e-8)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


class MappingNetwork(nn.Sequential):
    """(B, z_dim) -> (B, style_dim): PixelNorm + ``num_layers`` equalised linears with activation."""

    def __init__(self,
                 z_dim: int = 512,
                 style_dim: int = 512,
                 num_layers: int = 8,
                 lr_mul: float = 0.01):
        if num_layers < 1:
            raise ValueError(f'num_layers must be >= 1, got {num_layers}')
        layers = [PixelNorm()]
        for i in range(num_layers):
            layers.append(
                EqualLinear(z_dim if i == 0 else style_dim, style_dim,
                            lr_mul=lr_mul, activation=True))
        super().__init__(*layers)


class FourierFeatures(nn.Module):
    """(B, 2, H, W) coordinates -> (B, C, H, W): sin(1x1 conv), weight U(-b, b).

    ``b = scale * sqrt(9 / in_channels)``; ``scale=1`` is the paper's
    sqrt(9/2) for 2-D coordinates.
    """

    def __init__(self, in_channels: int = 2, out_channels: int = 512,
                 scale: float = 1.0):
        super().__init__()
        if not scale > 0:
            raise ValueError(f'FourierFeatures scale must be > 0, got {scale}')
        self.proj = nn.Conv2d(in_channels, out_channels, 1)
        bound = scale * math.sqrt(9.0 / in_channels)
        nn.init.uniform_(self.proj.weight, -bound, bound)

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        return torch.sin(self.proj(coords))
