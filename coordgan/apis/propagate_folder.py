"""Label a folder of people's own images from one annotated image: files in, PNG masks, overlays and COCO JSON out.

    from coordgan.apis import init_model, propagate_folder
    model = init_model('configs/labelprop/coordgan_synthetic.py', 'iter_3500.pth')
    summary = propagate_folder(model, 'ref.jpg', 'ref_ann.json', 'photos/',
                               'out/', coco_out='out/pred.json')

Images: JPEG, PNG, BMP, WebP or TIFF of any size, 8- or 16-bit, grey, colour
or with alpha. EXIF orientation is applied (as OpenCV's ``IMREAD_COLOR``
does), so masks have the size the image is shown at. Alpha is composited
over white. Reference annotations: a label-map PNG/``.npy`` or a COCO JSON
(polygons or RLE) whose categories become labels 1..K in category-id order.
"""
import json
import os
import os.path as osp
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import cv2
import numpy as np
from mmengine.utils import ProgressBar

from coordgan.datasets.file_checks import (BadFileError, describe_unreadable,
                                           read_image_header)
from coordgan.datasets.segmentation import default_palette
from .inference import propagate_mask, read_mask

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif',
                    '.tiff')
# Transparent pixels become this colour (BGR): a neutral background, as most
# viewers draw it, instead of whatever colour a tool left under alpha 0.
ALPHA_BACKGROUND = (255, 255, 255)
OVERLAY_OPACITY = 0.5


class PropagationSummary(NamedTuple):
    """What :func:`propagate_folder` did: written images' relative paths and skipped (path, reason) pairs."""
    written: List[str]
    skipped: List[Tuple[str, str]]


def load_image(path: str) -> np.ndarray:
    """An image file -> (H, W, 3) uint8 BGR as displayed: EXIF orientation applied, alpha over white, 16 bit scaled.

    Raises :class:`BadFileError` naming the file when it is missing, not an
    image, truncated or corrupt.
    """
    if not osp.isfile(path):
        raise BadFileError(path, 'the file does not exist')
    # Header, size and end marker first: a clear reason for a bad file.
    header = read_image_header(path)
    try:
        # IMREAD_COLOR applies EXIF orientation, expands grey and reduces
        # 16-bit channels to 8 bits (value >> 8).
        img = cv2.imread(path, cv2.IMREAD_COLOR)
    except cv2.error as err:
        raise BadFileError(path, describe_unreadable(path, err)) from err
    if img is None:
        raise BadFileError(path, describe_unreadable(
            path, ValueError('cv2.imread returned None')))
    if header.format == 'JPEG':  # no alpha: spare a second decode
        return img
    raw = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    # IMREAD_UNCHANGED ignores orientation: composite only where the raw
    # pixels line up with the displayed ones (PNG/WebP/TIFF carry alpha and
    # hardly ever an orientation tag); otherwise alpha is dropped.
    if raw is not None and raw.ndim == 3 and raw.shape[2] == 4 \
            and raw.shape[:2] == img.shape[:2]:
        img = _over_background(raw)
    return img


def _over_background(bgra: np.ndarray) -> np.ndarray:
    """(H, W, 4) uint8/uint16/float BGRA -> (H, W, 3) uint8 BGR over :data:`ALPHA_BACKGROUND`."""
    if bgra.dtype == np.uint8:
        scale = 255.0
    elif bgra.dtype == np.uint16:
        scale = 65535.0
    else:
        scale = 1.0
    px = bgra.astype(np.float64) / scale
    alpha = px[..., 3:]
    background = np.asarray(ALPHA_BACKGROUND, np.float64) / 255.0
    out = px[..., :3] * alpha + background * (1 - alpha)
    return np.clip(np.rint(out * 255), 0, 255).astype(np.uint8)


