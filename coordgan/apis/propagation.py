"""Label propagation from reference images to query images (REFERENCE.md section 9)."""
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import mmengine
import numpy as np
import torch
import torch.nn.functional as F
from mmengine.dist import get_rank, get_world_size

from coordgan.datasets.segmentation import default_palette
from coordgan.evaluation import LabelPropagationMetric
from coordgan.models.correspondence import BaseCorrespondence
from coordgan.ops import resize_to
from coordgan.visualization import coords_to_rgb


def prepare_item(item: dict, size: int, num_classes: int
                 ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A packed dataset item -> image (3, S, S) RGB in [-1, 1], soft labels (K, S, S), labels (S, S).

    Labels are one-hot at native size, resized bilinearly to ``size``; the
    ground truth is their argmax.
    """
    if 'gt_seg_map' not in item.get('data_samples', {}):
        raise KeyError('dataset items need data_samples["gt_seg_map"] (add '
                       "'gt_seg_map' to PackImageInputs' meta_keys)")
    img = item['inputs'].float().flip(0) / 127.5 - 1  # BGR -> RGB
    img = F.interpolate(img[None], size=(size, size), mode='bilinear',
                        align_corners=False, antialias=True)[0]
    seg = torch.as_tensor(item['data_samples']['gt_seg_map']).long()
    if seg.max() >= num_classes or seg.min() < 0:
        raise ValueError(f'{item["data_samples"].get("img_path", "item")}: '
                         f'label {int(seg.max())} outside the '
                         f'{num_classes} classes of the dataset')
    onehot = F.one_hot(seg, num_classes).permute(2, 0, 1).float()
    soft = F.interpolate(onehot[None], size=(size, size), mode='bilinear',
                         align_corners=False)[0]
    return img, soft, soft.argmax(0)


def default_split(num_items: int, num_refs: int = 5
                  ) -> Tuple[List[int], List[int]]:
    """First ``num_refs`` items are references, the rest queries."""
    if num_items <= num_refs:
        raise ValueError(f'need more than {num_refs} items for {num_refs} '
                         f'references and some queries, got {num_items}')
    return list(range(num_refs)), list(range(num_refs, num_items))


def _palette(num_classes: int, palette=None) -> np.ndarray:
    """(K, 3) uint8 RGB colours: the dataset's if it has enough, else generated."""
    if palette is None or len(palette) < num_classes:
        palette = default_palette(num_classes)
    return np.asarray(palette, dtype=np.uint8)[:num_classes]


def _show(path: str, ref_img, ref_lab, query_img, pred, ref_desc, query_desc,
          palette: np.ndarray) -> None:
    """Save reference, its mask, query, propagated mask and both descriptor maps side by side."""

    def rgb(t):
        return ((t.permute(1, 2, 0).cpu().numpy() + 1) * 127.5).clip(
            0, 255).astype(np.uint8)

    def desc(d):
        if d.shape[0] != 2:
            return np.zeros((size, size, 3), np.uint8)
        d = F.interpolate(d[None], size=(size, size), mode='nearest')[0]
        return (coords_to_rgb(d[None])[0].permute(1, 2, 0).cpu().numpy() *
                255).astype(np.uint8)

    size = ref_img.shape[-1]
    tiles = [rgb(ref_img), palette[ref_lab.cpu().numpy()], rgb(query_img),
             palette[pred.cpu().numpy()], desc(ref_desc), desc(query_desc)]
    cv2.imwrite(path, np.concatenate(tiles, axis=1)[..., ::-1])


@torch.no_grad()
def propagate_labels(method: BaseCorrespondence,
                     dataset,
                     ref_indices: Sequence[int],
                     query_indices: Sequence[int],
                     batch_size: int = 8,
                     device: str = 'cpu',
                     show_dir: Optional[str] = None,
                     num_show: int = 8) -> Dict[str, float]:
    """Propagate every reference's labels to every query with ``method``; return the metric.

    Queries are split across ranks; the metric gathers the pair statistics.
    With ``show_dir``, the first ``num_show`` queries of the first reference
    are drawn there.
    """
    classes = tuple(dataset.metainfo['classes'])
    num_classes = len(classes)
    size = method.input_size
    method = method.to(device).eval()
    metric = LabelPropagationMetric(classes=classes)
    refs = [prepare_item(dataset[i], size, num_classes) for i in ref_indices]
    ref_imgs = torch.stack([r[0] for r in refs]).to(device)
    ref_soft = torch.stack([r[1] for r in refs]).to(device)
    ref_desc = torch.cat([method.describe(ref_imgs[i:i + batch_size])
                          for i in range(0, len(refs), batch_size)])
    palette = _palette(num_classes, dataset.metainfo.get('palette'))
    if show_dir:
        mmengine.mkdir_or_exist(show_dir)

    mine = list(query_indices)[get_rank()::get_world_size()]
    for start in range(0, len(mine), batch_size):
        chunk = mine[start:start + batch_size]
        items = [prepare_item(dataset[i], size, num_classes) for i in chunk]
        imgs = torch.stack([it[0] for it in items]).to(device)
        gts = torch.stack([it[2] for it in items])
        desc = method.describe(imgs)
        for r, ref_index in enumerate(ref_indices):
            n = len(chunk)
            soft = method.propagate(desc, ref_desc[r:r + 1].expand(n, -1, -1, -1),
                                    ref_soft[r:r + 1].expand(n, -1, -1, -1))
            preds = resize_to(soft, size).argmax(1).cpu()
            metric.process(None, [
                dict(pred=p.numpy(), gt=g.numpy(), ref_index=ref_index)
                for p, g in zip(preds, gts)
            ])
            if show_dir and r == 0:
                for k, q in enumerate(chunk):
                    if start + k < num_show:
                        _show(osp.join(show_dir, f'ref{ref_index}_query{q}.png'),
                              ref_imgs[0], refs[0][2], imgs[k], preds[k],
                              ref_desc[0], desc[k], palette)
    return metric.evaluate(len(query_indices) * len(ref_indices))
