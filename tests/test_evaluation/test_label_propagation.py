import numpy as np
import pytest
import torch

from coordgan.apis import default_split, prepare_item, propagate_labels
from coordgan.datasets import SyntheticPartsDataset
from coordgan.evaluation import LabelPropagationMetric
from coordgan.models.correspondence import (BaseCorrespondence,
                                            CopyReferenceMask,
                                            RawPixelNearestNeighbour)
from coordgan.ops import canonical_grid


def brute_force_metrics(pairs, num_classes):
    """Loops over references, classes and pixels, written from REFERENCE.md section 9."""
    refs = sorted({r for _, _, r in pairs})
    per_ref = []
    for ref in refs:
        ious = []
        for c in range(1, num_classes):
            inter = union = 0
            for pred, gt, r in pairs:
                if r != ref:
                    continue
                for p, g in zip(pred.ravel(), gt.ravel()):
                    if g == 0:
                        continue  # predictions on GT background ignored
                    inter += (p == c) and (g == c)
                    union += (p == c) or (g == c)
            ious.append(inter / union if union else 0.0)
        per_ref.append(np.mean(ious))
    conf = np.zeros((num_classes, num_classes))
    for pred, gt, _ in pairs:
        for p, g in zip(pred.ravel(), gt.ravel()):
            conf[g, p] += 1
    std = []
    for c in range(num_classes):
        union = conf[c].sum() + conf[:, c].sum() - conf[c, c]
        if union:
            std.append(conf[c, c] / union)
    return 100 * np.mean(per_ref), 100 * np.mean(std)


def test_metric_equals_brute_force_with_absent_classes():
    rng = np.random.default_rng(0)
    classes = ('bg', 'a', 'b', 'c', 'never')
    metric = LabelPropagationMetric(classes=classes)
    pairs = []
    for ref in range(3):
        for _ in range(4):
            gt = rng.integers(0, 4, size=(9, 7))  # class 4 never appears
            pred = rng.integers(0, 4, size=(9, 7))
            if ref == 1:
                gt[gt == 3] = 0  # class 3 absent for this reference's queries
            pairs.append((pred, gt, ref))
    metric.process(None, [dict(pred=p, gt=g, ref_index=r)
                          for p, g, r in pairs])
    res = metric.compute_metrics(metric.results)
    paper, standard = brute_force_metrics(pairs, len(classes))
    assert res['IoU'] == pytest.approx(paper)
    assert res['mIoU'] == pytest.approx(standard)
    assert res['IoU/never'] == 0
    assert np.isnan(res['mIoU/never'])
    assert res['num_pairs'] == 12 and res['num_references'] == 3


def test_metric_rejects_bad_labels():
    metric = LabelPropagationMetric(classes=('bg', 'a'))
    with pytest.raises(ValueError, match='num_classes=2'):
        metric.process(None, [dict(pred=np.zeros((2, 2), int),
                                   gt=np.full((2, 2), 5), ref_index=0)])


class IdentityGrid(BaseCorrespondence):
    """Descriptors: the canonical grid, moved by ``shift`` pixels for queries."""

    def __init__(self, shift=0):
        super().__init__(input_size=16, tau=1e-3)
        self.shift = shift

    def describe(self, images):
        return canonical_grid(16).expand(images.shape[0], -1, -1, -1)


def test_identical_reference_and_query_score_100():
    ds = SyntheticPartsDataset(num_samples=6, img_size=32, pipeline=[
        dict(type='PackImageInputs', meta_keys=('gt_seg_map', ))])
    res = propagate_labels(CopyReferenceMask(input_size=32), ds, [2], [2])
    assert res['propagation/IoU'] == pytest.approx(100)
    assert res['propagation/mIoU'] == pytest.approx(100)
    res = propagate_labels(RawPixelNearestNeighbour(input_size=32), ds, [3],
                           [3])
    assert res['propagation/IoU'] == pytest.approx(100)


def test_shifted_correspondence_shifts_the_mask():
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


def test_prepare_item_resizes_soft_labels_and_flips_to_rgb():
    ds = SyntheticPartsDataset(num_samples=2, img_size=64, pipeline=[
        dict(type='PackImageInputs', meta_keys=('gt_seg_map', ))])
    item = ds[0]
    img, soft, gt = prepare_item(item, 32, 8)
    assert img.shape == (3, 32, 32) and soft.shape == (8, 32, 32)
    torch.testing.assert_close(soft.sum(0), torch.ones(32, 32))
    assert torch.equal(gt, soft.argmax(0))
    bgr = item['inputs'].float() / 127.5 - 1
    assert img[0].mean() == pytest.approx(
        float(bgr[2].mean()), abs=0.02)  # channel 0 is red
    with pytest.raises(ValueError, match='outside'):
        prepare_item(item, 32, 3)
    assert default_split(8) == ([0, 1, 2, 3, 4], [5, 6, 7])
    with pytest.raises(ValueError, match='more than 5'):
        default_split(5)


def test_show_dir_writes_side_by_side_pictures(tmp_path):
    ds = SyntheticPartsDataset(num_samples=8, img_size=32, pipeline=[
        dict(type='PackImageInputs', meta_keys=('gt_seg_map', ))])
    propagate_labels(CopyReferenceMask(input_size=32), ds, [0, 1], [5, 6, 7],
                     batch_size=2, show_dir=str(tmp_path), num_show=2)
    import cv2
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ['ref0_query5.png', 'ref0_query6.png']
    assert cv2.imread(str(tmp_path / files[0])).shape == (32, 6 * 32, 3)
