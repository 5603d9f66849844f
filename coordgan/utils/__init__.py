from .checkpoint import (CheckpointError, DamagedCheckpointError,
                         check_checkpoint_fits, checkpoint_kind,
                         load_local_checkpoint, read_state_dict,
                         register_trusted_local_loader)

__all__ = [
    'CheckpointError', 'DamagedCheckpointError', 'check_checkpoint_fits',
    'checkpoint_kind', 'load_local_checkpoint', 'read_state_dict',
    'register_trusted_local_loader'
]
