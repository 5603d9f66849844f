"""Upsample, FIR-filter, downsample (StyleGAN2's upfirdn2d) in native PyTorch."""
from typing import Sequence, Tuple, Union

import torch
import torch.nn.functional as F


def make_blur_kernel(taps: Sequence[float], gain: float = 1.0) -> torch.Tensor:
    """Separable 1-D taps -> (k, k) kernel normalised to sum ``gain``."""
    k = torch.as_tensor(taps, dtype=torch.float32)
    if k.ndim != 1 or k.numel() < 1:
        raise ValueError(f'blur taps must be a non-empty 1-D sequence, got {taps!r}')
    k2 = k[None, :] * k[:, None]
    return k2 / k2.sum() * gain


def upfirdn2d(x: torch.Tensor,
              kernel: torch.Tensor,
              up: int = 1,
              down: int = 1,
              pad: Union[int, Tuple[int, int]] = (0, 0),
              padding_mode: str = 'zeros') -> torch.Tensor:
    """(B, C, H, W) -> zero-insert ``up``x, pad, correlate with flipped kernel, keep every ``down``th.

    Output side: (H * up + pad0 + pad1 - k) // down + 1. Padding is symmetric
    in x and y; negative pads crop. ``padding_mode='reflect'`` pads by
    reflection instead of zeros (the encoder's convention).
    """
    if isinstance(pad, int):
        pad = (pad, pad)
    b, c, h, w = x.shape
    kh, kw = kernel.shape
    if up > 1:
        x = x.reshape(b * c, 1, h, 1, w, 1)
        x = F.pad(x, (0, up - 1, 0, 0, 0, up - 1))
        x = x.reshape(b, c, h * up, w * up)
    p0, p1 = pad
    pos = (max(p0, 0), max(p1, 0), max(p0, 0), max(p1, 0))
    if any(pos):
        mode = 'reflect' if padding_mode == 'reflect' else 'constant'
        x = F.pad(x, pos, mode=mode)
    if p0 < 0 or p1 < 0:
        x = x[:, :, max(-p0, 0):x.shape[2] - max(-p1, 0),
              max(-p0, 0):x.shape[3] - max(-p1, 0)]
    # conv2d correlates; the filter is flipped to make it a convolution.
    weight = torch.flip(kernel, (0, 1)).to(x)[None, None].repeat(c, 1, 1, 1)
    x = F.conv2d(x, weight, groups=c)
    if down > 1:
        x = x[:, :, ::down, ::down]
    return x


def blur_padding(num_taps: int, kernel_size: int, down: int = 2) -> Tuple[int, int]:
    """Pads of the blur before a stride-``down`` conv of size ``kernel_size``."""
    p = (num_taps - down) + (kernel_size - 1)
    return (p + 1) // 2, p // 2


def upsample_blur_padding(num_taps: int, kernel_size: int, up: int = 2) -> Tuple[int, int]:
    """Pads of the blur after a stride-``up`` transposed conv of size ``kernel_size``."""
    p = (num_taps - up) - (kernel_size - 1)
    return (p + 1) // 2 + up - 1, p // 2 + 1


def upsample2d(x: torch.Tensor, kernel: torch.Tensor, factor: int = 2) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, H*f, W*f) FIR upsampling; ``kernel`` must sum to ``factor**2``."""
    p = kernel.shape[0] - factor
    return upfirdn2d(x, kernel, up=factor, pad=((p + 1) // 2 + factor - 1, p // 2))
