"""Label propagation as an mmengine model: describe references and queries, move labels, match pixels.

``tools/test.py CONFIG [CKPT]`` runs it through ``runner.test()`` with
:class:`coordgan.engine.LabelPropagationTestLoop`, which hands the
references to :meth:`LabelPropagationModel.set_references` once; every test
batch is then a batch of queries (REFERENCE.md section 9).
"""
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseDataPreprocessor, BaseModel

from coordgan.registry import FEATURE_EXTRACTORS, MODELS

# Per-sample entries the preprocessor passes through untouched.
_META_KEYS = ('img_path', 'dataset_index', 'sample_idx', 'name')


def images_to_unit_range(images: Sequence[torch.Tensor], size: int,
                         bgr: bool = True) -> torch.Tensor:
    """(3, H_i, W_i) uint8 images (any sizes) -> (B, 3, size, size) RGB in [-1, 1].

    Resized bilinearly with antialiasing, as the benchmark protocol resizes
    every image to the model's input size.
    """
    out = []
    for img in images:
        if img.dim() != 3 or img.shape[0] != 3:
            raise ValueError(f'expected (3, H, W) images, got '
                             f'{tuple(img.shape)}')
        img = img.float()
        if bgr:
            img = img.flip(0)
        out.append(F.interpolate(img[None] / 127.5 - 1, size=(size, size),
                                 mode='bilinear', align_corners=False,
                                 antialias=True)[0])
    return torch.stack(out)


def soft_labels(seg: torch.Tensor, num_classes: int, size: int,
                source: str = 'mask') -> torch.Tensor:
    """(H, W) integer labels -> (K, size, size) soft labels: one-hot at native size, resized bilinearly."""
    seg = torch.as_tensor(seg).long()
    if seg.dim() != 2:
        raise ValueError(f'{source}: expected an (H, W) label map, got shape '
                         f'{tuple(seg.shape)}')
    if seg.numel() and (seg.min() < 0 or seg.max() >= num_classes):
        raise ValueError(f'{source}: label {int(seg.max())} (min '
                         f'{int(seg.min())}) outside the {num_classes} '
                         'classes of the dataset')
    onehot = F.one_hot(seg, num_classes).permute(2, 0, 1).float()
    return F.interpolate(onehot[None], size=(size, size), mode='bilinear',
                         align_corners=False)[0]


@MODELS.register_module()
class PropagationDataPreprocessor(BaseDataPreprocessor):
    """Packed labelled items -> images (B, 3, S, S) in [-1, 1] and eval-size ground truth.

    Each output sample dict holds ``gt_seg_map`` (S, S) (argmax of the soft
    labels), ``gt_soft`` (K, S, S), ``gt_coords`` (S, S, 2) when the item has
    canonical coordinates, and the item's path and index. ``num_classes`` is
    set from the dataset's classes by the test loop (or by the caller).
    """

    def __init__(self, size: int = 128, bgr_to_rgb: bool = True,
                 num_classes: Optional[int] = None):
        super().__init__()
        self.size = int(size)
        self.bgr_to_rgb = bgr_to_rgb
        self.num_classes = num_classes

    def forward(self, data: dict, training: bool = False) -> dict:
        inputs = data['inputs']
        if isinstance(inputs, torch.Tensor) and inputs.dim() == 3:
            inputs = [inputs]
        images = images_to_unit_range(list(inputs), self.size,
                                      self.bgr_to_rgb)
        samples = data.get('data_samples') or [{} for _ in inputs]
        if isinstance(samples, dict):
            # mmengine's pseudo_collate turns a list of dicts into a dict of
            # lists; undo it per sample.
            samples = [{k: v[i] for k, v in samples.items()}
                       for i in range(len(inputs))]
        out = []
        for item in samples:
            item = dict(item)
            sample = {k: item[k] for k in _META_KEYS if k in item}
            source = str(item.get('img_path', 'item'))
            if 'gt_seg_map' in item:
                seg = torch.as_tensor(item['gt_seg_map'])
                num_classes = self.num_classes or int(seg.max()) + 1
                soft = soft_labels(seg, num_classes, self.size,
                                   f'{source} (its mask)')
                sample['gt_soft'] = soft
                sample['gt_seg_map'] = soft.argmax(0)
            if 'gt_coords' in item:
                coords = torch.as_tensor(item['gt_coords']).float()
                sample['gt_coords'] = F.interpolate(
                    coords.permute(2, 0, 1)[None], size=(self.size,) * 2,
                    mode='bilinear', align_corners=False)[0].permute(1, 2, 0)
            out.append(sample)
        return dict(inputs=self.cast_data(images), data_samples=out)


