"""Texture-swap and structure-swap LPIPS over generated pairs (REFERENCE.md section 10)."""
from typing import Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric

from coordgan.registry import LOSSES, METRICS

# swap name -> the data-sample key of the image that differs from 'image'
# in that code only.
SWAP_KEYS = {'texture': 'texture_swap', 'structure': 'structure_swap'}


def checked_swaps(metric: str, swaps: Sequence[str]) -> tuple:
    """``swaps`` as a tuple if a non-empty subset of SWAP_KEYS, else a ValueError naming ``metric``."""
    unknown = [s for s in swaps if s not in SWAP_KEYS]
    if unknown or not swaps:
        raise ValueError(f'{metric} swaps must be a non-empty subset of '
                         f'{sorted(SWAP_KEYS)}, got {list(swaps)}')
    return tuple(swaps)


@METRICS.register_module()
class SwapLPIPSMetric(BaseMetric):
    """Mean LPIPS between each sample's ``image`` G(s, t) and its swaps.

    Texture swap: LPIPS(G(s, t), G(s, t')) (shared structure); structure
    swap: LPIPS(G(s, t), G(s', t)) (shared texture); each sample is one pair.
    ``lpips`` is an :class:`coordgan.models.losses.LPIPS` config (VGG, eval
    mode; the paper configs need the ImageNet VGG file, the synthetic one
    sets ``allow_random_backbone=True``).

    Result keys: ``<prefix>/lpips_texture``, ``<prefix>/lpips_structure``
    (default prefix ``swap``) and ``<prefix>/num_pairs``.
    """

    default_prefix = 'swap'

    def __init__(self,
                 lpips: Optional[dict] = None,
                 swaps: Sequence[str] = ('texture', 'structure'),
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.swaps = checked_swaps(type(self).__name__, swaps)
        self.lpips = LOSSES.build(lpips or dict(type='LPIPS', net='vgg'))

    @torch.no_grad()
    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        images = torch.stack([s['image'] for s in data_samples]).float()
        self.lpips.to(images.device)
        distances = {}
        for swap in self.swaps:
            other = torch.stack([s[SWAP_KEYS[swap]]
                                 for s in data_samples]).float()
            distances[swap] = self.lpips(images, other).cpu().numpy()
        for i in range(len(data_samples)):
            self.results.append({s: float(d[i]) for s, d in
                                 distances.items()})

    def compute_metrics(self, results: list) -> dict:
        metrics = {f'lpips_{swap}': float(np.mean([r[swap] for r in results]))
                   for swap in self.swaps}
        metrics['num_pairs'] = len(results)
        return metrics
