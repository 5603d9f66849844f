import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate

from coordgan.datasets import (LabelPropagationDataset, SyntheticPartsDataset,
                               resolve_split)
from coordgan.evaluation import LabelPropagationMetric
from coordgan.models import LabelPropagationModel
from coordgan.models.algorithms.label_propagation import cells_to_pixels
from coordgan.models.correspondence import BaseCorrespondence
from coordgan.ops import canonical_grid
from coordgan.registry import MODELS
from metric_references import brute_force_metrics


def test_metric_equals_brute_force_with_absent_classes():
    rng = np.random.default_rng(0)
    classes = ('bg', 'a', 'b', 'c', 'never')
    metric = LabelPropagationMetric(classes=classes)
    pairs, samples = [], []
    refs = [7, 2, 9]
    for _ in range(4):
        gt = rng.integers(0, 3, size=(9, 7))  # c only ever predicted
        preds = rng.integers(0, 3, size=(len(refs), 9, 7))
        preds[1][rng.random((9, 7)) < 0.2] = 3  # reference 2 predicts c
        samples.append(dict(gt_seg_map=torch.as_tensor(gt),
                            pred_seg_maps=torch.as_tensor(preds),
                            ref_indices=refs))
        pairs += [(p, gt, r) for p, r in zip(preds, refs)]
    metric.process(None, samples)
    res = metric.compute_metrics(metric.results)
    paper, standard = brute_force_metrics(pairs, len(classes))
    assert res['IoU'] == pytest.approx(paper)
    assert res['mIoU'] == pytest.approx(standard)
    assert res['IoU/never'] == 0 and res['IoU/c'] == 0
    assert np.isnan(res['mIoU/never'])
    assert res['num_pairs'] == 12 and res['num_references'] == 3
    # One result per query: mmengine truncates gathered results per sample.
    assert len(metric.results) == 4


def test_metric_rejects_bad_labels_and_samples():
    metric = LabelPropagationMetric(classes=('bg', 'a'))
    with pytest.raises(ValueError, match='num_classes=2'):
        metric.process(None, [dict(pred_seg_maps=np.zeros((1, 2, 2), int),
                                   gt_seg_map=np.full((2, 2), 5),
                                   ref_indices=[0])])
    with pytest.raises(KeyError, match='pred_seg_maps'):
        metric.process(None, [dict(gt_seg_map=np.zeros((2, 2), int),
                                   ref_indices=[0])])
    with pytest.raises(ValueError, match='R=2'):
        metric.process(None, [dict(pred_seg_maps=np.zeros((1, 2, 2), int),
                                   gt_seg_map=np.zeros((2, 2), int),
                                   ref_indices=[0, 1])])


class IdentityGrid(BaseCorrespondence):
    """Descriptors: the canonical grid."""

    def __init__(self):
        super().__init__(input_size=16, tau=1e-3)

    def describe(self, images):
        return canonical_grid(16).expand(images.shape[0], -1, -1, -1)


def test_shifted_correspondence_shifts_the_mask_and_the_matches():
    method = IdentityGrid()
    size, k = 16, 3
    grid = canonical_grid(size)
    step = 2 / (size - 1)
    query = grid.clone()
    query[:, 0] += k * step  # each query pixel corresponds to x + k
    labels = torch.zeros(1, 4, size, size)
    rng = np.random.default_rng(1)
    lab = torch.as_tensor(rng.integers(0, 4, size=(size, size)))
    labels[0] = torch.nn.functional.one_hot(lab, 4).permute(2, 0, 1).float()
    pred = method.propagate(query, grid, labels).argmax(1)[0]
    assert torch.equal(pred[:, :size - k], lab[:, k:])
    pos, conf = method.match(query, grid)
    for y in range(size):
        for x in range(size - k):
            assert pos[0, y, x].tolist() == [x + k, y]
    assert (conf[0, :, :size - k] > 0.99).all()


