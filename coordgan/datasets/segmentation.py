"""Labelled image folders: images with integer part-label maps, for label propagation.

Every labelled set, public or your own, is read from one layout::

    <data_root>/images/<name>.(jpg|jpeg|png|bmp|webp)
    <data_root>/masks/<name>.(png|npy)
    <data_root>/coords/<name>.npy  (optional) float (H, W, 2) canonical (x, y)
    <data_root>/meta.json    {"classes": ["background", ...],
                              "palette": [[r, g, b], ...]}  (palette optional)

The converters in ``tools/dataset_converters/`` write CelebAMask-HQ and
DatasetGAN in this layout; docs/datasets_labelled.md describes them.
"""
import json
import logging
import os
import os.path as osp
import re
from typing import Dict, List, Optional, Sequence, Tuple

from mmcv.transforms import LoadImageFromFile
from mmengine.logging import print_log

from coordgan.registry import DATASETS
from .base import CoordGANBaseDataset, Problem
from .file_checks import (IMAGE_KINDS, BadFileError, read_image_header,
                          read_npy_header)
from .transforms.loading import (LoadCoordMap, LoadSegMap, label_range_reason,
                                 labels_outside, read_npy_labels,
                                 read_png_labels, size_mismatch)

SEG_IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp')
SEG_MASK_EXTENSIONS = ('.png', '.npy')
COORD_EXTENSIONS = ('.npy', )
DEFAULT_COORD_DIR = 'coords'

# The 6-part merge of CelebAMask-HQ used by CoordGAN (REFERENCE.md §9; class
# names as in NVlabs/CoordGAN seg_utils.py ``celebA_7_class``).
CELEBAMASK_HQ_CLASSES = ('background', 'mouth', 'eye', 'brow', 'ear', 'nose',
                         'face')

# The annotation schema of the released DatasetGAN face set, in label order
# (nv-tlabs/datasetGAN_release, utils/data_util.py ``face_class``).
DATASETGAN_FACE_34_CLASSES = (
    'background', 'head', 'head***cheek', 'head***chin', 'head***ear',
    'head***ear***helix', 'head***ear***lobule', 'head***eye***botton lid',
    'head***eye***eyelashes', 'head***eye***iris', 'head***eye***pupil',
    'head***eye***sclera', 'head***eye***tear duct', 'head***eye***top lid',
    'head***eyebrow', 'head***forehead', 'head***frown', 'head***hair',
    'head***hair***sideburns', 'head***jaw', 'head***moustache',
    'head***mouth***inferior lip', 'head***mouth***oral comisure',
    'head***mouth***superior lip', 'head***mouth***teeth', 'head***neck',
    'head***nose', 'head***nose***ala of nose', 'head***nose***bridge',
    'head***nose***nose tip', 'head***nose***nostril', 'head***philtrum',
    'head***temple', 'head***wrinkles')
# CoordGAN scores faces without hair and neck (labels 17 and 25 in
# NVlabs/CoordGAN eval_corr.py); sideburns stay.
DATASETGAN_FACE_EXCLUDED = ('head***hair', 'head***neck')
DATASETGAN_FACE_CLASSES = tuple(c for c in DATASETGAN_FACE_34_CLASSES
                                if c not in DATASETGAN_FACE_EXCLUDED)
# nv-tlabs/datasetGAN_release, utils/data_util.py ``car_20_class``.
DATASETGAN_CAR_CLASSES = (
    'background', 'back_bumper', 'bumper', 'car_body', 'car_lights', 'door',
    'fender', 'grilles', 'handles', 'hoods', 'licensePlate', 'mirror', 'roof',
    'running_boards', 'tailLight', 'tire', 'trunk_lids', 'wheelhub', 'window',
    'windshield')
DATASETGAN_CLASSES = dict(face=DATASETGAN_FACE_CLASSES,
                          car=DATASETGAN_CAR_CLASSES)

_NUMBER = re.compile(r'([0-9]+)')


