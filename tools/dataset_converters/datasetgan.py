"""Convert DatasetGAN's released annotations into the SegmentationFolderDataset layout.

    python tools/dataset_converters/datasetgan.py \
        data/datasetGAN/annotation data/datasetgan-face --category face

SRC is the release's ``annotation`` folder (or the folder above it). The
training annotations come first, then the testing ones, in the order
CoordGAN reads them, so that the first 5 items are its reference images.
Faces lose hair and neck (mapped to background, the other labels
re-indexed contiguously); cars keep their 20 labels.
"""
import argparse
import os
import os.path as osp
import re
import shutil
from typing import Dict, List, Tuple

import cv2
import numpy as np
from PIL import Image

from coordgan.datasets.segmentation import (DATASETGAN_CLASSES,
                                            DATASETGAN_FACE_34_CLASSES,
                                            prepare_layout, write_meta_json)

# Folders of each category, as named by ``annotation_mask_path`` and
# ``testing_path`` in nv-tlabs/datasetGAN_release
# datasetGAN/experiments/{face_34,car_20}.json.
SPLIT_FOLDERS = dict(
    face=(('train', 'training_data/face_processed'),
          ('test', 'testing_data/face_34_class')),
    car=(('train', 'training_data/car_processed'),
         ('test', 'testing_data/car_20_class')))
# Label ids of the masks as released (utils/data_util.py of the release).
RAW_CLASSES = dict(face=DATASETGAN_FACE_34_CLASSES,
                   car=DATASETGAN_CLASSES['car'])
# training_data holds image_<i>.jpg with image_mask<i>.npy
# (datasetGAN/train_interpreter.py, prepare_data); testing_data holds images
# with mask_<i>.npy (as other projects glob them), which the release's
# loaders pair only by sorting both lists. Pairing on the trailing number fits both; edit here if a release
# names files differently.
IMAGE_PATTERN = re.compile(
    r'^(?P<stem>.*?(?P<id>\d+))\.(?P<ext>jpg|jpeg|png)$', re.IGNORECASE)
MASK_PATTERN = re.compile(r'^.*?(?P<id>\d+)\.npy$')
# CoordGAN (seg_utils.py load_file_datasetgan) takes a folder's .jpg files,
# then its .png files, each sorted by name as strings.
EXTENSION_ORDER = ('jpg', 'jpeg', 'png')


def source_folders(src: str, category: str) -> List[Tuple[str, str]]:
    """[(split, folder)] of ``category`` under the annotation folder ``src``."""
    if category not in SPLIT_FOLDERS:
        raise ValueError(f'unknown category {category!r}; choose one of '
                         f'{sorted(SPLIT_FOLDERS)}')
    if not osp.isdir(osp.join(src, 'training_data')) and osp.isdir(
            osp.join(src, 'annotation')):
        src = osp.join(src, 'annotation')
    folders = [(split, osp.join(src, rel))
               for split, rel in SPLIT_FOLDERS[category]]
    for _, folder in folders:
        if not osp.isdir(folder):
            raise FileNotFoundError(
                f'{folder} does not exist; SRC must be DatasetGAN\'s '
                f'annotation folder holding '
                f'{" and ".join(rel for _, rel in SPLIT_FOLDERS[category])}')
    return folders


def _index(folder: str, pattern: re.Pattern, kind: str) -> Dict[int, str]:
    found: Dict[int, str] = {}
    for file_name in os.listdir(folder):
        match = pattern.match(file_name)
        if match is None:
            continue
        key = int(match.group('id'))
        if key in found:
            raise ValueError(f'two {kind} files numbered {key} in {folder}: '
                             f'{osp.basename(found[key])} and {file_name}')
        found[key] = osp.join(folder, file_name)
    return found


def pair_files(folder: str) -> List[Tuple[str, str]]:
    """[(image path, mask path)] of ``folder``, in CoordGAN's order."""
    images = _index(folder, IMAGE_PATTERN, 'image')
    masks = _index(folder, MASK_PATTERN, 'mask')
    if not images:
        raise FileNotFoundError(f'no images (<name><number>.jpg or .png) in '
                                f'{folder}')
    for key in sorted(set(images) ^ set(masks)):
        if key in images:
            raise FileNotFoundError(f'{images[key]} has no mask numbered '
                                    f'{key} (*{key}.npy) in {folder}')
        raise FileNotFoundError(f'{masks[key]} has no image numbered {key} '
                                f'(*{key}.jpg or .png) in {folder}')

    def order(key):
        name = osp.basename(images[key])
        ext = IMAGE_PATTERN.match(name).group('ext').lower()
        return EXTENSION_ORDER.index(ext), name

    return [(images[k], masks[k]) for k in sorted(images, key=order)]


