"""Brute-force label-propagation scores written from REFERENCE.md section 9, for tests."""
import numpy as np


def brute_force_metrics(pairs, num_classes):
    """(pred, gt, ref) triples -> (paper IoU, standard mIoU) in percent, by explicit loops."""
    refs = sorted({r for _, _, r in pairs})
    per_ref = []
    for ref in refs:
        ious = []
        for c in range(1, num_classes):
            inter = union = 0
            for pred, gt, r in pairs:
                if r != ref:
                    continue
                for p, g in zip(np.ravel(pred), np.ravel(gt)):
                    if g == 0:
                        continue  # predictions on GT background ignored
                    inter += (p == c) and (g == c)
                    union += (p == c) or (g == c)
            ious.append(inter / union if union else 0.0)
        per_ref.append(np.mean(ious))
    conf = np.zeros((num_classes, num_classes))
    for pred, gt, _ in pairs:
        for p, g in zip(np.ravel(pred), np.ravel(gt)):
            conf[g, p] += 1
    std = []
    for c in range(num_classes):
        union = conf[c].sum() + conf[:, c].sum() - conf[c, c]
        if union:
            std.append(conf[c, c] / union)
    return 100 * np.mean(per_ref), 100 * np.mean(std)
