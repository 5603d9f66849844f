"""Dense-correspondence error against ground-truth canonical coordinates."""
import logging
import numbers
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from coordgan.registry import METRICS

# Keys a data sample needs; 'gt_coords' is checked first and on its own
# because its absence means the dataset has none, not a model bug.
_COORD_KEYS = ('gt_coords', 'ref_gt_coords')
_OTHER_KEYS = ('pred_matches', 'gt_seg_map', 'ref_gt_seg_maps')
_NO_COORDS_HINT = (
    'the dataset gives no ground-truth canonical coordinates. Use one that '
    'does (SyntheticPartsDataset, or a SegmentationFolderDataset with '
    '<data_root>/coords/<name>.npy read by LoadCoordMap, see '
    "docs/datasets_labelled.md), keep 'gt_coords' in PackImageInputs' "
    'meta_keys, or leave CorrespondenceMetric out of the test_evaluator')


def to_numpy(value) -> np.ndarray:
    """A torch tensor (any device) or array-like -> numpy array."""
    if hasattr(value, 'detach'):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def nearest_within(query: np.ndarray, ref: np.ndarray,
                   radius: float) -> Tuple[np.ndarray, np.ndarray]:
    """(N, 2) query, (M, 2) ref points -> (N,) nearest ref index within ``radius`` (-1: none), (N,) its distance.

    Ties go to the lowest ref index; the distance is inf where none. Ref
    points are bucketed into square cells of side ``radius``, so every point
    within ``radius`` of a query lies in the 3x3 cells around it:
    ~9 * (radius / spacing)^2 candidates per query instead of all M
    (M = 16384 at 128 px).
    """
    query = np.asarray(query, dtype=np.float64).reshape(-1, 2)
    ref = np.asarray(ref, dtype=np.float64).reshape(-1, 2)
    n = len(query)
    index = np.full(n, -1, dtype=np.int64)
    dist = np.full(n, np.inf)
    if n == 0 or len(ref) == 0:
        return index, dist
    cell_q = np.floor(query / radius).astype(np.int64)
    cell_r = np.floor(ref / radius).astype(np.int64)
    # Shift cells so that every neighbour cell (offset -1..1) is >= 0, then
    # flatten (cx, cy) into one sortable key.
    low = np.minimum(cell_q.min(0), cell_r.min(0)) - 1
    cell_q, cell_r = cell_q - low, cell_r - low
    height = int(max(cell_q[:, 1].max(), cell_r[:, 1].max())) + 2
    key_r = cell_r[:, 0] * height + cell_r[:, 1]
    order = np.argsort(key_r, kind='stable')
    sorted_keys = key_r[order]

    cand_q, cand_r = [], []
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            key = (cell_q[:, 0] + dx) * height + (cell_q[:, 1] + dy)
            start = np.searchsorted(sorted_keys, key, side='left')
            count = np.searchsorted(sorted_keys, key, side='right') - start
            total = int(count.sum())
            if total == 0:
                continue
            # Expand each query's [start, start + count) run of sorted refs.
            first = np.cumsum(count) - count
            within = np.arange(total) - np.repeat(first, count)
            cand_q.append(np.repeat(np.arange(n), count))
            cand_r.append(order[np.repeat(start, count) + within])
    if not cand_q:
        return index, dist
    cand_q, cand_r = np.concatenate(cand_q), np.concatenate(cand_r)
    cand_d = np.sqrt(((query[cand_q] - ref[cand_r])**2).sum(1))
    keep = cand_d <= radius
    cand_q, cand_r, cand_d = cand_q[keep], cand_r[keep], cand_d[keep]
    # Per query: smallest distance, then smallest ref index.
    best = np.lexsort((cand_r, cand_d, cand_q))
    cand_q, cand_r, cand_d = cand_q[best], cand_r[best], cand_d[best]
    queries, first = np.unique(cand_q, return_index=True)
    index[queries] = cand_r[first]
    dist[queries] = cand_d[first]
    return index, dist