def load_mask(path: str, num_classes: int) -> np.ndarray:
    """A released ``.npy`` mask -> (H, W) int64 labels in [0, num_classes)."""
    try:
        mask = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise ValueError(f'{path}: cannot read it as a .npy array ({err})') \
            from err
    mask = np.squeeze(mask)
    if mask.ndim != 2:
        raise ValueError(f'{path}: expected a 2-D label map, got shape '
                         f'{mask.shape}')
    if mask.dtype.kind == 'f':
        # Masks saved as floats are fine as long as they hold whole labels.
        if not np.all(np.isfinite(mask)) or np.any(mask != np.round(mask)):
            raise ValueError(f'{path}: float mask with non-integer values; '
                             'expected integer labels')
    elif mask.dtype.kind not in 'iu':
        raise ValueError(f'{path}: expected integer labels, got dtype '
                         f'{mask.dtype}')
    mask = mask.astype(np.int64)
    bad = np.unique(mask[(mask < 0) | (mask >= num_classes)])
    if bad.size:
        raise ValueError(f'{path}: labels {bad[:10].tolist()} are outside '
                         f'[0, {num_classes}) of the {num_classes}-class '
                         'schema')
    return mask


def label_lut(category: str) -> np.ndarray:
    """(num raw classes,) released label -> output label (faces: hair, neck -> 0, rest contiguous)."""
    kept = DATASETGAN_CLASSES[category]
    return np.array([kept.index(c) if c in kept else 0
                     for c in RAW_CLASSES[category]], dtype=np.uint8)


def image_size(path: str) -> Tuple[int, int]:
    """(H, W) of an image, from its header."""
    try:
        with Image.open(path) as img:
            width, height = img.size
    except OSError as err:
        raise ValueError(f'{path}: cannot read this image ({err})') from err
    return height, width


def convert_pair(img_path: str, mask_path: str,
                 category: str) -> np.ndarray:
    """One released (image, mask) -> (H, W) uint8 output labels at the mask size."""
    mask = load_mask(mask_path, len(RAW_CLASSES[category]))
    img_h, img_w = image_size(img_path)
    if mask.shape[0] * img_w != mask.shape[1] * img_h:
        raise ValueError(
            f'{mask_path}: mask is {mask.shape[0]}x{mask.shape[1]} but '
            f'{img_path} is {img_h}x{img_w} (HxW); expected the same aspect '
            'ratio')
    return label_lut(category)[mask]


def place_file(src_path: str, dst_path: str, symlink: bool) -> None:
    """Copy ``src_path`` to ``dst_path``, or link it by absolute path."""
    if osp.lexists(dst_path):
        os.remove(dst_path)
    if symlink:
        os.symlink(osp.abspath(src_path), dst_path)
    else:
        shutil.copyfile(src_path, dst_path)


def convert(src: str,
            dst: str,
            category: str,
            symlink: bool = False,
            overwrite: bool = False) -> List[str]:
    """Convert DatasetGAN's ``category`` annotations under ``src`` into ``dst``; returns names in order."""
    items = [(split, img, mask)
             for split, folder in source_folders(src, category)
             for img, mask in pair_files(folder)]
    prepare_layout(dst, overwrite)
    names = []
    for rank, (split, img_path, mask_path) in enumerate(items):
        stem, ext = osp.splitext(osp.basename(img_path))
        # The rank prefix keeps this order under the dataset's natural sort.
        name = f'{rank:03d}_{split}_{stem}'
        seg = convert_pair(img_path, mask_path, category)
        out = osp.join(dst, 'masks', f'{name}.png')
        if not cv2.imwrite(out, seg):
            raise OSError(f'cannot write {out}')
        place_file(img_path, osp.join(dst, 'images', name + ext), symlink)
        names.append(name)
    excluded = sorted(set(RAW_CLASSES[category]) -
                      set(DATASETGAN_CLASSES[category]))
    write_meta_json(dst, DATASETGAN_CLASSES[category],
                    source=f'DatasetGAN {category} ({osp.abspath(src)})',
                    excluded_classes=excluded)
    return names


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help="DatasetGAN's annotation folder (holds "
                        'training_data/ and testing_data/)')
    parser.add_argument('dst', help='output folder')
    parser.add_argument('--category', required=True,
                        choices=sorted(SPLIT_FOLDERS))
    parser.add_argument('--symlink', action='store_true',
                        help='symlink the images instead of copying them')
    parser.add_argument('--overwrite', action='store_true',
                        help='write into a non-empty DST')
    return parser.parse_args()


def main():
    args = parse_args()
    names = convert(args.src, args.dst, args.category, args.symlink,
                    args.overwrite)
    print(f'wrote {len(names)} images and label maps to {args.dst}')


if __name__ == '__main__':
    main()