def test_propagate_and_match_is_one_pass_of_the_rules_it_keeps(monkeypatch):
    import coordgan.models.correspondence.base as base
    method = IdentityGrid()
    grid = canonical_grid(16)
    query = grid.flip(-1)  # x mirrored
    labels = torch.rand(1, 3, 16, 16)
    calls = []
    fused = base.soft_correspondence_with_matches
    monkeypatch.setattr(base, 'soft_correspondence_with_matches',
                        lambda *a: calls.append(1) or fused(*a))
    soft, pos, conf = method.propagate_and_match(query, grid, labels)
    assert calls == [1]
    torch.testing.assert_close(soft, method.propagate(query, grid, labels))
    want_pos, want_conf = method.match(query, grid)
    assert torch.equal(pos, want_pos)
    torch.testing.assert_close(conf, want_conf)
    assert pos[0, 3, 2].tolist() == [13, 3]  # mirrored cell

    class OwnMatch(IdentityGrid):
        def match(self, query, ref):
            pos, conf = super().match(query, ref)
            return pos.flip(-1), conf * 0

    calls.clear()
    soft, pos, conf = OwnMatch().propagate_and_match(query, grid, labels)
    assert calls == []  # its own match rule, not the fused pass
    assert pos[0, 3, 2].tolist() == [3, 13] and not conf.any()
    torch.testing.assert_close(soft, method.propagate(query, grid, labels))


