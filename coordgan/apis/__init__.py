from .propagation import default_split, prepare_item, propagate_labels
from .train import (init_cpu_distributed, prepare_train_config,
                    shutdown_distributed)

__all__ = [
    'default_split', 'prepare_item', 'propagate_labels',
    'init_cpu_distributed', 'prepare_train_config', 'shutdown_distributed'
]