def natural_key(name: str) -> Tuple:
    """Sort key that orders the digit runs of ``name`` as numbers: '2' < '10', 'a9' < 'a10'."""
    key = []
    for part in _NUMBER.split(name):
        if not part:
            continue
        # The kind flag keeps ints and strings from ever being compared.
        if part.isdigit():
            key.append((0, int(part), part))
        else:
            key.append((1, part.lower(), part))
    return tuple(key)


def default_palette(num_classes: int) -> List[Tuple[int, int, int]]:
    """``num_classes`` distinct RGB colours, background black (the PASCAL VOC bit-spreading scheme)."""
    palette = []
    for label in range(num_classes):
        rgb, bits = [0, 0, 0], label
        for shift in range(7, -1, -1):
            for channel in range(3):
                rgb[channel] |= ((bits >> channel) & 1) << shift
            bits >>= 3
        palette.append(tuple(rgb))
    return palette


def check_classes(classes, source: str) -> Tuple[str, ...]:
    """A non-empty sequence of distinct non-empty names -> tuple; errors name ``source``."""
    if isinstance(classes, str) or not isinstance(classes, Sequence):
        raise TypeError(f'{source}: classes must be a list of class names, '
                        f'got {type(classes).__name__} {classes!r}')
    if len(classes) == 0:
        raise ValueError(f'{source}: the class list is empty; it needs at '
                         'least one name (index 0 is usually "background")')
    for i, name in enumerate(classes):
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f'{source}: class {i} must be a non-empty '
                             f'string, got {name!r}')
    duplicates = sorted({c for c in classes if list(classes).count(c) > 1})
    if duplicates:
        raise ValueError(f'{source}: class names must be unique, repeated: '
                         f'{duplicates}')
    return tuple(classes)


def check_palette(palette, num_classes: int,
                  source: str) -> List[Tuple[int, int, int]]:
    """One [r, g, b] (0-255) per class -> list of tuples; errors name ``source``."""
    if isinstance(palette, str) or not isinstance(palette, Sequence) or \
            len(palette) != num_classes:
        raise ValueError(f'{source}: "palette" must list one [r, g, b] per '
                         f'class ({num_classes}), got {palette!r}')
    for i, colour in enumerate(palette):
        ok = (isinstance(colour, Sequence) and len(colour) == 3 and all(
            isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255
            for v in colour))
        if not ok:
            raise ValueError(f'{source}: palette entry {i} must be three '
                             f'integers in [0, 255], got {colour!r}')
    return [tuple(c) for c in palette]


def read_meta_json(path: str) -> dict:
    """``meta.json`` -> dict(classes=tuple, palette=list or None), checked."""
    try:
        with open(path, encoding='utf-8') as f:
            meta = json.load(f)
    except (OSError, ValueError) as err:
        raise ValueError(f'{path}: cannot read it as JSON ({err})') from err
    if not isinstance(meta, dict) or 'classes' not in meta:
        raise ValueError(f'{path}: expected an object with a "classes" list, '
                         f'e.g. {{"classes": ["background", "skin"]}}; got '
                         f'{str(meta)[:200]}')
    classes = check_classes(meta['classes'], f'{path} key "classes"')
    palette = meta.get('palette')
    if palette is not None:
        palette = check_palette(palette, len(classes), path)
    return dict(classes=classes, palette=palette)


def read_classes_txt(path: str) -> Tuple[str, ...]:
    """``classes.txt`` (one name per line) -> tuple of names."""
    with open(path, encoding='utf-8') as f:
        lines = f.read().strip().splitlines()
    # An empty line inside the list would shift every later label by one.
    for i, line in enumerate(lines):
        if not line.strip():
            raise ValueError(f'{path}: line {i + 1} is empty; write one '
                             'class name per line, background first')
    return check_classes([line.strip() for line in lines], path)


