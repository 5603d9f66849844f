from .checkpoint_files import (CheckpointSaveError, DamagedCheckpointError,
                               RunError, WorkDirError, check_work_dir,
                               checkpoint_problem, newest_complete_checkpoint)
from .coordgan_runner import CoordGANRunner
from .generation_loop import (GenerationTestLoop, sample_codes,
                              swap_triplets)
from .propagation_loop import LabelPropagationTestLoop

__all__ = [
    'CheckpointSaveError', 'CoordGANRunner', 'DamagedCheckpointError',
    'LabelPropagationTestLoop', 'RunError', 'WorkDirError', 'check_work_dir',
    'checkpoint_problem', 'newest_complete_checkpoint', 'GenerationTestLoop',
    'sample_codes', 'swap_triplets'
]
