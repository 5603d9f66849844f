"""CoordGAN's encoder (stage 2): residual trunk, structure head, W+ texture head."""
from typing import Sequence

import torch
import torch.nn as nn

from coordgan.registry import ENCODERS
from ..layers import ConvLayer, EqualLinear, ResBlock
from .base import BaseEncoder, EncoderOutput

PADDING_CONVENTIONS = ('authors', 'reflect')


@ENCODERS.register_module()
class CoordGANEncoder(BaseEncoder):
    """(B, 3, S, S) -> w_s (B, style_dim) and W+ (B, num_latents, style_dim).

    Trunk: 1x1 from-RGB then residual down blocks with a [1, 2, 1] blur
    (128 -> 8 with four blocks). Structure head: 1x1 conv + activation, 1x1
    conv to ``structure_channels``, flatten, linear. Texture head: stride-2
    3x3 conv layers, global average pool, one linear per W+ slot.

    Args:
        padding_convention: ``'authors'`` (default, the authors' network,
            REFERENCE.md 7): the main path of each residual block pads by
            reflection, its skip blur by zeros, and the texture convs run
            unblurred on an input zero-padded by one pixel at the top and
            left. ``'reflect'``: this library's earlier default, reflection
            for every pad including the skip blur, and texture convs after
            a reflection-padded blur. It is kept because both conventions
            have the same parameters under the same names: a checkpoint
            trained with the earlier default loads into either, but gives
            its trained outputs only with ``'reflect'``.
    """

    def __init__(self,
                 in_size: int = 128,
                 style_dim: int = 512,
                 num_latents: int = 12,
                 stem_channels: int = 32,
                 channels: Sequence[int] = (64, 128, 256, 512),
                 structure_channels: int = 64,
                 texture_channels: Sequence[int] = (1024, 2048),
                 blur_kernel: Sequence[float] = (1, 2, 1),
                 padding_convention: str = 'authors'):
        super().__init__()
        if padding_convention not in PADDING_CONVENTIONS:
            raise ValueError(
                f'CoordGANEncoder: padding_convention must be one of '
                f'{PADDING_CONVENTIONS}, got {padding_convention!r}')
        feat_size = in_size // 2**len(channels)
        if feat_size < 1 or in_size % 2**len(channels):
            raise ValueError(f'in_size={in_size} must be divisible by '
                             f'2**{len(channels)} (one halving per block)')
        authors = padding_convention == 'authors'
        num_tex = len(texture_channels)
        # Each texture conv halves its input (rounding down). The authors'
        # top-left zero pad works for any input >= 2 pixels. The blur of
        # 'reflect' pads 2 pixels by reflection, which must be smaller than
        # the side; its earlier bound (inputs >= 4) is kept unchanged.
        min_feat = 2**num_tex if authors else 2**(num_tex + 1)
        if feat_size < min_feat:
            raise ValueError(
                f'in_size={in_size} leaves a {feat_size}x{feat_size} feature '
                f'map, too small for {num_tex} stride-2 texture convs with '
                f'padding_convention={padding_convention!r} (needs at least '
                f'{min_feat}x{min_feat}); use fewer trunk blocks or a larger '
                f'in_size')
        self.in_size = in_size
        self.num_latents = num_latents
        self.padding_convention = padding_convention
        pad = dict(padding_mode='reflect')
        skip_pad = 'zeros' if authors else 'reflect'
        trunk = [ConvLayer(3, stem_channels, 1, **pad)]
        for cin, cout in zip([stem_channels, *channels[:-1]], channels):
            trunk.append(
                ResBlock(cin, cout, blur_kernel, skip_padding_mode=skip_pad,
                         **pad))
        self.trunk = nn.Sequential(*trunk)
        top = channels[-1]
        self.structure_head = nn.Sequential(
            ConvLayer(top, top, 1, **pad),
            ConvLayer(top, structure_channels, 1, activate=False, **pad),
            nn.Flatten(1),
            EqualLinear(structure_channels * feat_size**2, style_dim))
        # Either way the conv is layer 1 and the activation layer 2 (the
        # zero pad and the blur hold no state), so the names match.
        if authors:
            tex_kwargs = dict(blur_kernel=None, padding=(1, 0, 1, 0))
        else:
            tex_kwargs = dict(blur_kernel=blur_kernel, **pad)
        tex = []
        for cin, cout in zip([top, *texture_channels[:-1]], texture_channels):
            tex.append(ConvLayer(cin, cout, 3, downsample=True, **tex_kwargs))
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
