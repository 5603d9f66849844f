from .correspondence import CorrespondenceMetric, nearest_within, pair_errors
from .label_propagation import (LabelPropagationMetric, pair_statistics,
                                paper_iou, standard_iou)

__all__ = [
    'CorrespondenceMetric', 'nearest_within', 'pair_errors',
    'LabelPropagationMetric', 'pair_statistics', 'paper_iou', 'standard_iou'
]
