from .image_folder import ImageFolderDataset
from .synthetic_parts import PART_NAMES, SyntheticPartsDataset, render_sample
from .transforms import *  # noqa: F401,F403

__all__ = [
    'ImageFolderDataset', 'PART_NAMES', 'SyntheticPartsDataset',
    'render_sample'
]
