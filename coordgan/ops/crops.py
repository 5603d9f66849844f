"""Random crops resampled to a fixed size (the patch discriminator's sampler)."""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F


def random_crops(img: torch.Tensor,
                 num_crops: int,
                 out_size: int = 32,
                 side_range: Tuple[float, float] = (1 / 8, 1 / 4),
                 flip: bool = True,
                 generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """(B, C, H, W) -> (B, num_crops, C, out_size, out_size), differentiable in ``img``.

    Each crop spans a fraction U[side_range] of the image per axis
    (independently), sits at a uniformly random offset inside the image, is
    mirrored horizontally with probability 1/2 when ``flip``, and is
    resampled bilinearly.
    """
    lo, hi = side_range
    if not 0 < lo <= hi <= 1:
        raise ValueError(f'side_range must satisfy 0 < lo <= hi <= 1, got '
                         f'{side_range!r}')
    b, c = img.shape[:2]
    n = b * num_crops
    opts = dict(device=img.device, generator=generator)
    # Half-extent in normalised [-1, 1] coordinates equals the side fraction.
    scale = lo + (hi - lo) * torch.rand(n, 2, **opts)
    center = (torch.rand(n, 2, **opts) * 2 - 1) * (1 - scale)
    sign = torch.ones(n, device=img.device)
    if flip:
        sign = torch.where(torch.rand(n, **opts) < 0.5, -sign, sign)
    theta = torch.zeros(n, 2, 3, device=img.device)
    theta[:, 0, 0] = scale[:, 0] * sign
    theta[:, 1, 1] = scale[:, 1]
    theta[:, :, 2] = center
    grid = F.affine_grid(theta.to(img.dtype), (n, c, out_size, out_size),
                         align_corners=False)
    src = img.repeat_interleave(num_crops, dim=0)
    crops = F.grid_sample(src, grid, mode='bilinear', padding_mode='border',
                          align_corners=False)
    return crops.reshape(b, num_crops, c, out_size, out_size)
