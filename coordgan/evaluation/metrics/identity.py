"""ArcFace identity distance over generated texture-swap and structure-swap pairs (REFERENCE.md section 10)."""
from typing import Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric

from coordgan.registry import METRICS
from ..arcface import ArcFace, identity_distance
from .swap_lpips import SWAP_KEYS, checked_swaps


@METRICS.register_module()
class ArcFaceIdentityMetric(BaseMetric):
    """Mean 1 - cosine between IR-SE50 embeddings of each sample's ``image`` and its swaps.

    Reads the data samples :class:`SwapLPIPSMetric` reads: texture swap
    G(s, t) vs G(s, t') (the identity should stay: low is good), structure
    swap G(s, t) vs G(s', t) (the identity should change). Images in
    [-1, 1] are cropped as pSp's ID loss does. ``arcface_weights``: path of
    pSp's ``model_ir_se50.pth`` (missing file: an error naming it; nothing
    is downloaded). Faces only: on other data the numbers mean nothing.

    Result keys: ``<prefix>/texture``, ``<prefix>/structure`` (default
    prefix ``ArcFace``) and ``<prefix>/num_pairs``.
    """

    default_prefix = 'ArcFace'

    def __init__(self,
                 arcface_weights: str,
                 swaps: Sequence[str] = ('texture', 'structure'),
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.swaps = checked_swaps(type(self).__name__, swaps)
        self.arcface = ArcFace(arcface_weights)

    @torch.no_grad()
    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        images = torch.stack([s['image'] for s in data_samples]).float()
        self.arcface.to(images.device)
        anchor = self.arcface(images)
        distances = {}
        for swap in self.swaps:
            other = torch.stack([s[SWAP_KEYS[swap]]
                                 for s in data_samples]).float()
            distances[swap] = identity_distance(
                anchor, self.arcface(other)).cpu().numpy()
        for i in range(len(data_samples)):
            self.results.append({s: float(d[i]) for s, d in
                                 distances.items()})

    def compute_metrics(self, results: list) -> dict:
        metrics = {swap: float(np.mean([r[swap] for r in results]))
                   for swap in self.swaps}
        metrics['num_pairs'] = len(results)
        return metrics
