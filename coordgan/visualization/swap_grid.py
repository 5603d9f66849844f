"""Pictures of a structure/texture generator: colour-coded correspondence maps and swap grids."""
import math
from typing import Optional

import torch
import torch.nn.functional as F

from coordgan.models.generators import BaseGenerator
from coordgan.ops import canonical_grid


def coords_to_rgb(corr_map: torch.Tensor) -> torch.Tensor:
    """(B, 2, H, W) coordinates in [-1, 1] -> (B, 3, H, W) colours in [0, 1]: x red, y green, blue falling along both.

    The fixed colouring of the canonical frame (docs/visualization.md):
    ``RGB = ((x + 1) / 2, (y + 1) / 2, 1 - (x + y + 2) / 4)``, coordinates
    clamped to [-1, 1] first.
    """
    xy = (corr_map.clamp(-1, 1) + 1) / 2
    return torch.cat([xy, 1 - xy.mean(dim=1, keepdim=True)], dim=1)


def panel_side(size: int, panel_size: int) -> int:
    """Smallest multiple of ``size`` that is >= ``panel_size`` (an integer enlargement)."""
    if size < 1:
        raise ValueError(f'panel: image size must be >= 1, got {size}')
    return size * max(1, math.ceil(panel_size / size))


def to_unit(image: torch.Tensor) -> torch.Tensor:
    """Generator output in [-1, 1] -> [0, 1]."""
    return ((image + 1) / 2).clamp(0, 1)


def _enlarge(tiles: torch.Tensor, panel_size: Optional[int]) -> torch.Tensor:
    """(..., S, S) -> (..., P, P) by pixel replication, P the smallest multiple of S >= ``panel_size``."""
    if panel_size is None:
        return tiles
    factor = panel_side(tiles.shape[-1], panel_size) // tiles.shape[-1]
    return tiles.repeat_interleave(factor, -1).repeat_interleave(factor, -2)


def _tile(tiles: torch.Tensor) -> torch.Tensor:
    """(R, C, 3, P, P) panels -> (3, R*P, C*P) image."""
    rows, cols, _, side, _ = tiles.shape
    return tiles.permute(2, 0, 3, 1, 4).reshape(3, rows * side, cols * side)


def _maps_to_rgb(corr_map: torch.Tensor, size: int) -> torch.Tensor:
    """(B, 2, G, G) C^w -> (B, 3, size, size) canonical-frame colours, nearest-resized to the image size."""
    return F.interpolate(coords_to_rgb(corr_map), size=(size, size),
                         mode='nearest')


@torch.no_grad()
def swap_grid(generator: BaseGenerator,
              z_s: torch.Tensor,
              z_t: torch.Tensor,
              panel_size: Optional[int] = None) -> torch.Tensor:
    """(R, z) structures, (C, z) textures -> (3, R*S, (C+1)*S) image in [0, 1].

    Row r renders structure r with every texture (so a row must keep its
    layout); column c keeps texture c; the first column shows structure r's
    correspondence map, colour-coded. With ``panel_size`` every panel is
    enlarged by pixel replication to the smallest multiple of the image size
    that is at least ``panel_size`` (as in the propagation figures), so small
    images stay legible; by default S is the generator's output size.
    """
    rows, cols = z_s.shape[0], z_t.shape[0]
    z_s_all = z_s.repeat_interleave(cols, dim=0)
    z_t_all = z_t.repeat(rows, 1)
    out = generator(z_s_all, z_t_all)
    size = out.image.shape[-1]
    images = to_unit(out.image).reshape(rows, cols, 3, size, size)
    maps = _maps_to_rgb(out.corr_map[::cols], size)
    tiles = torch.cat([maps[:, None], images], dim=1)  # (R, C+1, 3, S, S)
    return _tile(_enlarge(tiles, panel_size))


@torch.no_grad()
def structure_swap_grid(generator: BaseGenerator,
                        z_s: torch.Tensor,
                        z_t: torch.Tensor,
                        panel_size: Optional[int] = None) -> torch.Tensor:
    """(C, z) structures, (R, z) textures -> (3, (R+1)*S, C*S) image in [0, 1].

    The transpose of :func:`swap_grid`: row r keeps texture r (so a row
    must keep its appearance), column c keeps structure c, and the top row
    shows structure c's correspondence map, colour-coded. ``panel_size``
    enlarges panels as in :func:`swap_grid`.
    """
    cols, rows = z_s.shape[0], z_t.shape[0]
    out = generator(z_s.repeat(rows, 1), z_t.repeat_interleave(cols, dim=0))
    size = out.image.shape[-1]
    images = to_unit(out.image).reshape(rows, cols, 3, size, size)
    maps = _maps_to_rgb(out.corr_map[:cols], size)
    tiles = torch.cat([maps[None], images], dim=0)  # (R+1, C, 3, S, S)
    return _tile(_enlarge(tiles, panel_size))


@torch.no_grad()
def correspondence_grid(generator: BaseGenerator,
                        z_s: torch.Tensor,
                        z_t: torch.Tensor,
                        panel_size: Optional[int] = None) -> torch.Tensor:
    """(N, z) structures and textures, pairwise -> (3, 2*S, N*S) image in [0, 1].

    Column n is sample n: its image on top, its correspondence map C^w
    below, colour-coded by :func:`coords_to_rgb` (nearest-resized from the
    G x G map to the image size). Equal colours in two columns mark points
    the generator placed at the same canonical position.
    """
    out = generator(z_s, z_t)
    size = out.image.shape[-1]
    tiles = torch.stack([to_unit(out.image), _maps_to_rgb(out.corr_map,
                                                          size)])
    return _tile(_enlarge(tiles, panel_size))


def canonical_frame_legend(size: int = 256) -> torch.Tensor:
    """(3, size, size) colours in [0, 1] of the canonical frame itself: the key to every colour-coded C^w.

    Pixel (i, j) is the canonical point x = -1 + 2 j / (size - 1),
    y = -1 + 2 i / (size - 1) (:func:`coordgan.ops.canonical_grid`), coloured
    by :func:`coords_to_rgb`.
    """
    if size < 2:
        raise ValueError(f'legend size must be >= 2, got {size}')
    return coords_to_rgb(canonical_grid(size))[0]
