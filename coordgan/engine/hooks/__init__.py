from .propagation_vis_hook import PropagationVisualizationHook
from .structure_health_hook import StructureHealthHook
from .swap_grid_hook import SwapGridHook

__all__ = [
    'PropagationVisualizationHook', 'StructureHealthHook', 'SwapGridHook'
]