def cells_to_pixels(pos: torch.Tensor, ref_cells: int, query_cells: int,
                    size: int) -> torch.Tensor:
    """Matches on descriptor grids -> (B, size, size, 2) matched (x, y) in pixels of the size x size image.

    ``pos`` (B, h, h, 2) holds, per query cell, the matched reference cell
    (cell centres at integers). Every pixel of a query cell moves with the
    cell: it lands at the matched cell's centre plus the pixel's offset from
    its own cell's centre (exact for full-resolution descriptors).
    """
    ref_scale = size / ref_cells
    centre = (pos + 0.5) * ref_scale - 0.5  # (B, h, h, 2) in pixels
    rep = size // query_cells
    if rep * query_cells != size:
        raise ValueError(f'descriptor grid {query_cells} must divide the '
                         f'image size {size}')
    centre = centre.repeat_interleave(rep, 1).repeat_interleave(rep, 2)
    offset = (torch.arange(size, device=pos.device, dtype=pos.dtype) % rep -
              (rep - 1) / 2)
    offset_xy = torch.stack(torch.broadcast_tensors(offset[None, :],
                                                    offset[:, None]), -1)
    return centre + offset_xy


@MODELS.register_module()
class LabelPropagationModel(BaseModel):
    """Propagates the references' part labels to each query with a feature-extractor plug-in.

    Args:
        extractor (dict): A ``FEATURE_EXTRACTORS`` config (CoordGAN's C^w,
            ResNet50 / MoCo / VFS features, trivial baselines).
        data_preprocessor (dict, optional): Defaults to
            :class:`PropagationDataPreprocessor` at 128, the protocol's
            evaluation size S: labels, predictions and matches live on the
            S x S grid, whatever size the extractor describes images at
            (it resizes them to its own ``input_size``).
        with_matches (str or bool): Also return dense matches (for the
            correspondence metric and pictures): ``'auto'`` when the
            queries carry ground-truth coordinates, or always / never.
    """

    def __init__(self,
                 extractor: dict,
                 data_preprocessor: Optional[dict] = None,
                 with_matches='auto',
                 init_cfg: Optional[dict] = None):
        extractor = (FEATURE_EXTRACTORS.build(extractor)
                     if isinstance(extractor, dict) else extractor)
        if data_preprocessor is None:
            data_preprocessor = dict(type='PropagationDataPreprocessor',
                                     size=128)
        if isinstance(data_preprocessor, dict):
            # Built here so that the model also builds outside a Runner
            # (no default scope set).
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        if with_matches not in ('auto', True, False):
            raise ValueError(f"with_matches must be 'auto', True or False, "
                             f'got {with_matches!r}')
        # Evaluation only: frozen, so no DDP reducer is ever built for it.
        self.extractor = extractor.requires_grad_(False).eval()
        self.with_matches = with_matches
        self.references: Optional[Dict] = None
        # Checkpoints of a stage-2 model (encoder.*, generator.*) or of the
        # extractor alone load into self.extractor.
        self._register_load_state_dict_pre_hook(self._adapt_checkpoint)

    @property
    def size(self) -> int:
        return self.data_preprocessor.size

    def _adapt_checkpoint(self, state_dict, prefix, *args) -> None:
        own = prefix + 'extractor.'
        if any(k.startswith(own) for k in state_dict):
            return
        keys = [k for k in state_dict if k.startswith(prefix)]
        moved = {k: state_dict.pop(k) for k in keys}
        adapt = getattr(self.extractor, 'adapt_checkpoint', None)
        stripped = {k[len(prefix):]: v for k, v in moved.items()}
        if adapt is not None:
            stripped = adapt(stripped)
        for k, v in stripped.items():
            state_dict[own + k] = v

    # ------------------------------------------------------------ references
    @torch.no_grad()
    def set_references(self, data: dict,
                       dataset_meta: Optional[dict] = None) -> None:
        """Describe the references once: ``data`` is a collated batch of packed reference items."""
        if dataset_meta and 'classes' in dataset_meta:
            self.data_preprocessor.num_classes = len(dataset_meta['classes'])
        data = self.data_preprocessor(data, False)
        samples = data['data_samples']
        if any('gt_soft' not in s for s in samples):
            raise KeyError('every reference needs a gt_seg_map (its mask)')
        self.references = dict(
            images=data['inputs'],
            descriptors=self.describe(data['inputs']),
            soft=torch.stack([s['gt_soft'] for s in samples]).to(
                data['inputs'].device),
            seg=torch.stack([s['gt_seg_map'] for s in samples]),
            indices=[int(s.get('dataset_index', i))
                     for i, s in enumerate(samples)],
            coords=(torch.stack([s['gt_coords'] for s in samples])
                    if all('gt_coords' in s for s in samples) else None))

    def describe(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) in [-1, 1] -> (B, D, h, w) descriptors."""
        return self.extractor.describe(images)

    def match(self, query: torch.Tensor, ref: torch.Tensor):
        """Descriptors (B, D, h, w), (B, D, h', w') -> matched (x, y) (B, S, S, 2) in S-grid pixels, confidence (B, S, S)."""
        return self._to_pixels(*self.extractor.match(query, ref), query, ref)

    def _to_pixels(self, pos: torch.Tensor, conf: torch.Tensor,
                   query: torch.Tensor, ref: torch.Tensor):
        """Matched reference cells and confidences on the descriptor grid -> on the S-pixel grid."""
        size = self.size
        points = cells_to_pixels(pos, ref.shape[-1], query.shape[-1], size)
        rep = size // query.shape[-1]
        conf = conf.repeat_interleave(rep, 1).repeat_interleave(rep, 2)
        return points, conf

    # ------------------------------------------------------------- inference
    @torch.no_grad()
    def predict(self, images: torch.Tensor, with_matches: bool = False
                ) -> List[Dict[str, torch.Tensor]]:
        """(B, 3, S, S) queries -> per query: labels from every reference (R, S, S), optional matches."""
        if self.references is None:
            raise RuntimeError('LabelPropagationModel has no references: '
                               'call set_references() first (the '
                               'LabelPropagationTestLoop does)')
        ref = self.references
        desc = self.describe(images)
        num, size = images.shape[0], self.size
        labels, matches, confidence = [], [], []
        for r in range(ref['descriptors'].shape[0]):
            ref_desc = ref['descriptors'][r:r + 1].expand(num, -1, -1, -1)
            ref_soft = ref['soft'][r:r + 1].expand(num, -1, -1, -1)
            if with_matches:
                soft, pos, conf = self.extractor.propagate_and_match(
                    desc, ref_desc, ref_soft)
                points, conf = self._to_pixels(pos, conf, desc, ref_desc)
                matches.append(points.cpu())
                confidence.append(conf.cpu())
            else:
                soft = self.extractor.propagate(desc, ref_desc, ref_soft)
            if soft.shape[-1] != size:
                soft = F.interpolate(soft, size=(size, size),
                                     mode='bilinear', align_corners=False)
            labels.append(soft.argmax(1).cpu())
        out = []
        for i in range(num):
            sample = dict(pred_seg_maps=torch.stack([l[i] for l in labels]),
                          ref_indices=list(ref['indices']))
            if with_matches:
                sample['pred_matches'] = torch.stack([m[i] for m in matches])
                sample['match_confidence'] = torch.stack(
                    [c[i] for c in confidence])
            if desc.shape[1] == 2:  # coordinate maps are worth drawing
                sample['pred_descriptor'] = desc[i].cpu()
            out.append(sample)
        return out

    def test_step(self, data) -> List[dict]:
        data = self.data_preprocessor(data, False)
        samples = data['data_samples']
        has_coords = all('gt_coords' in s for s in samples)
        with_matches = (has_coords if self.with_matches == 'auto' else
                        self.with_matches)
        preds = self.predict(data['inputs'], with_matches)
        ref = self.references
        for sample, pred in zip(samples, preds):
            sample.pop('gt_soft', None)
            sample.update(pred)
            if has_coords and ref['coords'] is not None:
                sample['ref_gt_coords'] = ref['coords'].cpu()
                sample['ref_gt_seg_maps'] = ref['seg'].cpu()
        return samples

    val_step = test_step

    def forward(self, inputs=None, data_samples=None, mode: str = 'tensor'):
        """``'tensor'``: descriptors of ``inputs`` (B, 3, S, S); ``'predict'``: :meth:`predict`."""
        if mode == 'tensor':
            return self.describe(inputs)
        if mode == 'predict':
            return self.predict(inputs, with_matches=self.with_matches is True)
        raise NotImplementedError(
            f'LabelPropagationModel is an evaluation model; mode={mode!r} '
            "is not supported ('tensor' or 'predict')")
