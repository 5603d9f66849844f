"""StyleGAN2's residual image discriminator."""
import math
from typing import Dict, Optional, Sequence

import torch
import torch.nn as nn

from coordgan.ops import minibatch_stddev
from coordgan.registry import DISCRIMINATORS
from ..layers import ConvLayer, EqualLinear, ResBlock
from .base import BaseDiscriminator

# StyleGAN2 widths by resolution (channel multiplier 2).
DEFAULT_CHANNELS = {
    4: 512, 8: 512, 16: 512, 32: 512, 64: 512, 128: 256, 256: 128, 512: 64
}


@DISCRIMINATORS.register_module()
class StyleGAN2Discriminator(BaseDiscriminator):
    """(B, 3, S, S) -> (B, 1): from-RGB, residual down blocks to 4x4, minibatch std, conv, 2 linears.

    ``channels`` maps resolution -> width (defaults to StyleGAN2's);
    ``channel_scale`` multiplies every width (tiny test models).
    """

    def __init__(self,
                 in_size: int = 128,
                 channels: Optional[Dict[int, int]] = None,
                 channel_scale: float = 1.0,
                 stddev_group: int = 4,
                 blur_kernel: Sequence[float] = (1, 3, 3, 1)):
        super().__init__()
        log_size = int(math.log2(in_size))
        if in_size < 8 or 2**log_size != in_size:
            raise ValueError(f'in_size must be a power of 2 >= 8, got {in_size}')
        table = dict(DEFAULT_CHANNELS, **(channels or {}))
        missing = [2**i for i in range(2, log_size + 1) if 2**i not in table]
        if missing:
            raise ValueError(f'channels has no width for resolutions {missing}')
        ch = {r: max(1, int(c * channel_scale)) for r, c in table.items()}
        self.in_size = in_size
        self.stddev_group = stddev_group

        blocks = [ConvLayer(3, ch[in_size], 1)]
        for i in range(log_size, 2, -1):
            blocks.append(ResBlock(ch[2**i], ch[2**(i - 1)], blur_kernel))
        self.convs = nn.Sequential(*blocks)
        self.final_conv = ConvLayer(ch[4] + 1, ch[4], 3)
        self.final_linear = nn.Sequential(
            EqualLinear(ch[4] * 16, ch[4], activation=True),
            EqualLinear(ch[4], 1))

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        if img.shape[-2:] != (self.in_size, self.in_size):
            raise ValueError(f'{type(self).__name__} expects (B, 3, '
                             f'{self.in_size}, {self.in_size}) images, got '
                             f'{tuple(img.shape)}')
        x = minibatch_stddev(self.convs(img), self.stddev_group)
        x = self.final_conv(x)
        return self.final_linear(x.flatten(1))
