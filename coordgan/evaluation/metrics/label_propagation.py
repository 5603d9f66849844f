"""IoU of propagated part labels: the paper's protocol and the standard mIoU."""
from collections import defaultdict
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric

from coordgan.registry import METRICS
from .correspondence import to_numpy


def pair_statistics(pred: np.ndarray, gt: np.ndarray,
                    num_classes: int) -> Dict[str, np.ndarray]:
    """(H, W) predicted and true labels -> per-class paper intersections/unions and a confusion matrix.

    Paper protocol: predictions on ground-truth background pixels are
    ignored and background is not a class; the confusion matrix (rows = GT,
    columns = prediction) keeps every pixel for the standard mIoU.
    """
    pred = np.asarray(pred, dtype=np.int64).ravel()
    gt = np.asarray(gt, dtype=np.int64).ravel()
    if pred.shape != gt.shape:
        raise ValueError(f'prediction and ground truth differ in size: '
                         f'{pred.size} vs {gt.size} pixels')
    if gt.size and (gt.max() >= num_classes or pred.max() >= num_classes):
        raise ValueError(f'labels must be < num_classes={num_classes}, got '
                         f'max gt {gt.max()} and max prediction {pred.max()}')
    confusion = np.bincount(gt * num_classes + pred,
                            minlength=num_classes**2).reshape(
                                num_classes, num_classes)
    fg = gt != 0
    pred_fg = np.bincount(pred[fg], minlength=num_classes)
    gt_count = np.bincount(gt, minlength=num_classes)
    inter = np.diag(confusion).copy()
    union = pred_fg + gt_count - inter
    inter[0] = union[0] = 0
    return dict(intersection=inter, union=union, confusion=confusion)


def paper_iou(per_ref: Dict[int, Dict[str, np.ndarray]]) -> np.ndarray:
    """{ref: summed stats} -> (K-1,) per-class IoU averaged over references (absent class = 0)."""
    ious = []
    for stats in per_ref.values():
        inter, union = stats['intersection'][1:], stats['union'][1:]
        ious.append(np.where(union > 0, inter / np.maximum(union, 1), 0.0))
    return np.mean(ious, axis=0)


def standard_iou(confusion: np.ndarray) -> np.ndarray:
    """(K, K) confusion -> (K,) IoU, NaN for classes absent from both."""
    inter = np.diag(confusion).astype(np.float64)
    union = confusion.sum(0) + confusion.sum(1) - inter
    with np.errstate(invalid='ignore', divide='ignore'):
        return np.where(union > 0, inter / union, np.nan)


@METRICS.register_module()
class LabelPropagationMetric(BaseMetric):
    """Scores every (reference, query) pair of a query sample.

    Each data sample (from :class:`coordgan.models.LabelPropagationModel`)
    holds ``gt_seg_map`` (S, S), ``pred_seg_maps`` (R, S, S), one map per
    reference, and ``ref_indices`` (R,). ``IoU`` is the paper's number
    (REFERENCE.md section 9): per reference, intersections and unions summed
    over its queries, background excluded, predictions on background ignored,
    mean over classes (a class never present counts 0), then mean over
    references. ``mIoU`` is the standard one over all pairs (background
    counted, absent classes skipped). Both in percent, with per-class values
    under ``IoU/<class>`` and ``mIoU/<class>``.
    """

    default_prefix = 'propagation'

    def __init__(self,
                 classes: Optional[Sequence[str]] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self._classes = tuple(classes) if classes is not None else None

    @property
    def classes(self) -> tuple:
        if self._classes is not None:
            return self._classes
        if self.dataset_meta and 'classes' in self.dataset_meta:
            return tuple(self.dataset_meta['classes'])
        raise ValueError('LabelPropagationMetric needs class names: pass '
                         'classes=... or set dataset_meta')

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        num_classes = len(self.classes)
        for sample in data_samples:
            for key in ('gt_seg_map', 'pred_seg_maps', 'ref_indices'):
                if key not in sample:
                    raise KeyError(f'LabelPropagationMetric: data sample '
                                   f'without {key!r} (got {sorted(sample)})')
            gt = to_numpy(sample['gt_seg_map'])
            preds = to_numpy(sample['pred_seg_maps'])
            refs = [int(r) for r in sample['ref_indices']]
            if preds.ndim != 3 or len(preds) != len(refs):
                raise ValueError(
                    f'pred_seg_maps must be (R={len(refs)}, H, W), got '
                    f'{preds.shape}')
            stats = [pair_statistics(p, gt, num_classes) for p in preds]
            # One result per query, so mmengine drops the sampler's padding.
            self.results.append(dict(
                ref_indices=refs,
                intersection=np.stack([s['intersection'] for s in stats]),
                union=np.stack([s['union'] for s in stats]),
                confusion=sum(s['confusion'] for s in stats)))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        per_ref: Dict[int, Dict[str, np.ndarray]] = defaultdict(
            lambda: defaultdict(int))
        confusion = 0
        num_pairs = 0
        for r in results:
            for k, ref_index in enumerate(r['ref_indices']):
                ref = per_ref[ref_index]
                ref['intersection'] = ref['intersection'] + r['intersection'][k]
                ref['union'] = ref['union'] + r['union'][k]
                num_pairs += 1
            confusion = confusion + r['confusion']
        paper = paper_iou(per_ref)
        standard = standard_iou(confusion)
        metrics = {'IoU': 100 * float(paper.mean()),
                   'mIoU': 100 * float(np.nanmean(standard))}
        for name, value in zip(self.classes[1:], paper):
            metrics[f'IoU/{name}'] = 100 * float(value)
        for name, value in zip(self.classes, standard):
            metrics[f'mIoU/{name}'] = 100 * float(value)
        metrics['num_pairs'] = num_pairs
        metrics['num_references'] = len(per_ref)
        return metrics