def index_files(folder: str, extensions: Sequence[str],
                kind: str) -> Dict[str, str]:
    """``<name>.<ext>`` files directly in ``folder`` -> {name: path}; a name with two files is an error."""
    found: Dict[str, str] = {}
    for file_name in sorted(os.listdir(folder)):
        name, ext = osp.splitext(file_name)
        path = osp.join(folder, file_name)
        if ext.lower() not in extensions or not osp.isfile(path):
            continue
        if name in found:
            raise ValueError(f'two {kind} files for {name!r}: {found[name]} '
                             f'and {path}; keep one')
        found[name] = path
    return found


def prepare_layout(dst: str, overwrite: bool = False) -> None:
    """Create ``dst/images`` and ``dst/masks`` for a converter; refuse to mix with earlier output unless ``overwrite``."""
    for sub in ('images', 'masks'):
        folder = osp.join(dst, sub)
        if osp.isdir(folder) and os.listdir(folder) and not overwrite:
            raise FileExistsError(
                f'{folder} is not empty; choose a new output folder or pass '
                '--overwrite / overwrite=True (files of the same name are '
                'replaced, others kept)')
        os.makedirs(folder, exist_ok=True)


def write_meta_json(dst: str, classes: Sequence[str], **extra) -> None:
    """``dst/meta.json``: the class names, :func:`default_palette` and ``extra`` notes."""
    meta = dict(classes=list(check_classes(classes, 'write_meta_json')),
                palette=[list(c) for c in default_palette(len(classes))],
                **extra)
    with open(osp.join(dst, 'meta.json'), 'w', encoding='utf-8') as f:
        json.dump(meta, f, indent=2)