def pair_matches(pred_matches: np.ndarray, gt_coords: np.ndarray,
                 gt_seg_map: np.ndarray, ref_coords: np.ndarray,
                 ref_seg_map: np.ndarray, visibility_threshold: float
                 ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One (query, reference) pair -> (P, 2) x, y of each visible query foreground point, its true match and its predicted match.

    The query points are given in the reference's pixel grid (pixel centres
    scaled by the ratio of the widths and heights), so that ``true -
    query`` is how far the point moved between the two images.

    Args:
        pred_matches: (H, W, 2) predicted (x, y) in the reference, pixels.
        gt_coords: (H, W, 2) canonical (x, y) of each query pixel.
        gt_seg_map: (H, W) query labels, 0 = background.
        ref_coords: (H', W', 2) canonical (x, y) of each reference pixel.
        ref_seg_map: (H', W') reference labels, 0 = background.
        visibility_threshold: Largest canonical distance to the nearest
            reference foreground point for a query point to count.
    """
    fg_q = np.flatnonzero(gt_seg_map.ravel() != 0)
    fg_r = np.flatnonzero(ref_seg_map.ravel() != 0)
    match, _ = nearest_within(gt_coords.reshape(-1, 2)[fg_q],
                              ref_coords.reshape(-1, 2)[fg_r],
                              visibility_threshold)
    visible = match >= 0
    true_flat = fg_r[match[visible]]
    height, width = ref_seg_map.shape
    true_xy = np.stack([true_flat % width, true_flat // width],
                       axis=1).astype(np.float64)
    query_flat = fg_q[visible]
    q_height, q_width = gt_seg_map.shape
    query_xy = np.stack([
        (query_flat % q_width + 0.5) * width / q_width - 0.5,
        (query_flat // q_width + 0.5) * height / q_height - 0.5
    ], axis=1)
    pred_xy = pred_matches.reshape(-1, 2)[query_flat].astype(np.float64)
    return query_xy, true_xy, pred_xy


def pair_errors(pred_matches: np.ndarray, gt_coords: np.ndarray,
                gt_seg_map: np.ndarray, ref_coords: np.ndarray,
                ref_seg_map: np.ndarray,
                visibility_threshold: float) -> np.ndarray:
    """One (query, reference) pair -> (P,) pixel errors of the visible query foreground points (arguments as :func:`pair_matches`)."""
    _, true_xy, pred_xy = pair_matches(pred_matches, gt_coords, gt_seg_map,
                                       ref_coords, ref_seg_map,
                                       visibility_threshold)
    return np.sqrt(((pred_xy - true_xy)**2).sum(1))


def alpha_name(alpha: float) -> str:
    """0.05 -> '0.05', 0.1 -> '0.10', 0.025 -> '0.025'."""
    text = f'{alpha:.2f}'
    return text if float(text) == alpha else f'{alpha:g}'


@METRICS.register_module()
class CorrespondenceMetric(BaseMetric):
    """Keypoint-transfer error of dense matches, scored with ground-truth canonical coordinates.

    For each query foreground pixel with canonical coordinate ``c``, its true
    match in reference ``r`` is the reference foreground pixel whose canonical
    coordinate is nearest to ``c``; if that nearest one is farther than
    ``visibility_threshold`` the point is not visible in ``r`` and is
    skipped. The error is the pixel distance between the predicted match
    (``pred_matches[r]``) and the true match's (x, y).

    Data samples (one per query, see LabelPropagationModel.test_step):
    ``pred_matches`` (R, H, W, 2), ``gt_coords`` (H, W, 2), ``gt_seg_map``
    (H, W), ``ref_gt_coords`` (R, H', W', 2), ``ref_gt_seg_maps``
    (R, H', W') and optionally ``ref_indices`` (R,), as tensors or arrays.

    Metrics (prefix ``correspondence``): ``mean_error`` in pixels of the
    reference grid, ``mean_error_frac`` (the same divided by
    S = max(H', W')), ``PCK@<alpha>`` (percent of points with error
    <= alpha * S), ``displacement_slope`` (least-squares slope of the
    predicted displacements, match minus the query point's own position, on
    the true ones: 1 when matches move as far as the object, 0 for the
    identity match, about 0.5 when the maps are shrunk halfway toward one
    fixed map), all over every visible point of every pair;
    ``num_points`` (visible points), ``visible_percent`` (of the query
    foreground points), ``num_pairs`` and ``num_references``.

    Args:
        visibility_threshold (float): In canonical units. The default 0.03
            is about two pixel spacings at 128 px for a canonical frame
            spanning [-1, 1] across the image (one spacing = 2 / 128 =
            0.016): generous enough that sampling two grids never makes a
            point look occluded (the nearest grid point is at most ~0.7
            spacing away, a bit more where the object is magnified), small
            enough that points without a counterpart are skipped. Scale it
            with the eval size (about 4 / S) for other sizes.
        pck_alphas (Sequence[float]): PCK thresholds as fractions of S.
        collect_device (str): Where results are gathered across ranks.
        prefix (str, optional): Metric key prefix.
    """

    default_prefix = 'correspondence'

    def __init__(self,
                 visibility_threshold: float = 0.03,
                 pck_alphas: Sequence[float] = (0.05, 0.10),
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        if not (isinstance(visibility_threshold, numbers.Real)
                and not isinstance(visibility_threshold, bool)
                and np.isfinite(visibility_threshold)
                and visibility_threshold > 0):
            raise ValueError(f'CorrespondenceMetric: visibility_threshold '
                             f'must be a positive number (canonical units), '
                             f'got {visibility_threshold!r}')
        alphas = tuple(float(a) for a in pck_alphas)
        if not alphas or any(not 0 < a <= 1 for a in alphas):
            raise ValueError(f'CorrespondenceMetric: pck_alphas must be a '
                             f'non-empty list of fractions in (0, 1], got '
                             f'{pck_alphas!r}')
        names = [alpha_name(a) for a in alphas]
        if len(set(names)) != len(names):
            raise ValueError(f'CorrespondenceMetric: pck_alphas repeat a '
                             f'value: {pck_alphas!r}')
        self.visibility_threshold = float(visibility_threshold)
        self.pck_alphas = alphas

    def _read(self, sample: dict) -> Dict[str, np.ndarray]:
        where = (f'data sample (sample_idx {sample.get("sample_idx")}, '
                 f'img_path {sample.get("img_path")!r})')
        for key in _COORD_KEYS:
            if key not in sample:
                raise KeyError(f'CorrespondenceMetric: {where} has no '
                               f'{key!r}: {_NO_COORDS_HINT}')
        missing = [k for k in _OTHER_KEYS if k not in sample]
        if missing:
            raise KeyError(f'CorrespondenceMetric: {where} lacks {missing}; '
                           f'it has {sorted(sample)}')
        arrays = {k: to_numpy(sample[k]) for k in _COORD_KEYS + _OTHER_KEYS}
        self._check_shapes(arrays, where)
        for key, seg_key in (('gt_coords', 'gt_seg_map'),
                             ('ref_gt_coords', 'ref_gt_seg_maps')):
            fg = arrays[seg_key] != 0
            if not np.isfinite(arrays[key][fg]).all():
                raise ValueError(f'CorrespondenceMetric: {where}: {key!r} '
                                 'has non-finite values on foreground '
                                 'pixels')
        if not np.isfinite(arrays['pred_matches']).all():
            raise ValueError(f'CorrespondenceMetric: {where}: '
                             "'pred_matches' has non-finite values")
        return arrays

    @staticmethod
    def _check_shapes(arrays: Dict[str, np.ndarray], where: str) -> None:
        seg = arrays['gt_seg_map'].shape
        ref_seg = arrays['ref_gt_seg_maps'].shape
        if len(seg) != 2 or len(ref_seg) != 3:
            raise ValueError(
                f'CorrespondenceMetric: {where}: expected gt_seg_map (H, W) '
                f'and ref_gt_seg_maps (R, H, W), got {seg} and {ref_seg}')
        num_refs = ref_seg[0]
        expected = dict(gt_coords=seg + (2, ),
                        ref_gt_coords=ref_seg + (2, ),
                        pred_matches=(num_refs, ) + seg + (2, ))
        for key, shape in expected.items():
            if arrays[key].shape != shape:
                raise ValueError(
                    f'CorrespondenceMetric: {where}: {key!r} has shape '
                    f'{arrays[key].shape}, expected {shape} (from '
                    f'gt_seg_map {seg} and ref_gt_seg_maps {ref_seg})')

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            arrays = self._read(sample)
            ref_seg_maps = arrays['ref_gt_seg_maps']
            num_refs = ref_seg_maps.shape[0]
            ref_indices = sample.get('ref_indices', range(num_refs))
            ref_indices = [int(i) for i in to_numpy(ref_indices).ravel()]
            if len(ref_indices) != num_refs:
                raise ValueError(
                    f'CorrespondenceMetric: sample_idx '
                    f'{sample.get("sample_idx")}: {len(ref_indices)} '
                    f'ref_indices for {num_refs} references')
            num_fg = int((arrays['gt_seg_map'] != 0).sum())
            size = max(ref_seg_maps.shape[1:])
            error_sum = np.zeros(num_refs)
            num_points = np.zeros(num_refs, dtype=np.int64)
            pck_counts = np.zeros((num_refs, len(self.pck_alphas)),
                                  dtype=np.int64)
            disp_dot = disp_sq = 0.0
            for r in range(num_refs):
                query_xy, true_xy, pred_xy = pair_matches(
                    arrays['pred_matches'][r], arrays['gt_coords'],
                    arrays['gt_seg_map'], arrays['ref_gt_coords'][r],
                    ref_seg_maps[r], self.visibility_threshold)
                errors = np.sqrt(((pred_xy - true_xy)**2).sum(1))
                moved = true_xy - query_xy
                disp_dot += float((moved * (pred_xy - query_xy)).sum())
                disp_sq += float((moved**2).sum())
                error_sum[r] = errors.sum()
                num_points[r] = errors.size
                pck_counts[r] = [(errors <= a * size).sum()
                                 for a in self.pck_alphas]
            # One small entry per query: mmengine trims the gathered list to
            # the dataset length (dropping sampler padding), so it must not
            # hold one entry per pair.
            self.results.append(
                dict(error_sum=error_sum, size=size, num_points=num_points,
                     num_foreground=num_fg, pck_counts=pck_counts,
                     disp_dot=disp_dot, disp_sq=disp_sq,
                     ref_indices=ref_indices))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        points = sum(int(r['num_points'].sum()) for r in results)
        foreground = sum(r['num_foreground'] * len(r['num_points'])
                         for r in results)
        pairs = sum(len(r['num_points']) for r in results)
        if points == 0:
            print_log(
                f'CorrespondenceMetric: no query point has a reference '
                f'point within visibility_threshold='
                f'{self.visibility_threshold} (canonical units) in '
                f'{pairs} pairs; are the coordinates in the units the '
                'threshold assumes?', logger='current',
                level=logging.WARNING)
        nan = float('nan')
        error_sum = sum(float(r['error_sum'].sum()) for r in results)
        frac_sum = sum(float(r['error_sum'].sum()) / r['size']
                       for r in results)
        pck = np.zeros(len(self.pck_alphas), dtype=np.int64)
        for r in results:
            pck += r['pck_counts'].sum(0)
        metrics: Dict[str, float] = {
            'mean_error': error_sum / points if points else nan,
            'mean_error_frac': frac_sum / points if points else nan,
        }
        for alpha, count in zip(self.pck_alphas, pck):
            metrics[f'PCK@{alpha_name(alpha)}'] = (
                100 * float(count) / points if points else nan)
        disp_sq = sum(r['disp_sq'] for r in results)
        metrics['displacement_slope'] = (
            sum(r['disp_dot'] for r in results) / disp_sq
            if disp_sq > 0 else nan)
        metrics['num_points'] = points
        metrics['visible_percent'] = (100 * points / foreground
                                      if foreground else nan)
        metrics['num_pairs'] = pairs
        metrics['num_references'] = len(
            {i for r in results for i in r['ref_indices']})
        return metrics
