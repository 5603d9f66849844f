import math
from unittest import mock

import numpy as np
import pytest
import torch

from coordgan.datasets.synthetic_parts import render_sample
from coordgan.evaluation import CorrespondenceMetric, nearest_within
from coordgan.registry import METRICS


def brute_force(samples, threshold, alphas):
    """Loops over pairs and pixels: the definition, independent of the metric's search."""
    errors, fg_total = [], 0
    dot = sq = 0.0  # displacement slope: sum(true . predicted) / sum(true^2)
    for s in samples:
        pred = np.asarray(s['pred_matches'])
        q, q_seg = np.asarray(s['gt_coords']), np.asarray(s['gt_seg_map'])
        rc, r_seg = np.asarray(s['ref_gt_coords']), np.asarray(
            s['ref_gt_seg_maps'])
        num_refs, rh, rw = r_seg.shape
        for r in range(num_refs):
            for y in range(q_seg.shape[0]):
                for x in range(q_seg.shape[1]):
                    if q_seg[y, x] == 0:
                        continue
                    fg_total += 1
                    best = None  # (distance, kx, ky); first one wins ties
                    for ky in range(rh):
                        for kx in range(rw):
                            if r_seg[r, ky, kx] == 0:
                                continue
                            d = math.hypot(q[y, x, 0] - rc[r, ky, kx, 0],
                                           q[y, x, 1] - rc[r, ky, kx, 1])
                            if best is None or d < best[0]:
                                best = (d, kx, ky)
                    if best is None or best[0] > threshold:
                        continue
                    px, py = pred[r, y, x]
                    errors.append(math.hypot(px - best[1], py - best[2]))
                    # The query pixel's own place in the reference's grid.
                    qx = (x + 0.5) / q_seg.shape[1] * rw - 0.5
                    qy = (y + 0.5) / q_seg.shape[0] * rh - 0.5
                    tx, ty = best[1] - qx, best[2] - qy
                    dot += tx * (px - qx) + ty * (py - qy)
                    sq += tx * tx + ty * ty
    size = max(rh, rw)
    out = dict(mean_error=sum(errors) / len(errors),
               mean_error_frac=sum(errors) / len(errors) / size,
               num_points=len(errors),
               visible_percent=100 * len(errors) / fg_total,
               displacement_slope=dot / sq)
    for a in alphas:
        out[a] = 100 * sum(e <= a * size for e in errors) / len(errors)
    return out


def random_samples(rng, num, num_refs, q_shape, r_shape):
    samples = []
    for i in range(num):
        samples.append(dict(
            sample_idx=i,
            pred_matches=rng.uniform(-1, max(r_shape),
                                     (num_refs, ) + q_shape + (2, )),
            gt_coords=rng.uniform(0, 1, q_shape + (2, )),
            gt_seg_map=rng.integers(0, 3, q_shape),
            ref_gt_coords=rng.uniform(0, 1, (num_refs, ) + r_shape + (2, )),
            ref_gt_seg_maps=rng.integers(0, 3, (num_refs, ) + r_shape),
            ref_indices=list(range(10, 10 + num_refs))))
    return samples


def grid(h, w):
    """(h, w, 2) pixel (x, y) of each pixel."""
    ys, xs = np.mgrid[:h, :w]
    return np.stack([xs, ys], axis=-1).astype(np.float64)


@pytest.mark.parametrize('q_shape, r_shape', [((6, 6), (6, 6)),
                                              ((5, 7), (4, 6))])
def test_metric_equals_brute_force(q_shape, r_shape):
    rng = np.random.default_rng(0)
    samples = random_samples(rng, 3, 2, q_shape, r_shape)
    # Tensors and arrays must both be accepted.
    samples[1] = {k: torch.as_tensor(v) if isinstance(v, np.ndarray) else v
                  for k, v in samples[1].items()}
    alphas = (0.1, 0.25, 0.5)
    metric = CorrespondenceMetric(visibility_threshold=0.12,
                                  pck_alphas=alphas)
    metric.process(None, samples)
    res = metric.compute_metrics(metric.results)
    ref = brute_force(samples, 0.12, alphas)
    # Some points must be skipped, or visibility is not being tested.
    assert 0 < ref['num_points'] and ref['visible_percent'] < 100
    assert res['num_points'] == ref['num_points']
    for key in ('mean_error', 'mean_error_frac', 'visible_percent',
                'displacement_slope'):
        assert res[key] == pytest.approx(ref[key])
    assert res['PCK@0.10'] == pytest.approx(ref[0.1])
    assert res['PCK@0.25'] == pytest.approx(ref[0.25])
    assert res['PCK@0.50'] == pytest.approx(ref[0.5])
    assert 0 < ref[0.5] < 100
    assert res['num_pairs'] == 6 and res['num_references'] == 2