@DATASETS.register_module()
class SegmentationFolderDataset(CoordGANBaseDataset):
    """Images and same-named part-label maps from ``<data_root>/{img_dir,mask_dir}``, natural order.

    Each item is ``dict(img_path, seg_map_path, name, sample_idx)`` before
    the pipeline (``LoadImageFromFile`` + ``LoadSegMap`` read the files),
    plus ``coord_path`` when the set has ground-truth canonical coordinates
    (read by ``LoadCoordMap``).
    ``metainfo['classes']`` is the tuple of class names (index 0 is usually
    background), taken from ``classes``, else ``metainfo['classes']``, else
    ``<data_root>/meta.json``, else ``<data_root>/classes.txt``.

    Args:
        data_root (str): Folder holding the image and mask folders.
        img_dir (str): Image folder, relative to ``data_root``.
        mask_dir (str): Mask folder (``<name>.png`` or ``<name>.npy``).
        coord_dir (str, optional): Folder of ground-truth canonical
            coordinates, ``<name>.npy`` float (H, W, 2) arrays. None reads
            ``<data_root>/coords`` if it exists and otherwise gives items
            without ``coord_path``; a folder named explicitly must exist.
            Either way, when the folder is used every item needs its file.
        classes (Sequence[str], optional): Class names, overriding files.
        skip_unlabelled (bool): Leave images without a mask out (and log
            how many); otherwise they count as bad samples.
        pipeline (Sequence): Transforms.
        metainfo (dict, optional): Extra meta; its ``classes`` and
            ``palette`` override the files.
        **kwargs: ``on_bad_sample`` and ``check_files`` (see
            :class:`CoordGANBaseDataset`) and other
            ``mmengine.dataset.BaseDataset`` arguments.

    When built, every sample is checked (docs/datasets.md): the image's
    header, the mask decoded in full (labels in ``[0, len(classes))`` after
    the pipeline's ``LoadSegMap`` label_map; the size its ``size_check``
    asks for), the coordinate file's header, and that the mask and
    coordinate files exist. Items carry ``num_classes``, so ``LoadSegMap``
    rejects an out-of-range label at load time too, naming the mask.
    """

    def __init__(self,
                 data_root: str,
                 img_dir: str = 'images',
                 mask_dir: str = 'masks',
                 coord_dir: Optional[str] = None,
                 classes: Optional[Sequence[str]] = None,
                 skip_unlabelled: bool = False,
                 pipeline: Sequence = (),
                 metainfo: Optional[dict] = None,
                 **kwargs):
        if not data_root or not osp.isdir(data_root):
            raise FileNotFoundError(
                f'{type(self).__name__}: data_root {data_root!r} is not a '
                'folder (layouts are in docs/datasets_labelled.md)')
        self.img_dir = osp.join(data_root, img_dir)
        self.mask_dir = osp.join(data_root, mask_dir)
        self.coord_dir = self._resolve_coord_dir(data_root, coord_dir)
        self.skip_unlabelled = skip_unlabelled
        metainfo = dict(metainfo or {})
        metainfo.update(self._resolve_metainfo(data_root, classes, metainfo))
        super().__init__(data_root=data_root, metainfo=metainfo,
                         pipeline=list(pipeline), **kwargs)

    def _resolve_coord_dir(self, data_root: str,
                           coord_dir: Optional[str]) -> Optional[str]:
        if coord_dir is None:
            default = osp.join(data_root, DEFAULT_COORD_DIR)
            return default if osp.isdir(default) else None
        folder = osp.join(data_root, coord_dir)
        if not osp.isdir(folder):
            raise FileNotFoundError(
                f'{type(self).__name__}: coordinate folder {folder!r} '
                f'(coord_dir={coord_dir!r}) does not exist; it should hold '
                '<name>.npy float (H, W, 2) canonical coordinates (see '
                'docs/datasets_labelled.md), or leave coord_dir unset')
        return folder

    def fixed_classes(self) -> Optional[Tuple[str, ...]]:
        """The class list a public-dataset subclass requires; None reads it from disk."""
        return None

    def _resolve_metainfo(self, data_root: str, classes,
                          metainfo: dict) -> dict:
        name = type(self).__name__
        palette = metainfo.get('palette')
        fixed = self.fixed_classes()
        if classes is not None:
            names = check_classes(classes, f'{name}: the classes argument')
        elif 'classes' in metainfo:
            names = check_classes(metainfo['classes'],
                                  f'{name}: metainfo["classes"]')
        elif fixed is not None:
            names = fixed
            self._check_against_disk(data_root, fixed)
        else:
            names, disk_palette = self._classes_from_disk(data_root)
            palette = palette if palette is not None else disk_palette
        if palette is None and len(self.METAINFO.get('palette', ())) == len(
                names):
            palette = self.METAINFO['palette']
        if palette is None:
            palette = default_palette(len(names))
        palette = check_palette(palette, len(names), f'{name}: palette')
        return dict(classes=names, palette=palette)

    def _classes_from_disk(self, data_root: str):
        meta_json = osp.join(data_root, 'meta.json')
        classes_txt = osp.join(data_root, 'classes.txt')
        if osp.isfile(meta_json):
            meta = read_meta_json(meta_json)
            return meta['classes'], meta['palette']
        if osp.isfile(classes_txt):
            return read_classes_txt(classes_txt), None
        raise FileNotFoundError(
            f'{type(self).__name__}: no class names for {data_root!r}: '
            f'neither {meta_json} nor {classes_txt} exists. Write meta.json '
            '({"classes": ["background", ...]}) or pass classes=[...]')

    def _check_against_disk(self, data_root: str,
                            fixed: Tuple[str, ...]) -> None:
        # Catches a config that points, e.g., the car dataset at face data.
        meta_json = osp.join(data_root, 'meta.json')
        if not osp.isfile(meta_json):
            return
        on_disk = read_meta_json(meta_json)['classes']
        if on_disk != fixed:
            raise ValueError(
                f'{type(self).__name__}: {meta_json} lists {len(on_disk)} '
                f'classes {list(on_disk)[:6]}... but this dataset expects '
                f'{len(fixed)} classes {list(fixed)[:6]}...; is data_root '
                'the output of the matching converter?')

    def load_data_list(self) -> List[dict]:
        name = type(self).__name__
        for kind, folder in (('image', self.img_dir), ('mask', self.mask_dir)):
            if not osp.isdir(folder):
                raise FileNotFoundError(
                    f'{name}: {kind} folder {folder!r} does not exist '
                    '(layout: <data_root>/images/<name>.jpg, '
                    '<data_root>/masks/<name>.png; see '
                    'docs/datasets_labelled.md)')
        images = index_files(self.img_dir, SEG_IMG_EXTENSIONS, 'image')
        if not images:
            raise FileNotFoundError(
                f'{name}: no images with extensions {SEG_IMG_EXTENSIONS} in '
                f'{self.img_dir!r}')
        masks = index_files(self.mask_dir, SEG_MASK_EXTENSIONS, 'mask')
        names = sorted(images, key=natural_key)
        if self.skip_unlabelled:
            names = self._drop_unlabelled(names, masks)
        items = [
            dict(img_path=images[n], seg_map_path=masks.get(n), name=n,
                 sample_idx=i) for i, n in enumerate(names)
        ]
        if self.coord_dir is not None:
            coords = index_files(self.coord_dir, COORD_EXTENSIONS,
                                 'coordinate')
            for item in items:
                item['coord_path'] = coords.get(item['name'])
        return self.screen(items, self._problems,
                           osp.normpath(self.data_root))

    def _drop_unlabelled(self, names: List[str],
                         masks: Dict[str, str]) -> List[str]:
        name = type(self).__name__
        labelled = [n for n in names if n in masks]
        if not labelled:
            raise FileNotFoundError(
                f'{name}: none of the {len(names)} images in '
                f'{self.img_dir!r} has a mask in {self.mask_dir!r}')
        if len(labelled) < len(names):
            first = next(n for n in names if n not in masks)
            print_log(
                f'{name}: skipped {len(names) - len(labelled)} of '
                f'{len(names)} images in {self.img_dir} that have no mask in '
                f'{self.mask_dir} (first: {first})', logger='current',
                level=logging.WARNING)
        return labelled

    def get_data_info(self, idx: int) -> dict:
        """Item ``idx`` with ``num_classes``, which ``LoadSegMap`` checks the labels against."""
        info = super().get_data_info(idx)
        info['num_classes'] = len(self.metainfo['classes'])
        return info

    def _pipeline_step(self, cls):
        for step in getattr(self.pipeline, 'transforms', []):
            if isinstance(step, cls):
                return step
        return None

    def _problems(self, item: dict) -> List[Problem]:
        """(path, reason) of everything wrong with one sample's files."""
        img, name = item['img_path'], item['name']
        problems = []
        if item['seg_map_path'] is None:
            problems.append((img, (
                f'no mask: expected {osp.join(self.mask_dir, name)}.png or '
                '.npy (skip_unlabelled=True leaves images without masks '
                'out)')))
        if self.coord_dir is not None and item['coord_path'] is None:
            problems.append((img, (
                'no coordinate file: expected '
                f'{osp.join(self.coord_dir, name)}.npy (or move '
                f'{self.coord_dir!r} away to load no coordinates)')))
        if not self.check_files:
            return problems
        img_shape = None
        try:
            header = read_image_header(img)
        except BadFileError as bad:
            problems.append((bad.path, bad.reason))
        else:
            loader = self._pipeline_step(LoadImageFromFile)
            # OpenCV turns images by their EXIF orientation unless told not.
            color_type = loader.color_type if loader else 'color'
            img_shape = header.decoded_shape(
                color_type != 'unchanged'
                and 'ignore_orientation' not in color_type)
        if item['seg_map_path'] is not None:
            problems.extend(
                self._mask_problems(item['seg_map_path'], img, img_shape))
        if item.get('coord_path') is not None:
            problems.extend(
                self._coord_problems(item['coord_path'], img, img_shape))
        return problems

    def _mask_problems(self, path: str, img: str,
                       img_shape: Optional[Tuple[int, int]]) -> List[Problem]:
        # Masks are small: decoding them whole is cheap and the only way to
        # see their labels.
        try:
            if osp.splitext(path)[1].lower() == '.png':
                kind = read_image_header(path).format
                if kind != 'PNG':
                    return [(path, f'a {kind} file named .png; a mask must '
                             'be a lossless PNG (or .npy) of integer labels')]
                seg = read_png_labels(path)
            else:
                read_npy_header(path)  # names junk and truncation plainly
                seg = read_npy_labels(path)
        except BadFileError as bad:
            reason = bad.reason.replace(f'expected a {IMAGE_KINDS} image',
                                        'expected a PNG of integer labels')
            return [(bad.path, reason)]
        if seg.ndim != 2:
            return [(path, 'expected a 2-D (H, W) label map, got shape '
                     f'{seg.shape}')]
        problems = []
        step = self._pipeline_step(LoadSegMap)
        label_map = step.label_map if step is not None else None
        num_classes = len(self.metainfo['classes'])
        bad = labels_outside(seg, num_classes, label_map)
        if bad:
            problems.append(
                (path, label_range_reason(bad, num_classes, label_map)))
        if step is not None and img_shape is not None:
            reason = size_mismatch('mask', step.size_check, seg.shape,
                                   img_shape, img)
            if reason is not None:
                problems.append((path, f'mask {reason}; the pipeline\'s '
                                 f'LoadSegMap has size_check='
                                 f'{step.size_check!r}'))
        return problems

    def _coord_problems(self, path: str, img: str,
                        img_shape: Optional[Tuple[int, int]]
                        ) -> List[Problem]:
        try:
            shape, dtype = read_npy_header(path)
        except BadFileError as bad:
            return [(bad.path, bad.reason)]
        if dtype.kind != 'f' or len(shape) != 3 or shape[2] != 2:
            return [(path, 'expected a float (H, W, 2) array of canonical '
                     f'(x, y), got {dtype} of shape {shape}')]
        step = self._pipeline_step(LoadCoordMap)
        if step is not None and img_shape is not None:
            reason = size_mismatch('coordinate map', step.size_check,
                                   shape[:2], img_shape, img)
            if reason is not None:
                return [(path, f'coordinate map {reason}; the pipeline\'s '
                         f'LoadCoordMap has size_check='
                         f'{step.size_check!r}')]
        return []


