"""Equalised-learning-rate layers and the biased leaky ReLU (StyleGAN2 conventions)."""
import math
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

LRELU_SLOPE = 0.2
LRELU_GAIN = math.sqrt(2.0)


def bias_leaky_relu(x: torch.Tensor, bias: Optional[torch.Tensor]) -> torch.Tensor:
    """(B, C, ...) + bias (C,) -> leaky_relu(0.2) * sqrt(2)."""
    if bias is not None:
        x = x + bias.reshape(1, -1, *([1] * (x.ndim - 2)))
    return F.leaky_relu(x, LRELU_SLOPE) * LRELU_GAIN


class BiasLeakyReLU(nn.Module):
    """Per-channel bias (init 0), then leaky ReLU 0.2 with gain sqrt(2)."""

    def __init__(self, channels: int, bias: bool = True):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return bias_leaky_relu(x, self.bias)


class EqualLinear(nn.Module):
    """Linear layer with run-time weight scale ``lr_mul / sqrt(in)``.

    With ``activation``: bias, then leaky ReLU 0.2 with gain sqrt(2) (the
    "linear with activation" of StyleGAN2; same parameters).
    """

    def __init__(self,
                 in_features: int,
                 out_features: int,
                 bias: bool = True,
                 bias_init: float = 0.0,
                 lr_mul: float = 1.0,
                 activation: bool = False):
        super().__init__()
        self.weight = nn.Parameter(
            torch.randn(out_features, in_features).div_(lr_mul))
        self.bias = nn.Parameter(
            torch.full((out_features,), float(bias_init))) if bias else None
        self.scale = lr_mul / math.sqrt(in_features)
        self.lr_mul = lr_mul
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = None if self.bias is None else self.bias * self.lr_mul
        out = F.linear(x, self.weight * self.scale, bias)
        if self.activation:
            return F.leaky_relu(out, LRELU_SLOPE) * LRELU_GAIN
        return out

    def extra_repr(self) -> str:
        out_f, in_f = self.weight.shape
        return (f'{in_f}, {out_f}, lr_mul={self.lr_mul}, '
                f'activation={self.activation}')


class EqualConv2d(nn.Module):
    """Conv2d with run-time weight scale ``1 / sqrt(in * k * k)``."""

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: int,
                 stride: int = 1,
                 padding: int = 0,
                 bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(
            torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.scale = 1.0 / math.sqrt(in_channels * kernel_size**2)
        self.stride = stride
        self.padding = padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias,
                        stride=self.stride, padding=self.padding)

    def extra_repr(self) -> str:
        o, i, k, _ = self.weight.shape
        return (f'{i}, {o}, kernel_size={k}, stride={self.stride}, '
                f'padding={self.padding}, bias={self.bias is not None}')
