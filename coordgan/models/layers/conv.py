"""Convolution layers and residual blocks of the discriminators and the encoder."""
import math
from typing import Sequence

import torch
import torch.nn as nn

from coordgan.ops import blur_padding
from .blur import Blur
from .equalized import BiasLeakyReLU, EqualConv2d


class ConvLayer(nn.Sequential):
    """[blur] + equalised conv (stride 2 if downsampling) + [bias + leaky ReLU].

    The conv has no bias when an activation follows: the activation carries
    it. ``padding_mode='reflect'`` pads by reflection (the encoder).
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: int,
                 downsample: bool = False,
                 blur_kernel: Sequence[float] = (1, 3, 3, 1),
                 bias: bool = True,
                 activate: bool = True,
                 padding: int = None,
                 padding_mode: str = 'zeros'):
        if padding_mode not in ('zeros', 'reflect'):
            raise ValueError(f"padding_mode must be 'zeros' or 'reflect', "
                             f'got {padding_mode!r}')
        layers = []
        if downsample:
            layers.append(
                Blur(blur_kernel, blur_padding(len(blur_kernel), kernel_size),
                     padding_mode=padding_mode))
            stride, pad = 2, 0
        else:
            stride = 1
            pad = kernel_size // 2 if padding is None else padding
        if pad and padding_mode == 'reflect':
            layers.append(nn.ReflectionPad2d(pad))
            pad = 0
        layers.append(
            EqualConv2d(in_channels, out_channels, kernel_size, stride=stride,
                        padding=pad, bias=bias and not activate))
        if activate:
            layers.append(BiasLeakyReLU(out_channels, bias=bias))
        super().__init__(*layers)


class ResBlock(nn.Module):
    """Residual down block: two 3x3 conv layers (second halves H, W), 1x1 skip; sum / sqrt(2)."""

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 blur_kernel: Sequence[float] = (1, 3, 3, 1),
                 padding_mode: str = 'zeros'):
        super().__init__()
        self.conv1 = ConvLayer(in_channels, in_channels, 3,
                               padding_mode=padding_mode)
        self.conv2 = ConvLayer(in_channels, out_channels, 3, downsample=True,
                               blur_kernel=blur_kernel,
                               padding_mode=padding_mode)
        self.skip = ConvLayer(in_channels, out_channels, 1, downsample=True,
                              blur_kernel=blur_kernel, bias=False,
                              activate=False, padding_mode=padding_mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.conv2(self.conv1(x)) + self.skip(x)) / math.sqrt(2.0)
