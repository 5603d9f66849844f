from .propagation import (descriptor_to_rgb, propagation_caption,
                          propagation_figure, resolve_palette)
from .swap_grid import coords_to_rgb, swap_grid, to_unit

__all__ = [
    'coords_to_rgb', 'descriptor_to_rgb', 'propagation_caption',
    'propagation_figure', 'resolve_palette', 'swap_grid', 'to_unit'
]