def test_cells_to_pixels_moves_each_pixel_with_its_cell():
    # 2x2 query cells on an 8 px image, matched to cells of a 4x4 reference grid.
    pos = torch.tensor([[[[3., 0.], [0., 0.]], [[1., 2.], [2., 3.]]]])
    out = cells_to_pixels(pos, ref_cells=4, query_cells=2, size=8)
    for y in range(8):
        for x in range(8):
            cx, cy = pos[0, y // 4, x // 4].tolist()
            # reference cell centre in pixels (cells of 2 px) + the pixel's
            # offset from its own cell centre (cells of 4 px)
            want = [cx * 2 + 0.5 + (x % 4 - 1.5), cy * 2 + 0.5 + (y % 4 - 1.5)]
            assert out[0, y, x].tolist() == pytest.approx(want)
    full = cells_to_pixels(pos, 2, 2, 2)  # full-resolution descriptors
    assert torch.equal(full, pos)


def synthetic(num=8, size=32, seed=0):
    return SyntheticPartsDataset(
        num_samples=num, img_size=size, seed=seed,
        pipeline=[dict(type='PackImageInputs',
                       meta_keys=('img_path', 'gt_seg_map', 'gt_coords'))])


def test_preprocessor_resizes_soft_labels_and_flips_to_rgb():
    ds = synthetic(2, 64)
    pre = MODELS.build(dict(type='PropagationDataPreprocessor', size=32,
                            num_classes=8))
    out = pre(pseudo_collate([ds[0], ds[1]]))
    img, sample = out['inputs'], out['data_samples'][0]
    assert img.shape == (2, 3, 32, 32)
    soft = sample['gt_soft']
    assert soft.shape == (8, 32, 32)
    torch.testing.assert_close(soft.sum(0), torch.ones(32, 32))
    assert torch.equal(sample['gt_seg_map'], soft.argmax(0))
    assert sample['gt_coords'].shape == (32, 32, 2)
    bgr = ds[0]['inputs'].float() / 127.5 - 1
    assert img[0, 0].mean() == pytest.approx(float(bgr[2].mean()), abs=0.02)
    pre.num_classes = 3
    with pytest.raises(ValueError, match='synthetic://0/0 .*outside the 3'):
        pre(pseudo_collate([ds[0]]))


def test_split_presets_and_explicit_splits():
    assert resolve_split(8, 5) == ([0, 1, 2, 3, 4], [5, 6, 7])
    refs, queries = resolve_split(300, [1, 3, 5, 6, 8], (100, 200))
    assert refs == [1, 3, 5, 6, 8] and queries == list(range(100, 200))
    assert resolve_split(6, [4, 0]) == ([4, 0], [1, 2, 3, 5])
    with pytest.raises(ValueError, match='0 < references < 5'):
        resolve_split(5, 5)
    with pytest.raises(ValueError, match='index 250 is outside'):
        resolve_split(250, [1, 3, 5, 6, 8], (100, 251))
    with pytest.raises(ValueError, match='both references and queries'):
        resolve_split(10, [1, 2], [2, 3])
    with pytest.raises(TypeError, match='integer indices'):
        resolve_split(10, [1.5])

    ds = LabelPropagationDataset(synthetic(12), name='toy')
    assert ds.reference_indices == [0, 1, 2, 3, 4]
    assert len(ds) == 7 and ds[0]['data_samples']['dataset_index'] == 5
    assert ds.metainfo['dataset_name'] == 'toy'
    assert [r['data_samples']['dataset_index']
            for r in ds.get_references()] == [0, 1, 2, 3, 4]
    celeba = LabelPropagationDataset(synthetic(210), split='celeba')
    assert celeba.reference_indices == [1, 3, 5, 6, 8]
    assert celeba.query_indices == list(range(100, 200))
    own = LabelPropagationDataset(synthetic(12), split='celeba',
                                  references=[0], queries=[3, 4])
    assert (own.reference_indices, own.query_indices) == ([0], [3, 4])
    with pytest.raises(ValueError, match="presets are \\['celeba', 'first5'"):
        LabelPropagationDataset(synthetic(12), split='celebA')
    no_mask = SyntheticPartsDataset(num_samples=8, img_size=16,
                                    pipeline=[dict(type='PackImageInputs')])
    with pytest.raises(KeyError, match="gt_seg_map.*meta_keys"):
        LabelPropagationDataset(no_mask)[0]


def copy_model(size=32, input_size=32):
    return MODELS.build(dict(
        type='LabelPropagationModel',
        extractor=dict(type='CopyReferenceMask', input_size=input_size),
        data_preprocessor=dict(type='PropagationDataPreprocessor',
                               size=size)))


def test_a_reference_propagated_to_itself_scores_100():
    ds = LabelPropagationDataset(synthetic(8), references=[2],
                                 queries=[3])
    for extractor in (dict(type='CopyReferenceMask', input_size=32),
                      dict(type='RawPixelNearestNeighbour', input_size=32)):
        model = MODELS.build(dict(
            type='LabelPropagationModel', extractor=extractor,
            data_preprocessor=dict(type='PropagationDataPreprocessor',
                                   size=32)))
        refs = ds.get_references()
        model.set_references(pseudo_collate(refs), ds.metainfo)
        out = model.test_step(pseudo_collate(refs))  # the reference as query
        assert torch.equal(out[0]['pred_seg_maps'][0], out[0]['gt_seg_map'])
        if extractor['type'] == 'CopyReferenceMask':
            # Identity matches (raw pixels tie between equal colours).
            ys, xs = torch.meshgrid(torch.arange(32.), torch.arange(32.),
                                    indexing='ij')
            torch.testing.assert_close(out[0]['pred_matches'][0],
                                       torch.stack([xs, ys], -1))
        metric = LabelPropagationMetric(classes=ds.metainfo['classes'])
        metric.process(None, out)
        assert metric.compute_metrics(metric.results)['IoU'] == \
            pytest.approx(100)


def test_test_step_returns_one_sample_per_query_with_every_reference():
    ds = LabelPropagationDataset(synthetic(8), references=3)
    model = copy_model()
    with pytest.raises(RuntimeError, match='set_references'):
        model.test_step(pseudo_collate([ds[0]]))
    model.set_references(pseudo_collate(ds.get_references()), ds.metainfo)
    out = model.test_step(pseudo_collate([ds[0], ds[1]]))
    assert len(out) == 2
    sample = out[0]
    assert sample['ref_indices'] == [0, 1, 2]
    assert sample['dataset_index'] == 3
    assert sample['pred_seg_maps'].shape == (3, 32, 32)
    assert sample['pred_matches'].shape == (3, 32, 32, 2)
    assert sample['ref_gt_coords'].shape == (3, 32, 32, 2)
    assert 'gt_soft' not in sample
    # Copying: the prediction from reference r is reference r's mask.
    refs = model.references['seg']
    for r in range(3):
        assert torch.equal(sample['pred_seg_maps'][r], refs[r])
