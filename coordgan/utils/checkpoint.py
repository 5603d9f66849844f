"""Loading mmengine checkpoints on torch >= 2.6.

torch 2.6 made ``torch.load`` default to ``weights_only=True``, which refuses
the message hub, numpy scalars and config objects that mmengine's Runner saves
next to the weights, so ``--resume`` and ``load_from`` fail on every
checkpoint. coordgan registers a loader for local paths that first tries the
safe mode and falls back to full unpickling. Full unpickling runs code from
the file: only load checkpoints you trust (your own work_dirs, files from
people you trust), exactly as with torch < 2.6.
"""
import os.path as osp
import pickle

import torch
from mmengine.logging import print_log
from mmengine.runner.checkpoint import CheckpointLoader


def load_local_checkpoint(filename: str, map_location=None):
    """Load a local checkpoint file; full unpickling only if the safe mode refuses it."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename!r} does not exist')
    try:
        return torch.load(filename, map_location=map_location,
                          weights_only=True)
    except pickle.UnpicklingError:
        print_log(
            f'{filename}: holds objects beyond tensors (mmengine training '
            'state); loading it as a trusted local file.',
            logger='current', level=10)
        return torch.load(filename, map_location=map_location,
                          weights_only=False)


def register_trusted_local_loader() -> None:
    """Make mmengine use :func:`load_local_checkpoint` for local paths."""
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_local_checkpoint, force=True)
