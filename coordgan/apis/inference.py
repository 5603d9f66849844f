"""Inference on people's own images: a model from a config, dense matches, mask propagation.

    from coordgan.apis import init_model, dense_correspondence, propagate_mask
    model = init_model('configs/labelprop/coordgan_synthetic.py',
                       'work_dirs/coordgan-encoder_synthetic/iter_3500.pth')
    match = dense_correspondence(model, 'a.png', 'b.png')
    masks = propagate_mask(model, 'ref.png', 'ref_mask.png', ['q1.png', 'q2.png'])

Images are file paths or (H, W, 3) uint8 arrays in BGR order (what
``cv2.imread`` and ``mmcv.imread`` return); masks are paths (PNG or .npy)
or (H, W) integer arrays.
"""
import os.path as osp
from typing import List, NamedTuple, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.runner.checkpoint import load_checkpoint

from coordgan.datasets.transforms.loading import (read_npy_labels,
                                                  read_png_labels)
from coordgan.models.algorithms.label_propagation import \
    LabelPropagationModel
from coordgan.registry import MODELS, init_default_scope
from coordgan.utils import check_checkpoint_fits

ImageLike = Union[str, np.ndarray]


class DenseCorrespondence(NamedTuple):
    """For every pixel of image b: its matched (x, y) in image a's pixels, and a confidence.

    ``points`` (Hb, Wb, 2) float32, pixel centres at integer coordinates;
    ``confidence`` (Hb, Wb) in [0, 1].
    """
    points: np.ndarray
    confidence: np.ndarray


def _propagation_model_cfg(cfg: Config) -> dict:
    """The config's model as a LabelPropagationModel config (encoder-stage configs are wrapped)."""
    model = cfg.model.to_dict()
    if model.get('type') == 'CoordGANInversion':
        # An encoder-stage config: evaluate its encoder + generator.
        return dict(type='LabelPropagationModel',
                    extractor=dict(type='CoordGANCorrespondence',
                                   encoder=model['encoder'],
                                   generator=model['generator'],
                                   input_size=model['encoder']['in_size']))
    return model


def init_model(config: Union[str, Config],
               checkpoint: Optional[str] = None,
               device: str = 'cpu',
               cfg_options: Optional[dict] = None) -> LabelPropagationModel:
    """A :class:`LabelPropagationModel` from a label-propagation or encoder-stage config, in eval mode."""
    cfg = Config.fromfile(config) if isinstance(config, str) else config
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'coordgan'))
    model_cfg = _propagation_model_cfg(cfg)
    model = MODELS.build(model_cfg)
    if not isinstance(model, LabelPropagationModel):
        raise TypeError(f'{getattr(config, "filename", config)}: model type '
                        f'{type(model).__name__} is not a label-propagation '
                        'model; use a configs/labelprop/ or encoder-stage '
                        'config')
    if checkpoint is not None:
        if not osp.isfile(checkpoint):
            raise FileNotFoundError(f'checkpoint {checkpoint!r} does not '
                                    'exist')
        # Wrong stage, model or size: an error naming the file, not a
        # half-loaded model.
        check_checkpoint_fits(model_cfg, checkpoint, strict=True,
                              used_as='init_model')
        load_checkpoint(model, checkpoint, map_location='cpu', strict=False)
    return model.to(device).eval()


def read_image(image: ImageLike) -> np.ndarray:
    """A path or an (H, W, 3) uint8 BGR array -> that array (checked)."""
    if isinstance(image, str):
        if not osp.isfile(image):
            raise FileNotFoundError(f'image {image!r} does not exist')
        arr = cv2.imread(image, cv2.IMREAD_COLOR)
        if arr is None:
            raise ValueError(f'{image}: OpenCV cannot read it as an image')
        return arr
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
        raise ValueError(f'expected an (H, W, 3) uint8 BGR image, got shape '
                         f'{arr.shape} dtype {arr.dtype}')
    return arr


