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


def resampled_grid(grid_size: int, size: int,
                   device: Optional[torch.device] = None,
                   dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(1, 2, size, size): where the pixel centres of a ``size``-pixel image fall in a ``grid_size``-point canonical frame.

    The ``grid_size`` points of :func:`canonical_grid` sit at the centres of
    the pixels of a ``grid_size``-pixel image; the same image cut into
    ``size`` pixels per side has its centres at grid positions
    ``(j + 0.5) * grid_size / size - 0.5``, mapped to canonical units the
    way the grid is. ``size == grid_size`` gives :func:`canonical_grid`;
    a larger ``size`` samples between the points (a warper is a function of
    canonical position, so it can be read at any of them) and runs slightly
    past [-1, 1] at the borders, where the outer pixels' centres lie.
    """
    if grid_size < 2 or size < 1:
        raise ValueError(f'resampled_grid needs grid_size >= 2 and size >= 1, '
                         f'got {grid_size} and {size}')
    if size == grid_size:
        return canonical_grid(size, device, dtype)
    pos = ((torch.arange(size, device=device, dtype=torch.float64) + 0.5) *
           grid_size / size - 0.5)
    lin = (pos * 2 / (grid_size - 1) - 1).to(dtype)
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
