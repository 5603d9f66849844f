"""Convolution layers and residual blocks of the discriminators and the encoder."""
import math
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn

from coordgan.ops import blur_padding
from .blur import Blur
from .equalized import BiasLeakyReLU, EqualConv2d

PADDING_MODES = ('zeros', 'reflect')


class ConvLayer(nn.Sequential):
    """[blur] + equalised conv (stride 2 if downsampling) + [bias + leaky ReLU].

    The conv has no bias when an activation follows: the activation carries
    it. ``padding_mode='reflect'`` pads by reflection (the encoder), both the
    conv's input and the blur's.

    Args:
        downsample: stride 2. With ``blur_kernel`` a blur (padded as in
            :func:`coordgan.ops.blur_padding`) comes first and the conv is
            unpadded; with ``blur_kernel=None`` the conv strides directly.
        padding: None for the default (``kernel_size // 2`` without
            downsampling, 0 after a blur, 0 for an unblurred strided conv),
            an int for all four sides, or ``(left, right, top, bottom)``
            (e.g. the encoder's ``(1, 0, 1, 0)``, top-left only).
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: int,
                 downsample: bool = False,
                 blur_kernel: Optional[Sequence[float]] = (1, 3, 3, 1),
                 bias: bool = True,
                 activate: bool = True,
                 padding: Union[int, Tuple[int, int, int, int], None] = None,
                 padding_mode: str = 'zeros'):
        if padding_mode not in PADDING_MODES:
            raise ValueError(f'padding_mode must be one of {PADDING_MODES}, '
                             f'got {padding_mode!r}')
        blur = downsample and blur_kernel is not None
        if blur and padding is not None:
            raise ValueError(
                f'padding={padding!r} cannot be combined with a downsampling '
                f'blur (its pads are fixed by the kernel sizes); pass '
                f'padding=None or blur_kernel=None')
        layers = []
        if blur:
            layers.append(
                Blur(blur_kernel, blur_padding(len(blur_kernel), kernel_size),
                     padding_mode=padding_mode))
        if padding is None:
            padding = 0 if downsample else kernel_size // 2
        if isinstance(padding, int):
            sides = (padding, ) * 4
        else:
            sides = tuple(padding)
            if len(sides) != 4 or min(sides) < 0:
                raise ValueError(f'padding must be an int or (left, right, '
                                 f'top, bottom) >= 0, got {padding!r}')
        conv_pad = 0
        if any(sides):
            if padding_mode == 'reflect':
                layers.append(nn.ReflectionPad2d(sides))
            elif len(set(sides)) > 1:
                layers.append(nn.ZeroPad2d(sides))
            else:
                conv_pad = sides[0]  # symmetric zeros: the conv pads itself
        layers.append(
            EqualConv2d(in_channels, out_channels, kernel_size,
                        stride=2 if downsample else 1, padding=conv_pad,
                        bias=bias and not activate))
        if activate:
            layers.append(BiasLeakyReLU(out_channels, bias=bias))
        super().__init__(*layers)


class ResBlock(nn.Module):
    """Residual down block: two 3x3 conv layers (second halves H, W), 1x1 skip; sum / sqrt(2).

    ``padding_mode`` pads the main path (both convs and the blur before the
    strided one); ``skip_padding_mode`` pads the skip's blur. The authors
    pad the skip blur with zeros everywhere, also in the encoder whose main
    path reflects (REFERENCE.md 7).
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 blur_kernel: Sequence[float] = (1, 3, 3, 1),
                 padding_mode: str = 'zeros',
                 skip_padding_mode: str = 'zeros'):
        super().__init__()
        self.conv1 = ConvLayer(in_channels, in_channels, 3,
                               padding_mode=padding_mode)
        self.conv2 = ConvLayer(in_channels, out_channels, 3, downsample=True,
                               blur_kernel=blur_kernel,
                               padding_mode=padding_mode)
        self.skip = ConvLayer(in_channels, out_channels, 1, downsample=True,
                              blur_kernel=blur_kernel, bias=False,
                              activate=False, padding_mode=skip_padding_mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.conv2(self.conv1(x)) + self.skip(x)) / math.sqrt(2.0)
