from .swap_grid_hook import SwapGridHook

__all__ = ['SwapGridHook']