def test_nearest_within_matches_exhaustive_search_with_ties():
    rng = np.random.default_rng(1)
    # A coarse lattice makes many exact ties and exact distances.
    ref = rng.integers(-20, 20, (400, 2)) / 8
    query = np.concatenate([rng.integers(-22, 22, (300, 2)) / 8,
                            rng.uniform(-3, 3, (300, 2))])
    for radius in (0.1, 0.2, 0.5):
        index, dist = nearest_within(query, ref, radius)
        d = np.sqrt(((query[:, None] - ref[None])**2).sum(-1))
        best = d.argmin(1)  # argmin returns the first of equal minima
        best_d = d.min(1)
        ok = best_d <= radius
        np.testing.assert_array_equal(index, np.where(ok, best, -1))
        np.testing.assert_allclose(dist[ok], best_d[ok])
        assert np.isinf(dist[~ok]).all()
    index, dist = nearest_within(query, ref[:0], 0.5)
    assert (index == -1).all() and np.isinf(dist).all()


def test_perfect_predictions_score_zero_error():
    size = 32
    items = [render_sample(size, 0, i) for i in range(3)]
    refs, query = items[:2], items[2]
    ref_coords = np.stack([r['gt_coords'] for r in refs])
    ref_segs = np.stack([r['gt_seg_map'] for r in refs])
    pred = np.zeros((2, size, size, 2))
    q_fg = query['gt_coords'][query['gt_seg_map'] > 0]
    for r in range(2):
        # The true match, found by exhaustive search.
        fg = np.argwhere(ref_segs[r] > 0)  # (row, col)
        d = ((q_fg[:, None] - ref_coords[r][fg[:, 0], fg[:, 1]][None])**2
             ).sum(-1)
        pred[r][query['gt_seg_map'] > 0] = fg[d.argmin(1)][:, ::-1]
    metric = CorrespondenceMetric(visibility_threshold=4 / size)
    metric.process(None, [dict(pred_matches=torch.from_numpy(pred),
                               gt_coords=torch.from_numpy(query['gt_coords']),
                               gt_seg_map=query['gt_seg_map'],
                               ref_gt_coords=ref_coords,
                               ref_gt_seg_maps=ref_segs,
                               ref_indices=[0, 1])])
    res = metric.compute_metrics(metric.results)
    assert res['mean_error'] == 0 and res['mean_error_frac'] == 0
    assert res['PCK@0.05'] == 100 and res['PCK@0.10'] == 100
    # Same canonical object in every image: every point is visible.
    assert res['num_points'] == 2 * len(q_fg)
    assert res['visible_percent'] == 100


@pytest.mark.parametrize('shift, expected', [((3, 0), 3.0), ((0, -2), 2.0),
                                             ((3, 4), 5.0)])
def test_identity_prediction_on_a_shifted_frame(shift, expected):
    size = 16
    canon = grid(size, size) / size  # one pixel = 1/16 > the threshold
    query = (grid(size, size) + shift) / size  # ref pixel (x + tx, y + ty)
    metric = METRICS.build(dict(type='CorrespondenceMetric',
                                pck_alphas=(0.1, 0.2, 0.35)))
    ones = np.ones((size, size), np.int64)
    metric.process(None, [dict(pred_matches=grid(size, size)[None],
                               gt_coords=query, gt_seg_map=ones,
                               ref_gt_coords=canon[None],
                               ref_gt_seg_maps=ones[None], ref_indices=[0])])
    res = metric.evaluate(1)
    tx, ty = shift
    visible = (size - abs(tx)) * (size - abs(ty))
    assert res['correspondence/num_points'] == visible
    assert res['correspondence/mean_error'] == pytest.approx(expected)
    assert res['correspondence/visible_percent'] == pytest.approx(
        100 * visible / size**2)
    # alpha * S = 1.6, 3.2, 5.6 pixels.
    assert res['correspondence/PCK@0.10'] == 0
    assert res['correspondence/PCK@0.20'] == (100 if expected <= 3.2 else 0)
    assert res['correspondence/PCK@0.35'] == 100
    # Every point moved by `shift`; the identity match moved none.
    assert res['correspondence/displacement_slope'] == 0


@pytest.mark.parametrize('fraction', [1.0, 0.5, -0.25])
def test_displacement_slope_of_matches_that_move_part_way(fraction):
    size = 16
    canon = grid(size, size) / size
    shift = np.array([3.0, -2.0])
    query = (grid(size, size) + shift) / size  # true match: pixel + shift
    pred = grid(size, size) + fraction * shift  # moved part of the way
    ones = np.ones((size, size), np.int64)
    metric = CorrespondenceMetric()
    metric.process(None, [dict(pred_matches=pred[None], gt_coords=query,
                               gt_seg_map=ones, ref_gt_coords=canon[None],
                               ref_gt_seg_maps=ones[None])])
    res = metric.compute_metrics(metric.results)
    assert res['displacement_slope'] == pytest.approx(fraction)
    assert res['mean_error'] == pytest.approx(
        (1 - fraction) * math.hypot(3, 2))


