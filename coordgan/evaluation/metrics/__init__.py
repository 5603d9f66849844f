from .correspondence import CorrespondenceMetric, nearest_within, pair_errors
from .fid import FIDMetric, feature_statistics, frechet_distance
from .label_propagation import (LabelPropagationMetric, pair_statistics,
                                paper_iou, standard_iou)
from .swap_lpips import SwapLPIPSMetric

__all__ = [
    'CorrespondenceMetric', 'nearest_within', 'pair_errors',
    'LabelPropagationMetric', 'pair_statistics', 'paper_iou', 'standard_iou',
    'FIDMetric', 'feature_statistics', 'frechet_distance', 'SwapLPIPSMetric'
]
from .identity import ArcFaceIdentityMetric  # noqa: E402

__all__ += ['ArcFaceIdentityMetric']
