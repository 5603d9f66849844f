from .label_propagation import (LabelPropagationMetric, pair_statistics,
                                paper_iou, standard_iou)

__all__ = [
    'LabelPropagationMetric', 'pair_statistics', 'paper_iou', 'standard_iou'
]
