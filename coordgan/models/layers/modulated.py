"""Layers of the modulated generator: styled convs, noise, ToRGB."""
import math
from typing import Optional, Sequence

import torch
import torch.nn as nn

from coordgan.ops import modulated_conv2d, upsample_blur_padding
from .blur import Blur, Upsample
from .equalized import BiasLeakyReLU, EqualLinear


class ModulatedConv2d(nn.Module):
    """Conv whose weight is scaled per sample by ``affine(w)`` and optionally demodulated.

    ``upsample`` uses a stride-2 transposed conv followed by a [1,3,3,1] blur
    of gain 4 (output 2H x 2W). ``fused``: one grouped conv with per-sample
    weights (the authors' form) instead of scaling the activations around a
    shared-weight conv (faster on a CPU); the same function
    (``coordgan.ops.modulated_conv2d``).
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: int,
                 style_dim: int,
                 demodulate: bool = True,
                 upsample: bool = False,
                 blur_kernel: Sequence[float] = (1, 3, 3, 1),
                 fused: bool = False):
        super().__init__()
        self.fused = fused
        self.weight = nn.Parameter(
            torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.scale = 1.0 / math.sqrt(in_channels * kernel_size**2)
        self.modulation = EqualLinear(style_dim, in_channels, bias_init=1.0)
        self.demodulate = demodulate
        self.upsample = upsample
        self.padding = 0 if upsample else kernel_size // 2
        self.blur = Blur(
            blur_kernel,
            upsample_blur_padding(len(blur_kernel), kernel_size),
            gain=4.0) if upsample else None

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """(B, I, H, W), (B, style_dim) -> (B, O, H, W) or (B, O, 2H, 2W)."""
        out = modulated_conv2d(x, self.weight * self.scale, self.modulation(w),
                               demodulate=self.demodulate,
                               padding=self.padding, upsample=self.upsample,
                               fused=self.fused)
        return out if self.blur is None else self.blur(out)

    def extra_repr(self) -> str:
        o, i, k, _ = self.weight.shape
        return (f'{i}, {o}, kernel_size={k}, demodulate={self.demodulate}, '
                f'upsample={self.upsample}, fused={self.fused}')


class NoiseInjection(nn.Module):
    """Adds ``weight * N(0, 1)`` noise of shape (B, 1, H, W); weight init 0."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor,
                noise: Optional[torch.Tensor] = None) -> torch.Tensor:
        if noise is None:
            b, _, h, w = x.shape
            noise = x.new_empty(b, 1, h, w).normal_()
        return x + self.weight * noise


class StyledConv(nn.Module):
    """Modulated conv -> noise injection (unless ``use_noise=False``) -> bias + leaky ReLU."""

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: int,
                 style_dim: int,
                 upsample: bool = False,
                 demodulate: bool = True,
                 blur_kernel: Sequence[float] = (1, 3, 3, 1),
                 use_noise: bool = True,
                 fused: bool = False):
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, kernel_size,
                                    style_dim, demodulate=demodulate,
                                    upsample=upsample, blur_kernel=blur_kernel,
                                    fused=fused)
        self.noise = NoiseInjection() if use_noise else None
        self.activate = BiasLeakyReLU(out_channels)

    def forward(self,
                x: torch.Tensor,
                w: torch.Tensor,
                noise: Optional[torch.Tensor] = None) -> torch.Tensor:
        x = self.conv(x, w)
        if self.noise is not None:
            x = self.noise(x, noise)
        return self.activate(x)


class ToRGB(nn.Module):
    """1x1 modulated conv to RGB without demodulation, + bias, + (upsampled) skip."""

    def __init__(self,
                 in_channels: int,
                 style_dim: int,
                 upsample: bool = False,
                 out_channels: int = 3,
                 blur_kernel: Sequence[float] = (1, 3, 3, 1),
                 fused: bool = False):
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, 1, style_dim,
                                    demodulate=False, fused=fused)
        self.bias = nn.Parameter(torch.zeros(1, out_channels, 1, 1))
        self.upsample = Upsample(blur_kernel) if upsample else None

    def forward(self,
                x: torch.Tensor,
                w: torch.Tensor,
                skip: Optional[torch.Tensor] = None) -> torch.Tensor:
        out = self.conv(x, w) + self.bias
        if skip is not None:
            if self.upsample is not None:
                skip = self.upsample(skip)
            out = out + skip
        return out