def list_images(folder: str) -> List[str]:
    """Image files under ``folder`` (recursive, by extension, hidden files skipped), sorted, relative to it."""
    if not osp.isdir(folder):
        raise FileNotFoundError(f'image folder {folder!r} does not exist or '
                                'is not a folder')
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith('.'))
        for name in files:
            if not name.startswith('.') and \
                    name.lower().endswith(IMAGE_EXTENSIONS):
                found.append(osp.relpath(osp.join(root, name), folder))
    return sorted(found)


def read_coco_reference(json_path: str, image_name: str,
                        image_shape: Tuple[int, int]
                        ) -> Tuple[np.ndarray, List[dict]]:
    """A COCO JSON's annotations of the image named ``image_name`` -> ((H, W) int64 labels, categories).

    Categories sorted by id become labels 1..K, background 0; polygons and
    RLE (compressed or not) are decoded with pycocotools; where annotations
    overlap, the later one in the file wins. Errors name ``json_path``.
    """
    from pycocotools import mask as mask_utils

    try:
        with open(json_path, encoding='utf-8') as f:
            coco = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BadFileError(json_path, f'cannot read it as JSON ({err})') \
            from err
    if not isinstance(coco, dict) or not all(
            isinstance(coco.get(k), list)
            for k in ('images', 'annotations', 'categories')):
        raise BadFileError(json_path, 'not a COCO annotation file: expected '
                           'an object with lists "images", "annotations" '
                           'and "categories"')
    base = osp.basename(image_name)
    matches = [im for im in coco['images']
               if osp.basename(str(im.get('file_name', ''))) == base]
    if len(matches) != 1:
        names = [osp.basename(str(im.get('file_name')))
                 for im in coco['images'][:10]]
        found = 'no' if not matches else f'{len(matches)}'
        raise BadFileError(json_path, f'{found} image entries have file '
                           f'name {base!r} (the reference image); it lists '
                           f'{names}')
    entry = matches[0]
    height, width = image_shape
    if (entry.get('height'), entry.get('width')) != (height, width):
        raise BadFileError(
            json_path, f'image {base!r} is {entry.get("height")}x'
            f'{entry.get("width")} (HxW) in the JSON but {height}x{width} '
            'as read (after EXIF orientation); annotate the image as shown')
    categories = sorted(coco['categories'], key=lambda c: c['id'])
    label_of = {c['id']: k for k, c in enumerate(categories, 1)}
    labels = np.zeros((height, width), np.int64)
    for ann in coco['annotations']:
        if ann.get('image_id') != entry.get('id'):
            continue
        if ann.get('category_id') not in label_of:
            raise BadFileError(json_path, f'annotation {ann.get("id")} has '
                               f'category_id {ann.get("category_id")}, not '
                               f'among the categories {sorted(label_of)}')
        seg = ann.get('segmentation')
        try:
            if isinstance(seg, list):  # polygons
                rle = mask_utils.merge(
                    mask_utils.frPyObjects(seg, height, width))
            elif isinstance(seg, dict) and isinstance(seg.get('counts'),
                                                      list):
                rle = mask_utils.frPyObjects(seg, height, width)
            elif isinstance(seg, dict):
                rle = dict(seg, counts=seg['counts'].encode('ascii')
                           if isinstance(seg['counts'], str) else
                           seg['counts'])
            else:
                raise ValueError(f'unknown segmentation {type(seg).__name__}')
            if isinstance(seg, dict) and list(seg.get('size', ())) != [
                    height, width]:
                raise ValueError(f'RLE size {seg.get("size")} is not the '
                                 f'image size {[height, width]}')
            region = mask_utils.decode(rle).astype(bool)
        except (ValueError, TypeError, KeyError, IndexError) as err:
            raise BadFileError(json_path, f'annotation {ann.get("id")}: '
                               f'cannot decode its segmentation ({err})') \
                from err
        labels[region] = label_of[ann['category_id']]
    return labels, categories


