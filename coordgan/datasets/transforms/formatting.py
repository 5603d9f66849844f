"""Packing a transformed sample into what the data preprocessor expects."""
from typing import Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from coordgan.registry import TRANSFORMS


@TRANSFORMS.register_module()
class PackImageInputs(BaseTransform):
    """``img`` (H, W, C) uint8 -> ``inputs`` (C, H, W) tensor; ``meta_keys`` -> ``data_samples`` dict.

    Array-valued metas (e.g. ``gt_seg_map``, ``gt_coords``) become tensors.
    """

    def __init__(self,
                 meta_keys: Sequence[str] = ('img_path', 'sample_idx',
                                             'ori_shape', 'img_shape',
                                             'flip')):
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        if 'img' not in results:
            raise KeyError(f'PackImageInputs needs an "img" entry; got keys '
                           f'{sorted(results)} (is an image loader missing '
                           'from the pipeline?)')
        img = np.ascontiguousarray(results['img'])
        if img.ndim == 2:
            img = img[..., None]
        samples = {}
        for key in self.meta_keys:
            if key in results:
                value = results[key]
                if isinstance(value, np.ndarray):
                    value = torch.from_numpy(np.ascontiguousarray(value))
                samples[key] = value
        return dict(inputs=torch.from_numpy(img).permute(2, 0, 1).contiguous(),
                    data_samples=samples)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(meta_keys={self.meta_keys})'
