"""How much the structure branch varies: C^w spread of a generator against the data's true spread."""
from typing import Optional

import torch
import torch.nn.functional as F

from coordgan.ops import coordinate_spread


@torch.no_grad()
def generator_spread(generator, num: int = 256, batch_size: int = 32,
                     seed: int = 0) -> float:
    """Spread (canonical units) of C^w over ``num`` random structure codes of ``generator``."""
    rng = torch.Generator().manual_seed(seed)
    device = next(generator.parameters()).device
    maps = []
    for start in range(0, num, batch_size):
        n = min(batch_size, num - start)
        z_s, _ = generator.sample_codes(n, torch.device('cpu'), rng)
        w_s = generator.map_structure(z_s.to(device))
        maps.append(generator.warp(w_s).cpu())
    return float(coordinate_spread(torch.cat(maps)))


def dataset_spread(dataset, num: int = 256, size: Optional[int] = None
                   ) -> float:
    """Spread (canonical units) of the ground-truth canonical maps (``gt_coords``) of ``num`` dataset items."""
    maps = []
    for i in range(min(num, len(dataset))):
        info = dataset.get_data_info(i)
        if 'gt_coords' not in info:
            raise KeyError(f'{type(dataset).__name__} item {i} has no '
                           'gt_coords; the true spread needs ground-truth '
                           'canonical coordinates')
        coords = torch.as_tensor(info['gt_coords']).float().permute(2, 0, 1)
        if size is not None and coords.shape[-1] != size:
            coords = F.interpolate(coords[None], size=(size, size),
                                   mode='bilinear', align_corners=False)[0]
        maps.append(coords)
    return float(coordinate_spread(torch.stack(maps)))
