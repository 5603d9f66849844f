"""Loading part-label maps (segmentation masks) and canonical coordinate maps from disk."""
import os.path as osp
from typing import Dict, List, Optional

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms import LoadImageFromFile as MMCVLoadImageFromFile

from coordgan.registry import TRANSFORMS
from ..file_checks import BadFileError, describe_unreadable

SIZE_CHECKS = ('exact', 'aspect', 'none')


def read_png_labels(path: str) -> np.ndarray:
    """A single-channel (or grey 3/4-channel) uint8/uint16 PNG -> (H, W) label array."""
    seg = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if seg is None:
        raise BadFileError(path, 'OpenCV cannot read it as a PNG image')
    if seg.ndim == 3:
        # Some tools save label maps as grey RGB; colour-coded masks would
        # need a palette lookup, which we refuse to guess.
        if not all(np.array_equal(seg[..., 0], seg[..., c])
                   for c in range(1, seg.shape[2])):
            raise BadFileError(
                path, f'a {seg.shape[2]}-channel PNG whose channels differ '
                'is not a label map; save one channel of integer labels '
                '(colour-coded masks must be converted first)')
        seg = seg[..., 0]
    if seg.dtype not in (np.uint8, np.uint16):
        raise BadFileError(path, f'expected uint8 or uint16 labels, got '
                           f'{seg.dtype}')
    return seg


def read_npy_labels(path: str) -> np.ndarray:
    """A 2-D integer ``.npy`` array -> (H, W) label array."""
    try:
        seg = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        raise BadFileError(path, f'cannot read it as a .npy array ({err})') \
            from err
    if not isinstance(seg, np.ndarray) or seg.dtype.kind not in 'iu':
        raise BadFileError(path, f'expected an integer array of labels, got '
                           f'dtype {getattr(seg, "dtype", type(seg))}')
    return seg


