from .swap_grid import coords_to_rgb, swap_grid, to_unit

__all__ = ['coords_to_rgb', 'swap_grid', 'to_unit']
