"""The canonical coordinate frame."""
from typing import Optional

import torch


def canonical_grid(size: int,
                   device: Optional[torch.device] = None,
                   dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(1, 2, size, size) grid in [-1, 1], both ends included; channel 0 = x (width), 1 = y."""
    lin = torch.linspace(-1.0, 1.0, size, device=device, dtype=dtype)
    y, x = torch.meshgrid(lin, lin, indexing='ij')
    return torch.stack([x, y])[None]


def coordinate_spread(maps: torch.Tensor) -> torch.Tensor:
    """(B, 2, H, W) coordinate maps -> scalar: per pixel, the RMS distance of the B maps from their mean, averaged over pixels.

    In the maps' units (canonical [-1, 1]); multiply by ``(W - 1) / 2`` for
    pixels of the grid. 0 when every map is the same (a collapsed structure
    branch); the true canonical maps of the embedded synthetic data spread
    by several pixels.
    """
    if maps.dim() != 4 or maps.shape[1] != 2:
        raise ValueError(f'expected (B, 2, H, W) coordinate maps, got '
                         f'{tuple(maps.shape)}')
    centred = maps - maps.mean(0, keepdim=True)
    return centred.square().sum(1).mean(0).sqrt().mean()
