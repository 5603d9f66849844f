"""CoordGAN's encoder (stage 2): residual trunk, structure head, W+ texture head."""
from typing import Sequence

import torch
import torch.nn as nn

from coordgan.registry import ENCODERS
from ..layers import ConvLayer, EqualLinear, ResBlock
from .base import BaseEncoder, EncoderOutput


@ENCODERS.register_module()
class CoordGANEncoder(BaseEncoder):
    """(B, 3, S, S) -> w_s (B, style_dim) and W+ (B, num_latents, style_dim).

    Trunk: 1x1 from-RGB then residual down blocks with reflection padding
    and a [1, 2, 1] blur (128 -> 8 with four blocks). Structure head: 1x1
    conv + activation, 1x1 conv to ``structure_channels``, flatten, linear.
    Texture head: stride-2 3x3 conv layers, global average pool, one linear
    per W+ slot.
    """

    def __init__(self,
                 in_size: int = 128,
                 style_dim: int = 512,
                 num_latents: int = 12,
                 stem_channels: int = 32,
                 channels: Sequence[int] = (64, 128, 256, 512),
                 structure_channels: int = 64,
                 texture_channels: Sequence[int] = (1024, 2048),
                 blur_kernel: Sequence[float] = (1, 2, 1)):
        super().__init__()
        feat_size = in_size // 2**len(channels)
        if feat_size < 1 or in_size % 2**len(channels):
            raise ValueError(f'in_size={in_size} must be divisible by '
                             f'2**{len(channels)} (one halving per block)')
        if feat_size < 2**(len(texture_channels) + 1):
            # Reflection padding needs every texture conv input >= 4 pixels.
            raise ValueError(
                f'in_size={in_size} leaves a {feat_size}x{feat_size} feature '
                f'map, too small for {len(texture_channels)} stride-2 texture '
                f'convs; use fewer trunk blocks or a larger in_size')
        self.in_size = in_size
        self.num_latents = num_latents
        pad = dict(padding_mode='reflect')
        trunk = [ConvLayer(3, stem_channels, 1, **pad)]
        for cin, cout in zip([stem_channels, *channels[:-1]], channels):
            trunk.append(ResBlock(cin, cout, blur_kernel, **pad))
        self.trunk = nn.Sequential(*trunk)
        top = channels[-1]
        self.structure_head = nn.Sequential(
            ConvLayer(top, top, 1, **pad),
            ConvLayer(top, structure_channels, 1, activate=False, **pad),
            nn.Flatten(1),
            EqualLinear(structure_channels * feat_size**2, style_dim))
        tex = []
        for cin, cout in zip([top, *texture_channels[:-1]], texture_channels):
            tex.append(
                ConvLayer(cin, cout, 3, downsample=True,
                          blur_kernel=blur_kernel, **pad))
        self.texture_trunk = nn.Sequential(*tex)
        self.texture_heads = nn.ModuleList(
            EqualLinear(texture_channels[-1], style_dim)
            for _ in range(num_latents))

    def forward(self, img: torch.Tensor) -> EncoderOutput:
        if img.shape[-2:] != (self.in_size, self.in_size):
            raise ValueError(f'{type(self).__name__} expects (B, 3, '
                             f'{self.in_size}, {self.in_size}) images, got '
                             f'{tuple(img.shape)}')
        feat = self.trunk(img)
        w_s = self.structure_head(feat)
        tex = self.texture_trunk(feat).mean(dim=(2, 3))
        w_plus = torch.stack([head(tex) for head in self.texture_heads], 1)
        return EncoderOutput(w_s, w_plus)
