from .checkpoint_hook import AtomicCheckpointHook
from .cpu_contention import CPUContentionHook
from .nonfinite_hook import NonFiniteLimitHook, NonFiniteLossError
from .preemption_hook import PreemptionHook
from .propagation_vis_hook import PropagationVisualizationHook
from .structure_health_hook import StructureHealthHook
from .swap_grid_hook import SwapGridHook

__all__ = [
    'AtomicCheckpointHook', 'CPUContentionHook', 'NonFiniteLimitHook',
    'NonFiniteLossError', 'PreemptionHook', 'PropagationVisualizationHook',
    'StructureHealthHook', 'SwapGridHook'
]
