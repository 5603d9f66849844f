from .evaluate import prepare_test_config, run_test, result_record
from .inference import (DenseCorrespondence, dense_correspondence, init_model,
                        propagate_mask)
from .train import (build_runner, init_cpu_distributed, prepare_train_config,
                    shutdown_distributed)

__all__ = [
    'DenseCorrespondence', 'dense_correspondence', 'init_model',
    'propagate_mask', 'prepare_test_config', 'run_test', 'result_record',
    'build_runner', 'init_cpu_distributed', 'prepare_train_config',
    'shutdown_distributed'
]
