from .propagation_vis_hook import PropagationVisualizationHook
from .swap_grid_hook import SwapGridHook

__all__ = ['PropagationVisualizationHook', 'SwapGridHook']