def read_npy_coords(path: str) -> np.ndarray:
    """A float ``.npy`` array of canonical (x, y) -> (H, W, 2) float32, checked for shape and finiteness."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'LoadCoordMap: coordinate file {path} does '
                                'not exist')
    if osp.splitext(path)[1].lower() != '.npy':
        raise ValueError(f'LoadCoordMap: {path}: expected a .npy array of '
                         'canonical coordinates')
    try:
        coords = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        raise ValueError(f'LoadCoordMap: {path}: cannot read it as a .npy '
                         f'array ({err})') from err
    if not isinstance(coords, np.ndarray) or coords.dtype.kind != 'f':
        raise ValueError(
            f'LoadCoordMap: {path}: expected a float array of canonical '
            f'coordinates, got dtype {getattr(coords, "dtype", type(coords))}')
    if coords.ndim != 3 or coords.shape[2] != 2:
        raise ValueError(f'LoadCoordMap: {path}: expected shape (H, W, 2), '
                         f'the canonical (x, y) of each pixel, got '
                         f'{coords.shape}')
    bad = ~np.isfinite(coords).all(axis=2)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(
            f'LoadCoordMap: {path}: {int(bad.sum())} pixels have non-finite '
            f'coordinates (first at row {row}, column {col}); give every '
            'pixel a finite value (background pixels are not scored)')
    return coords.astype(np.float32)


def size_mismatch(what: str, size_check: str, shape: tuple,
                  img_shape: tuple,
                  img_path: Optional[str]) -> Optional[str]:
    """Why an (H, W) ``what`` does not relate to the (H, W) image as ``size_check`` asks ('is AxB ... but ...'), or None."""
    if size_check == 'none' or tuple(shape) == tuple(img_shape):
        return None
    same_aspect = shape[0] * img_shape[1] == shape[1] * img_shape[0]
    if size_check == 'aspect' and same_aspect:
        return None
    hint = (f" (same aspect ratio: pass size_check='aspect' if the {what} "
            'is a scaled copy)') if same_aspect else ''
    return (f'is {shape[0]}x{shape[1]} (HxW) but image {img_path} is '
            f'{img_shape[0]}x{img_shape[1]}{hint}')


def check_size(owner: str, what: str, size_check: str, shape: tuple,
               img_shape: tuple, img_path: Optional[str], path: str) -> None:
    """Raise unless an (H, W) map relates to the (H, W) image as ``size_check`` ('exact', 'aspect', 'none') asks."""
    reason = size_mismatch(what, size_check, shape, img_shape, img_path)
    if reason is not None:
        raise ValueError(f'{owner}: {what} {path} {reason}')


def labels_outside(seg: np.ndarray, num_classes: int,
                   label_map: Optional[Dict[int, int]] = None) -> List[int]:
    """Sorted labels of ``seg`` (after ``label_map``, as :func:`remap_labels` applies it) outside ``[0, num_classes)``."""
    if label_map is not None:
        values = np.array([label_map.get(int(i), 0) for i in np.unique(seg)],
                          dtype=np.int64)
    elif seg.size == 0 or (seg.min() >= 0 and seg.max() < num_classes):
        return []
    else:
        values = seg
    bad = values[(values < 0) | (values >= num_classes)]
    return [int(v) for v in np.unique(bad)]


def label_range_reason(bad: List[int], num_classes: int,
                       label_map: Optional[Dict[int, int]] = None) -> str:
    """The words for a mask whose labels ``bad`` fall outside ``num_classes`` classes."""
    shown = ', '.join(str(v) for v in bad[:8]) + (', ...'
                                                  if len(bad) > 8 else '')
    after = ' (after LoadSegMap\'s label_map)' if label_map else ''
    return (f'mask labels {{{shown}}}{after} are outside the dataset\'s '
            f'{num_classes} classes; expected labels 0..{num_classes - 1}. '
            'Fix the mask, list every class (meta.json "classes" or '
            'classes=[...]), or remap with LoadSegMap(label_map={old: new})')


def remap_labels(seg: np.ndarray, label_map: Dict[int, int]) -> np.ndarray:
    """(H, W) labels -> (H, W) ``label_map[label]``, 0 for labels not in the map."""
    ids, inverse = np.unique(seg, return_inverse=True)
    new_ids = np.array([label_map.get(int(i), 0) for i in ids],
                       dtype=np.int64)
    return new_ids[inverse].reshape(seg.shape)


@TRANSFORMS.register_module()
class LoadImageFromFile(MMCVLoadImageFromFile):
    """mmcv's ``LoadImageFromFile`` whose failures name the file and say what is wrong with it.

    mmcv lets OpenCV's assertion (zero-byte file) or a bare "failed to load
    image" through; this raises :class:`BadFileError` with the reason the
    start-up file check would give, or "corrupt compressed data" when the
    header is sound. Registered under mmcv's name, so configs need no change.
    """

    def transform(self, results: dict) -> Optional[dict]:
        path = results['img_path']
        try:
            loaded = super().transform(results)
        except Exception as err:  # cv2.error, AssertionError, OSError, ...
            if self.ignore_empty:
                return None
            if self.backend_args or self.file_client_args:
                # Not a local file: there is no header to look at here.
                lines = str(err).strip().splitlines() or ['']
                reason = (f'cannot be loaded ({type(err).__name__}: '
                          f'{lines[-1][:200]})')
            else:
                reason = describe_unreadable(str(path), err)
            raise BadFileError(str(path), reason,
                               'LoadImageFromFile') from err
        return loaded


@TRANSFORMS.register_module()
class LoadSegMap(BaseTransform):
    """``results['seg_map_path']`` (.png or .npy) -> ``results['gt_seg_map']`` (H, W) int64.

    Args:
        label_map (dict, optional): Old label -> new label, applied after
            loading; labels not listed become 0 (background).
        size_check (str): How the mask size must relate to
            ``results['img_shape']`` when an image was loaded first:
            ``'exact'`` (same H, W), ``'aspect'`` (same aspect ratio, e.g.
            CelebAMask-HQ's 512 px masks of 1024 px images) or ``'none'``.

    When ``results`` carries ``num_classes`` (labelled coordgan datasets add
    it), a label outside ``[0, num_classes)`` is an error naming the mask.
    """

    def __init__(self,
                 label_map: Optional[Dict[int, int]] = None,
                 size_check: str = 'exact'):
        if size_check not in SIZE_CHECKS:
            raise ValueError(f'LoadSegMap: size_check must be one of '
                             f'{SIZE_CHECKS}, got {size_check!r}')
        self.label_map = self._check_label_map(label_map)
        self.size_check = size_check

    @staticmethod
    def _check_label_map(label_map) -> Optional[Dict[int, int]]:
        if label_map is None:
            return None
        if not isinstance(label_map, dict):
            raise TypeError(f'LoadSegMap: label_map must be a dict of old '
                            f'label -> new label, got {label_map!r}')
        for old, new in label_map.items():
            for value in (old, new):
                if not isinstance(value, (int, np.integer)) or isinstance(
                        value, bool):
                    raise TypeError(
                        f'LoadSegMap: label_map entries must be integers, '
                        f'got {old!r}: {new!r}')
        return {int(k): int(v) for k, v in label_map.items()}

    def transform(self, results: dict) -> dict:
        if 'seg_map_path' not in results:
            raise KeyError(f'LoadSegMap needs a "seg_map_path" entry; got '
                           f'keys {sorted(results)} (is the dataset a '
                           'labelled one, e.g. SegmentationFolderDataset?)')
        path = results['seg_map_path']
        seg = self._read(path)
        if self.label_map is not None:
            seg = remap_labels(seg, self.label_map)
        num_classes = results.get('num_classes')
        if num_classes is not None:
            bad = labels_outside(seg, num_classes)
            if bad:
                raise BadFileError(
                    path, label_range_reason(bad, num_classes,
                                             self.label_map), 'LoadSegMap')
        if 'img_shape' in results:
            check_size('LoadSegMap', 'mask', self.size_check, seg.shape,
                       tuple(results['img_shape'][:2]),
                       results.get('img_path'), path)
        results['gt_seg_map'] = seg.astype(np.int64)
        return results

    @staticmethod
    def _read(path: str) -> np.ndarray:
        if not osp.isfile(path):
            raise FileNotFoundError(f'LoadSegMap: mask file {path} does not '
                                    'exist')
        ext = osp.splitext(path)[1].lower()
        if ext == '.png':
            seg = read_png_labels(path)
        elif ext == '.npy':
            seg = read_npy_labels(path)
        else:
            raise ValueError(f'LoadSegMap: {path}: expected a .png or .npy '
                             f'mask, got {ext!r}')
        if seg.ndim != 2:
            raise ValueError(f'LoadSegMap: {path}: expected a 2-D (H, W) '
                             f'label map, got shape {seg.shape}')
        return seg

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(label_map={self.label_map}, '
                f'size_check={self.size_check!r})')


@TRANSFORMS.register_module()
class LoadCoordMap(BaseTransform):
    """``results['coord_path']`` (.npy) -> ``results['gt_coords']`` (H, W, 2) float32 canonical (x, y) per pixel.

    The file must hold a float (H, W, 2) array with finite values
    (docs/datasets_labelled.md); errors name it.

    Args:
        size_check (str): How the map size must relate to
            ``results['img_shape']`` when an image was loaded first:
            ``'exact'``, ``'aspect'`` or ``'none'``, as in ``LoadSegMap``.
    """

    def __init__(self, size_check: str = 'exact'):
        if size_check not in SIZE_CHECKS:
            raise ValueError(f'LoadCoordMap: size_check must be one of '
                             f'{SIZE_CHECKS}, got {size_check!r}')
        self.size_check = size_check

    def transform(self, results: dict) -> dict:
        if 'coord_path' not in results:
            raise KeyError(
                f'LoadCoordMap needs a "coord_path" entry; got keys '
                f'{sorted(results)} (SegmentationFolderDataset sets it when '
                '<data_root>/coords/<name>.npy files exist)')
        path = results['coord_path']
        coords = read_npy_coords(path)
        if 'img_shape' in results:
            check_size('LoadCoordMap', 'coordinate map', self.size_check,
                       coords.shape[:2], tuple(results['img_shape'][:2]),
                       results.get('img_path'), path)
        results['gt_coords'] = coords
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(size_check={self.size_check!r})'
