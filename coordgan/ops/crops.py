"""Random crops resampled to a fixed size (the patch discriminator's sampler)."""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F

SAMPLINGS = ('authors', 'affine')


def random_crops(img: torch.Tensor,
                 num_crops: int,
                 out_size: int = 32,
                 side_range: Tuple[float, float] = (1 / 8, 1 / 4),
                 flip: bool = True,
                 generator: Optional[torch.Generator] = None,
                 sampling: str = 'authors') -> torch.Tensor:
    """(B, C, H, W) -> (B, num_crops, C, out_size, out_size), differentiable in ``img``.

    Each crop spans a fraction ``s`` ~ U[side_range] of the image per axis
    (independently), is offset by ``o`` ~ U[-(1 - s), 1 - s] in normalised
    [-1, 1] coordinates, is mirrored horizontally with probability 1/2 when
    ``flip``, and is resampled bilinearly (``grid_sample``,
    ``align_corners=False``). Crop ``k`` of image ``b`` is row
    ``b * num_crops + k`` of the draws, made in this order from
    ``generator``: sides (n, 2), offsets (n, 2) as U[0, 1) mapped to the
    range, then (only when ``flip``) U[0, 1) (n,) with < 0.5 meaning
    mirrored; columns are (x, y).

    Args:
        sampling: ``'authors'`` (default, REFERENCE.md 4): sample positions
            ``linspace(-1, 1, out_size) * s + o`` (both ends included),
            zero padding, so samples past the image border read 0.
            ``'affine'``: this library's earlier sampler, ``F.affine_grid``
            positions (pixel centres of the crop, spanning
            ``(out_size - 1) / out_size`` of it) and border padding; kept to
            reproduce runs made with it.
    """
    lo, hi = side_range
    if not 0 < lo <= hi <= 1:
        raise ValueError(f'side_range must satisfy 0 < lo <= hi <= 1, got '
                         f'{side_range!r}')
    if sampling not in SAMPLINGS:
        raise ValueError(f'sampling must be one of {SAMPLINGS}, got '
                         f'{sampling!r}')
    b, c = img.shape[:2]
    n = b * num_crops
    opts = dict(device=img.device, generator=generator)
    # Half-extent in normalised [-1, 1] coordinates equals the side fraction.
    scale = lo + (hi - lo) * torch.rand(n, 2, **opts)
    center = (torch.rand(n, 2, **opts) * 2 - 1) * (1 - scale)
    sign = torch.ones(n, device=img.device)
    if flip:
        sign = torch.where(torch.rand(n, **opts) < 0.5, -sign, sign)
    src = img.repeat_interleave(num_crops, dim=0)
    if sampling == 'affine':
        theta = torch.zeros(n, 2, 3, device=img.device)
        theta[:, 0, 0] = scale[:, 0] * sign
        theta[:, 1, 1] = scale[:, 1]
        theta[:, :, 2] = center
        grid = F.affine_grid(theta.to(img.dtype), (n, c, out_size, out_size),
                             align_corners=False)
        padding_mode = 'border'
    else:
        base = torch.linspace(-1, 1, out_size, device=img.device,
                              dtype=img.dtype)
        scale, center = scale.to(img.dtype), center.to(img.dtype)
        xs = base * (scale[:, 0] * sign.to(img.dtype))[:, None] + center[:, :1]
        ys = base * scale[:, 1, None] + center[:, 1:]
        # grid[k, i, j] = (x_j, y_i): row i reads along y, column j along x.
        grid = torch.stack(
            [xs[:, None, :].expand(n, out_size, out_size),
             ys[:, :, None].expand(n, out_size, out_size)], dim=-1)
        padding_mode = 'zeros'
    crops = F.grid_sample(src, grid, mode='bilinear',
                          padding_mode=padding_mode, align_corners=False)
    return crops.reshape(b, num_crops, c, out_size, out_size)