def read_mask(mask: Union[str, np.ndarray]) -> np.ndarray:
    """A .png/.npy path or an (H, W) integer array -> (H, W) int64 labels."""
    if isinstance(mask, str):
        if not osp.isfile(mask):
            raise FileNotFoundError(f'mask {mask!r} does not exist')
        reader = read_npy_labels if mask.endswith('.npy') else read_png_labels
        mask = reader(mask)
    arr = np.asarray(mask)
    if arr.ndim != 2 or arr.dtype.kind not in 'iu':
        raise ValueError(f'expected an (H, W) integer label map, got shape '
                         f'{arr.shape} dtype {arr.dtype}')
    return arr.astype(np.int64)


def _batch(images: Sequence[np.ndarray], masks=None) -> dict:
    inputs = [torch.from_numpy(np.ascontiguousarray(i)).permute(2, 0, 1)
              for i in images]
    samples = [{} for _ in images] if masks is None else [
        dict(gt_seg_map=torch.from_numpy(m), dataset_index=k)
        for k, m in enumerate(masks)]
    return dict(inputs=inputs, data_samples=samples)


def _resample(field: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(C, S, S) -> (C, height, width) bilinear (pixel centres aligned)."""
    return F.interpolate(field[None], size=(height, width), mode='bilinear',
                         align_corners=False)[0]


@torch.no_grad()
def dense_correspondence(model: LabelPropagationModel, img_a: ImageLike,
                         img_b: ImageLike) -> DenseCorrespondence:
    """For every pixel of ``img_b``, the matched position in ``img_a`` (its pixels) and a confidence.

    Both images are described at the model's input size S; each of b's
    descriptor cells is matched to its nearest cell of a (the extractor's
    ``match``), the S x S match field is resampled bilinearly to b's size
    and scaled to a's size.
    """
    a, b = read_image(img_a), read_image(img_b)
    data = model.data_preprocessor(_batch([a, b]), False)
    desc = model.describe(data['inputs'])
    points, conf = model.match(desc[1:], desc[:1])
    points, conf, size = points[0], conf[0], model.size
    hb, wb = b.shape[:2]
    ha, wa = a.shape[:2]
    points = _resample(points.permute(2, 0, 1).float(), hb, wb)
    scale = torch.tensor([wa / size, ha / size], device=points.device)
    points = (points.permute(1, 2, 0) + 0.5) * scale - 0.5
    conf = _resample(conf[None].float(), hb, wb)[0].clamp(0, 1)
    return DenseCorrespondence(points.cpu().numpy().astype(np.float32),
                               conf.cpu().numpy().astype(np.float32))


@torch.no_grad()
def propagate_mask(model: LabelPropagationModel,
                   ref_img: ImageLike,
                   ref_mask: Union[str, np.ndarray],
                   images: Sequence[ImageLike],
                   batch_size: int = 8,
                   num_classes: Optional[int] = None) -> List[np.ndarray]:
    """Propagate the reference's part labels to each image: (H_i, W_i) int64 masks at each image's size.

    ``num_classes`` defaults to the largest label of ``ref_mask`` + 1.
    """
    ref = read_image(ref_img)
    mask = read_mask(ref_mask)
    if num_classes is None:
        num_classes = int(mask.max()) + 1
    model.data_preprocessor.num_classes = num_classes
    model.set_references(_batch([ref], [mask]))
    out = []
    for start in range(0, len(images), batch_size):
        chunk = [read_image(i) for i in images[start:start + batch_size]]
        data = model.data_preprocessor(_batch(chunk), False)
        preds = model.predict(data['inputs'])
        for img, pred in zip(chunk, preds):
            out.append(resize_labels(pred['pred_seg_maps'][0].numpy(),
                                     img.shape[:2]))
    return out


def resize_labels(labels: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """(H, W) label map -> (h, w) int64, each output pixel the label at its centre.

    Pixel-centre nearest neighbour (``cv2.INTER_NEAREST_EXACT``): output
    pixel (i, j) reads input pixel (floor((i + 0.5) H / h), floor((j + 0.5)
    W / w)). OpenCV's ``INTER_NEAREST`` reads floor(i H / h) instead, the
    top-left pixel of each block, which shifts a 4x smaller mask by 3/8 of
    a pixel up and left.
    """
    h, w = size
    return cv2.resize(labels.astype(np.uint16), (w, h),
                      interpolation=cv2.INTER_NEAREST_EXACT).astype(np.int64)