def test_invisible_points_are_skipped():
    size = 8
    canon = grid(size, size) / size
    ones = np.ones((size, size), np.int64)
    ref_seg = ones.copy()
    ref_seg[:, :3] = 0  # the query's left columns have no counterpart
    query_seg = ones.copy()
    query_seg[0] = 0  # background rows are never scored
    pred = grid(size, size)
    pred[:, :3] = 1e3  # wild guesses where nothing is visible
    pred[0] = -1e3
    metric = CorrespondenceMetric(visibility_threshold=0.05)
    metric.process(None, [dict(pred_matches=pred[None], gt_coords=canon,
                               gt_seg_map=query_seg, ref_gt_coords=canon[None],
                               ref_gt_seg_maps=ref_seg[None])])
    res = metric.compute_metrics(metric.results)
    assert res['num_points'] == 7 * 5
    assert res['mean_error'] == 0 and res['PCK@0.05'] == 100
    assert res['visible_percent'] == pytest.approx(100 * 35 / 56)
    assert res['num_references'] == 1  # ref_indices default to 0..R-1


def test_one_result_per_query_survives_evaluate():
    # mmengine trims gathered results to the dataset length (queries).
    rng = np.random.default_rng(2)
    samples = random_samples(rng, 2, 3, (4, 4), (4, 4))
    metric = CorrespondenceMetric(visibility_threshold=0.5)
    metric.process(None, samples)
    assert len(metric.results) == 2
    res = metric.evaluate(2)
    ref = brute_force(samples, 0.5, ())
    assert res['correspondence/num_pairs'] == 6
    assert res['correspondence/num_points'] == ref['num_points']


def test_no_visible_point_gives_nan_and_a_warning():
    rng = np.random.default_rng(3)
    sample = random_samples(rng, 1, 1, (3, 3), (3, 3))[0]
    sample['gt_coords'] = sample['gt_coords'] + 10
    metric = CorrespondenceMetric()
    metric.process(None, [sample])
    with mock.patch('coordgan.evaluation.metrics.correspondence.print_log'
                    ) as log:
        res = metric.compute_metrics(metric.results)
    assert 'visibility_threshold=0.03' in log.call_args.args[0]
    assert res['num_points'] == 0 and math.isnan(res['mean_error'])
    assert math.isnan(res['PCK@0.05'])


def test_missing_coordinates_name_the_key_and_the_fix():
    rng = np.random.default_rng(4)
    sample = random_samples(rng, 1, 1, (3, 3), (3, 3))[0]
    metric = CorrespondenceMetric()
    for key in ('gt_coords', 'ref_gt_coords'):
        broken = {k: v for k, v in sample.items() if k != key}
        with pytest.raises(KeyError, match=f"sample_idx 0.*has no '{key}': "
                           'the dataset gives no ground-truth canonical '
                           'coordinates.*LoadCoordMap'):
            metric.process(None, [broken])
    broken = {k: v for k, v in sample.items() if k != 'pred_matches'}
    with pytest.raises(KeyError, match=r"lacks \['pred_matches'\]"):
        metric.process(None, [broken])


def test_bad_shapes_and_values_are_named():
    rng = np.random.default_rng(5)
    sample = random_samples(rng, 1, 2, (3, 3), (3, 3))[0]
    metric = CorrespondenceMetric()
    with pytest.raises(ValueError, match=r"'pred_matches' has shape "
                       r'\(1, 3, 3, 2\), expected \(2, 3, 3, 2\)'):
        metric.process(None, [dict(sample,
                                   pred_matches=sample['pred_matches'][:1])])
    with pytest.raises(ValueError, match=r"'gt_coords' has shape \(3, 3\)"):
        metric.process(None, [dict(sample,
                                   gt_coords=sample['gt_coords'][..., 0])])
    coords = sample['gt_coords'].copy()
    coords[sample['gt_seg_map'] != 0] = np.nan
    with pytest.raises(ValueError, match="'gt_coords' has non-finite"):
        metric.process(None, [dict(sample, gt_coords=coords)])
    with pytest.raises(ValueError, match='1 ref_indices for 2 references'):
        metric.process(None, [dict(sample, ref_indices=[0])])


@pytest.mark.parametrize('kwargs, match', [
    (dict(visibility_threshold=0), 'visibility_threshold must be a positive'),
    (dict(visibility_threshold=float('inf')), 'positive number'),
    (dict(pck_alphas=()), 'pck_alphas must be a non-empty'),
    (dict(pck_alphas=(0.1, 1.5)), r'fractions in \(0, 1\]'),
    (dict(pck_alphas=(0.1, 0.1)), 'repeat a value'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CorrespondenceMetric(**kwargs)