def load_reference_mask(mask_path: str, ref_path: str,
                        ref_shape: Tuple[int, int]
                        ) -> Tuple[np.ndarray, Optional[List[dict]]]:
    """A label map (.png/.npy) or COCO .json for the reference image -> ((H, W) int64 labels, COCO categories or None).

    Raises :class:`BadFileError` naming the mask when it cannot be read or
    its size is not the reference image's.
    """
    if not osp.isfile(mask_path):
        raise BadFileError(mask_path, 'the reference mask does not exist')
    if mask_path.lower().endswith('.json'):
        return read_coco_reference(mask_path, ref_path, ref_shape)
    if not mask_path.lower().endswith('.npy') and \
            read_image_header(mask_path).format == 'JPEG':
        raise BadFileError(mask_path, 'a JPEG cannot be a label map: its '
                           'compression changes labels along part edges; '
                           'save the labels as PNG')
    try:
        labels = read_mask(_palette_indices(mask_path) if
                           _is_palette_png(mask_path) else mask_path)
    except BadFileError:
        raise
    except ValueError as err:
        raise BadFileError(mask_path, str(err)) from err
    if labels.shape != tuple(ref_shape):
        raise BadFileError(
            mask_path, f'the mask is {labels.shape[0]}x{labels.shape[1]} '
            f'(HxW) but the reference image {ref_path} is {ref_shape[0]}x'
            f'{ref_shape[1]} as read (after EXIF orientation); a label map '
            'must have its image\'s size')
    if labels.min() < 0:
        raise BadFileError(mask_path, 'negative labels; expected 0 '
                           '(background) and 1..K')
    return labels, None


def _is_palette_png(path: str) -> bool:
    """Whether ``path`` is an indexed-colour PNG (IHDR colour type 3), as PASCAL VOC and many tools save label maps."""
    with open(path, 'rb') as f:
        head = f.read(26)
    return head.startswith(b'\x89PNG') and len(head) == 26 and head[25] == 3


def _palette_indices(path: str) -> np.ndarray:
    """An indexed PNG -> (H, W) its palette indices (OpenCV would expand them to colours)."""
    from PIL import Image
    with Image.open(path) as img:
        return np.array(img)


def palette_bgr(num_classes: int) -> np.ndarray:
    """(num_classes, 3) uint8 BGR overlay colours: the PASCAL VOC palette (label 0 black, 1 red, 2 green, 3 yellow, 4 blue...)."""
    return np.array(default_palette(num_classes), np.uint8)[:, ::-1]


