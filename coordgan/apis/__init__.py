from .evaluate import prepare_test_config, run_test, result_record
from .inference import (DenseCorrespondence, dense_correspondence, init_model,
                        propagate_mask, read_image, read_mask,
                        resize_labels)
from .propagate_folder import (PropagationSummary, load_image,
                               load_reference_mask, masks_to_coco,
                               propagate_folder, read_coco_reference)
from .train import (build_runner, init_cpu_distributed, prepare_train_config,
                    shutdown_distributed)

__all__ = [
    'DenseCorrespondence', 'dense_correspondence', 'init_model',
    'propagate_mask', 'read_image', 'read_mask', 'resize_labels',
    'PropagationSummary', 'load_image', 'load_reference_mask',
    'masks_to_coco', 'propagate_folder', 'read_coco_reference',
    'prepare_test_config', 'run_test', 'result_record',
    'build_runner', 'init_cpu_distributed', 'prepare_train_config',
    'shutdown_distributed'
]
