"""Pure tensor math of CoordGAN; imports nothing else from the package."""
from .batch import minibatch_stddev, pair_swap
from .chamfer import chamfer_distance
from .crops import random_crops
from .feature_propagation import topk_propagation, topk_similarity
from .grid import canonical_grid, coordinate_spread, resampled_grid
from .matching import nearest_matches, soft_correspondence_with_matches
from .modulated_conv import modulate_weight, modulated_conv2d
from .resize import resize_to
from .soft_correspondence import soft_correspondence, warp_by_correspondence
from .upfirdn import (blur_padding, make_blur_kernel, upfirdn2d, upsample2d,
                      upsample_blur_padding)

__all__ = [
    'minibatch_stddev', 'pair_swap', 'chamfer_distance', 'canonical_grid', 'coordinate_spread', 'resampled_grid', 'nearest_matches', 'soft_correspondence_with_matches', 'random_crops',
    'topk_propagation', 'topk_similarity',
    'modulate_weight', 'modulated_conv2d', 'resize_to', 'soft_correspondence',
    'warp_by_correspondence', 'blur_padding', 'make_blur_kernel', 'upfirdn2d',
    'upsample2d', 'upsample_blur_padding'
]
