"""Pictures of a structure/texture generator: colour-coded correspondence maps and swap grids."""
import math
from typing import Optional

import torch
import torch.nn.functional as F

from coordgan.models.generators import BaseGenerator


def coords_to_rgb(corr_map: torch.Tensor) -> torch.Tensor:
    """(B, 2, H, W) coordinates in [-1, 1] -> (B, 3, H, W) colours in [0, 1]: x red, y green, blue falling along both."""
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
    maps = coords_to_rgb(out.corr_map[::cols])
    maps = F.interpolate(maps, size=(size, size), mode='nearest')
    if panel_size is not None:
        factor = panel_side(size, panel_size) // size
        images = images.repeat_interleave(factor, -1).repeat_interleave(
            factor, -2)
        maps = maps.repeat_interleave(factor, -1).repeat_interleave(factor, -2)
        size *= factor
    tiles = torch.cat([maps[:, None], images], dim=1)  # (R, C+1, 3, S, S)
    return tiles.permute(2, 0, 3, 1, 4).reshape(3, rows * size,
                                                (cols + 1) * size)