def overlay(image: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 BGR + (H, W) labels -> the image with labelled pixels tinted by :func:`palette_bgr` at 50 %."""
    colours = palette_bgr(int(labels.max()) + 1)[labels]
    blend = cv2.addWeighted(image, 1 - OVERLAY_OPACITY, colours,
                            OVERLAY_OPACITY, 0)
    return np.where((labels > 0)[..., None], blend, image)


def write_label_png(path: str, labels: np.ndarray) -> None:
    """(H, W) labels -> single-channel PNG: 8 bit, or 16 bit when a label exceeds 255."""
    dtype = np.uint8 if labels.max(initial=0) < 256 else np.uint16
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    if not cv2.imwrite(path, labels.astype(dtype)):
        raise OSError(f'cannot write {path}')


def masks_to_coco(records: Sequence[Tuple[str, np.ndarray]],
                  categories: Optional[List[dict]],
                  num_labels: int) -> dict:
    """(file name, (H, W) labels) pairs -> a COCO dict, one RLE annotation per image and label present.

    Label k maps back to the k-th of ``categories`` (sorted by id); without
    them categories are ``label_k`` with id k. RLE counts are strings,
    ``iscrowd`` 0 (parts of one object, not crowds).
    """
    from pycocotools import mask as mask_utils

    if categories is None:
        categories = [dict(id=k, name=f'label_{k}')
                      for k in range(1, num_labels)]
    categories = sorted(categories, key=lambda c: c['id'])
    images, annotations = [], []
    for image_id, (name, labels) in enumerate(records, 1):
        images.append(dict(id=image_id, file_name=name,
                           height=int(labels.shape[0]),
                           width=int(labels.shape[1])))
        for k in np.unique(labels):
            if k == 0 or k > len(categories):
                continue
            rle = mask_utils.encode(np.asfortranarray(labels == k,
                                                      np.uint8))
            annotations.append(dict(
                id=len(annotations) + 1, image_id=image_id,
                category_id=categories[k - 1]['id'],
                segmentation=dict(size=rle['size'],
                                  counts=rle['counts'].decode('ascii')),
                area=int(mask_utils.area(rle)),
                bbox=[float(v) for v in mask_utils.toBbox(rle)],
                iscrowd=0))
    return dict(images=images, annotations=annotations,
                categories=categories)


def _output_names(names: Sequence[str]) -> Dict[str, str]:
    """Relative image path -> relative output path ``<dir>/<stem>.png``; two images sharing one is an error."""
    out, taken = {}, {}
    for name in names:
        target = osp.splitext(name)[0] + '.png'
        if target in taken:
            raise ValueError(f'{taken[target]} and {name} would both be '
                             f'written to {target}; rename one of them')
        taken[target] = name
        out[name] = target
    return out


def propagate_folder(model,
                     ref_img: str,
                     ref_mask: str,
                     images_dir: str,
                     out_dir: str,
                     coco_out: Optional[str] = None,
                     continue_on_error: bool = False,
                     batch_size: int = 8,
                     progress: bool = True) -> PropagationSummary:
    """Propagate ``ref_mask`` to every image under ``images_dir``; write ``out_dir/masks`` and ``out_dir/overlays``.

    Each mask is a PNG label map at its image's size (as displayed), same
    relative path with ``.png``; each overlay tints labelled pixels with
    :func:`palette_bgr`. ``coco_out``: also one COCO JSON of RLE masks.
    A bad image raises :class:`BadFileError` naming it, or with
    ``continue_on_error`` is skipped and listed in the summary. The
    reference must be readable either way.
    """
    ref = load_image(ref_img)
    labels, categories = load_reference_mask(ref_mask, ref_img,
                                             ref.shape[:2])
    num_labels = max(int(labels.max()) + 1,
                     len(categories) + 1 if categories else 0)
    names = list_images(images_dir)
    targets = _output_names(names)
    written, skipped, records = [], [], []
    bar = ProgressBar(len(names)) if progress and names else None

    def flush(batch):
        preds = propagate_mask(model, ref, labels, [img for _, img in batch],
                               batch_size=batch_size, num_classes=num_labels)
        for (name, img), pred in zip(batch, preds):
            write_label_png(osp.join(out_dir, 'masks', targets[name]), pred)
            overlay_path = osp.join(out_dir, 'overlays', targets[name])
            os.makedirs(osp.dirname(overlay_path), exist_ok=True)
            if not cv2.imwrite(overlay_path, overlay(img, pred)):
                raise OSError(f'cannot write {overlay_path}')
            written.append(name)
            if coco_out:
                records.append((name, pred))
            if bar:
                bar.update()

    batch = []
    for name in names:
        path = osp.join(images_dir, name)
        try:
            batch.append((name, load_image(path)))
        except BadFileError as err:
            if not continue_on_error:
                raise
            skipped.append((path, err.reason or str(err)))
            if bar:
                bar.update()
        if len(batch) == batch_size:
            flush(batch)
            batch = []
    if batch:
        flush(batch)
    if coco_out:
        os.makedirs(osp.dirname(osp.abspath(coco_out)), exist_ok=True)
        with open(coco_out, 'w', encoding='utf-8') as f:
            json.dump(masks_to_coco(records, categories, num_labels), f)
    return PropagationSummary(written, skipped)
