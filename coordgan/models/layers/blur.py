"""FIR blur and upsampling modules around :func:`coordgan.ops.upfirdn2d`."""
from typing import Sequence, Tuple

import torch
import torch.nn as nn

from coordgan.ops import make_blur_kernel, upfirdn2d, upsample2d


class Blur(nn.Module):
    """Blur with a fixed separable kernel and explicit pads; ``gain`` scales the kernel sum."""

    def __init__(self,
                 taps: Sequence[float],
                 pad: Tuple[int, int],
                 gain: float = 1.0,
                 padding_mode: str = 'zeros'):
        super().__init__()
        self.register_buffer('kernel', make_blur_kernel(taps, gain),
                             persistent=False)
        self.pad = tuple(pad)
        self.padding_mode = padding_mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, pad=self.pad,
                         padding_mode=self.padding_mode)


class Upsample(nn.Module):
    """(B, C, H, W) -> (B, C, 2H, 2W) by zero insertion and a blur of gain 4."""

    def __init__(self, taps: Sequence[float] = (1, 3, 3, 1), factor: int = 2):
        super().__init__()
        self.factor = factor
        self.register_buffer('kernel', make_blur_kernel(taps, factor**2),
                             persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upsample2d(x, self.kernel, self.factor)
