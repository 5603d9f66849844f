from .file_checks import BadFileError, BadSampleError
from .generation import GenerationIndexDataset
from .image_folder import ImageFolderDataset
from .label_propagation import (SPLIT_PRESETS, LabelPropagationDataset,
                                resolve_split)
from .segmentation import (CELEBAMASK_HQ_CLASSES, DATASETGAN_CAR_CLASSES,
                           DATASETGAN_FACE_CLASSES, CelebAMaskHQDataset,
                           DatasetGANDataset, SegmentationFolderDataset)
from .synthetic_parts import PART_NAMES, SyntheticPartsDataset, render_sample
from .transforms import *  # noqa: F401,F403

__all__ = [
    'GenerationIndexDataset', 'ImageFolderDataset', 'LabelPropagationDataset', 'SPLIT_PRESETS',
    'resolve_split', 'PART_NAMES', 'SyntheticPartsDataset',
    'render_sample', 'SegmentationFolderDataset', 'CelebAMaskHQDataset',
    'DatasetGANDataset', 'CELEBAMASK_HQ_CLASSES', 'DATASETGAN_FACE_CLASSES',
    'DATASETGAN_CAR_CLASSES', 'BadFileError', 'BadSampleError'
]