@DATASETS.register_module()
class CelebAMaskHQDataset(SegmentationFolderDataset):
    """CelebAMask-HQ as written by tools/dataset_converters/celebamask_hq.py: 6 merged parts + background.

    Images keep their 1024 px, masks their 512 px: read the masks with
    ``LoadSegMap(size_check='aspect')``.
    """

    METAINFO = dict(classes=CELEBAMASK_HQ_CLASSES,
                    palette=default_palette(len(CELEBAMASK_HQ_CLASSES)))

    def fixed_classes(self) -> Tuple[str, ...]:
        """The 7 CelebAMask-HQ classes of REFERENCE.md §9."""
        return CELEBAMASK_HQ_CLASSES


@DATASETS.register_module()
class DatasetGANDataset(SegmentationFolderDataset):
    """DatasetGAN annotations as written by tools/dataset_converters/datasetgan.py.

    ``category='face'``: 32 classes (the 34 released ones without hair and
    neck); ``category='car'``: the 20 released classes.
    """

    def __init__(self, data_root: str, category: str = 'face', **kwargs):
        if category not in DATASETGAN_CLASSES:
            raise ValueError(
                f'DatasetGANDataset: unknown category {category!r}; choose '
                f'one of {sorted(DATASETGAN_CLASSES)}')
        self.category = category
        super().__init__(data_root, **kwargs)

    def fixed_classes(self) -> Tuple[str, ...]:
        """The class list of ``self.category``."""
        return DATASETGAN_CLASSES[self.category]
