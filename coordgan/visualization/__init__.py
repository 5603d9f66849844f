from .propagation import (descriptor_to_rgb, propagation_caption,
                          propagation_figure, resolve_palette)
from .swap_grid import (canonical_frame_legend, coords_to_rgb,
                        correspondence_grid, structure_swap_grid, swap_grid,
                        to_unit)

__all__ = [
    'canonical_frame_legend', 'coords_to_rgb', 'correspondence_grid',
    'descriptor_to_rgb', 'propagation_caption',
    'propagation_figure', 'resolve_palette', 'structure_swap_grid', 'swap_grid',
    'to_unit'
]
