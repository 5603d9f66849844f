"""Convert the official CelebAMask-HQ download into the SegmentationFolderDataset layout.

    python tools/dataset_converters/celebamask_hq.py data/CelebAMask-HQ \
        data/celebamask-hq-6class --indices coordgan --workers 8

Part masks are merged into CoordGAN's 6 classes (REFERENCE.md §9) and
written as single-channel PNG label maps at the mask resolution (512 px);
images are copied (or symlinked) unchanged (1024 px).
"""
import argparse
import multiprocessing
import os
import os.path as osp
import shutil
from functools import partial
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from PIL import Image

from coordgan.datasets.segmentation import (CELEBAMASK_HQ_CLASSES,
                                            prepare_layout, write_meta_json)

IMG_DIR = 'CelebA-HQ-img'
ANNO_DIR = 'CelebAMask-HQ-mask-anno'
# The annotation folder of image i is <ANNO_DIR>/<i // 2000>/.
IMAGES_PER_ANNO_FOLDER = 2000
ALL_PARTS = ('skin', 'nose', 'eye_g', 'l_eye', 'r_eye', 'l_brow', 'r_brow',
             'l_ear', 'r_ear', 'mouth', 'u_lip', 'l_lip', 'hair', 'hat',
             'ear_r', 'neck_l', 'neck', 'cloth')
# (part, class) in paint order, later parts covering earlier ones
# (REFERENCE.md §9); parts not listed are background.
PAINT_ORDER = (('skin', 'face'), ('u_lip', 'mouth'), ('l_lip', 'mouth'),
               ('l_eye', 'eye'), ('r_eye', 'eye'), ('l_brow', 'brow'),
               ('r_brow', 'brow'), ('l_ear', 'ear'), ('r_ear', 'ear'),
               ('nose', 'nose'), ('mouth', 'mouth'))
# CoordGAN's split indexes the lexicographically sorted file names
# (REFERENCE.md §9; NVlabs/CoordGAN seg_utils.py load_file_CelebAHQMask).
COORDGAN_REFERENCE_POSITIONS = (1, 3, 5, 6, 8)
COORDGAN_QUERY_POSITIONS = tuple(range(100, 200))


def image_ids(src: str) -> List[int]:
    """Ids ``i`` of the ``<src>/CelebA-HQ-img/<i>.jpg`` files, in numeric order."""
    folder = osp.join(src, IMG_DIR)
    if not osp.isdir(folder):
        raise FileNotFoundError(f'{folder} does not exist; SRC must be the '
                                f'CelebAMask-HQ folder holding {IMG_DIR}/ '
                                f'and {ANNO_DIR}/')
    stems = [osp.splitext(f)[0] for f in os.listdir(folder)
             if f.lower().endswith('.jpg')]
    ids = sorted(int(s) for s in stems if s.isdigit())
    if not ids:
        raise FileNotFoundError(f'no <index>.jpg images in {folder}')
    return ids


def coordgan_order(ids: Sequence[int]) -> List[int]:
    """Image ids in the order CoordGAN lists them: file names sorted as strings ('10.jpg' < '2.jpg')."""
    return sorted(ids, key=lambda i: f'{i}.jpg')


def coordgan_split(ids: Sequence[int]) -> Tuple[List[int], List[int]]:
    """(5 reference ids, 100 query ids) of CoordGAN's benchmark, given the ids present."""
    order = coordgan_order(ids)
    if len(order) <= max(COORDGAN_QUERY_POSITIONS):
        raise ValueError(f'the CoordGAN split indexes position '
                         f'{max(COORDGAN_QUERY_POSITIONS)} of the sorted '
                         f'image names, but only {len(order)} images exist; '
                         f'it needs the full {IMG_DIR} folder')
    return ([order[p] for p in COORDGAN_REFERENCE_POSITIONS],
            [order[p] for p in COORDGAN_QUERY_POSITIONS])


def parse_indices(spec: str) -> List[int]:
    """'0-299,305' -> [0, ..., 299, 305] (ranges inclusive, order kept, duplicates dropped)."""
    ids: List[int] = []
    for chunk in spec.split(','):
        chunk = chunk.strip()
        try:
            if '-' in chunk:
                start, stop = (int(v) for v in chunk.split('-'))
                if stop < start:
                    raise ValueError
                ids.extend(range(start, stop + 1))
            else:
                ids.append(int(chunk))
        except ValueError:
            raise ValueError(f'--indices: cannot read {chunk!r} in {spec!r}; '
                             "expected e.g. '0-299', '1,3,5-8', 'all' or "
                             "'coordgan'") from None
    return list(dict.fromkeys(ids))


def part_paths(src: str, index: int) -> Tuple[str, Dict[str, str]]:
    """Annotation folder of image ``index`` and {part: path} of the part files that exist."""
    folder = osp.join(src, ANNO_DIR, str(index // IMAGES_PER_ANNO_FOLDER))
    paths = {
        part: osp.join(folder, f'{index:05d}_{part}.png')
        for part in ALL_PARTS
    }
    return folder, {k: p for k, p in paths.items() if osp.isfile(p)}


def read_part(path: str) -> np.ndarray:
    """A binary part mask PNG -> (H, W) bool."""
    mask = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if mask is None:
        raise ValueError(f'{path}: OpenCV cannot read this part mask')
    if mask.ndim == 3:
        # The official masks are white-on-black RGB; any colour counts.
        mask = mask[..., :3].max(axis=2)
    return mask > 0


def merge_parts(parts: Dict[str, np.ndarray],
                shape: Tuple[int, int]) -> np.ndarray:
    """{part: (H, W) bool} -> (H, W) uint8 labels of CELEBAMASK_HQ_CLASSES, painted in PAINT_ORDER."""
    seg = np.zeros(shape, dtype=np.uint8)
    for part, cls in PAINT_ORDER:
        if part in parts:
            seg[parts[part]] = CELEBAMASK_HQ_CLASSES.index(cls)
    return seg


def image_size(path: str) -> Tuple[int, int]:
    """(H, W) of an image, from its header."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'image {path} does not exist')
    try:
        with Image.open(path) as img:
            width, height = img.size
    except OSError as err:
        raise ValueError(f'{path}: cannot read this image ({err})') from err
    return height, width


def label_map_of(src: str, index: int,
                 img_shape: Tuple[int, int]) -> np.ndarray:
    """Image ``index``'s part masks -> (h, w) uint8 label map at the mask size."""
    folder, paths = part_paths(src, index)
    if not paths:
        raise FileNotFoundError(
            f'image {index}: no part masks {index:05d}_<part>.png in '
            f'{folder} (parts: {", ".join(ALL_PARTS)})')
    parts, first = {}, None
    for part, _ in PAINT_ORDER:
        if part not in paths:
            continue
        mask = read_part(paths[part])
        if first is None:
            first = (paths[part], mask.shape)
            same_aspect = (mask.shape[0] * img_shape[1] ==
                           mask.shape[1] * img_shape[0])
            if not same_aspect:
                raise ValueError(
                    f'{paths[part]}: mask is {mask.shape[0]}x{mask.shape[1]}'
                    f' but its image is {img_shape[0]}x{img_shape[1]} (HxW);'
                    ' expected the same aspect ratio')
        elif mask.shape != first[1]:
            raise ValueError(
                f'{paths[part]}: mask is {mask.shape[0]}x{mask.shape[1]} but '
                f'{first[0]} is {first[1][0]}x{first[1][1]}; all part masks '
                f'of image {index} must have one size')
        parts[part] = mask
    if first is None:
        # Only parts that merge into background (hair, cloth, ...) exist.
        _, any_path = next(iter(paths.items()))
        return np.zeros(read_part(any_path).shape, dtype=np.uint8)
    return merge_parts(parts, first[1])


def place_file(src_path: str, dst_path: str, symlink: bool) -> None:
    """Copy ``src_path`` to ``dst_path``, or link it by absolute path."""
    if osp.lexists(dst_path):
        os.remove(dst_path)
    if symlink:
        os.symlink(osp.abspath(src_path), dst_path)
    else:
        shutil.copyfile(src_path, dst_path)


def convert_one(item: Tuple[str, int], src: str, dst: str,
                symlink: bool) -> str:
    """Write ``dst/images/<name>.jpg`` and ``dst/masks/<name>.png`` of image ``index``; returns name."""
    name, index = item
    img_path = osp.join(src, IMG_DIR, f'{index}.jpg')
    seg = label_map_of(src, index, image_size(img_path))
    mask_path = osp.join(dst, 'masks', f'{name}.png')
    if not cv2.imwrite(mask_path, seg):
        raise OSError(f'cannot write {mask_path}')
    place_file(img_path, osp.join(dst, 'images', f'{name}.jpg'), symlink)
    return name


def select(src: str, indices: Optional[str]) -> List[Tuple[str, int]]:
    """(output name, image id) pairs for ``--indices``; names sort naturally into that order."""
    present = image_ids(src)
    if indices in (None, 'all'):
        return [(str(i), i) for i in present]
    if indices == 'coordgan':
        # The first 200 images in CoordGAN's order, rank-prefixed so that
        # the dataset's natural sort keeps that order: positions
        # [1, 3, 5, 6, 8] and 100-199 are then its references and queries.
        coordgan_split(present)  # raises when fewer than 200 images exist
        first = coordgan_order(present)[:max(COORDGAN_QUERY_POSITIONS) + 1]
        return [(f'{rank:03d}_{i}', i) for rank, i in enumerate(first)]
    wanted = parse_indices(indices)
    missing = sorted(set(wanted) - set(present))
    if missing:
        raise FileNotFoundError(
            f'--indices asks for {len(missing)} images that are not in '
            f'{osp.join(src, IMG_DIR)}, e.g. {missing[0]}.jpg')
    return [(str(i), i) for i in sorted(wanted)]


def convert(src: str,
            dst: str,
            indices: Optional[str] = None,
            workers: int = 1,
            symlink: bool = False,
            overwrite: bool = False) -> List[str]:
    """Convert the CelebAMask-HQ folder ``src`` into ``dst``; returns the names written, in order."""
    items = select(src, indices)
    prepare_layout(dst, overwrite)
    job = partial(convert_one, src=src, dst=dst, symlink=symlink)
    if workers > 1:
        with multiprocessing.Pool(workers) as pool:
            names = list(pool.imap(job, items, chunksize=16))
    else:
        names = [job(item) for item in items]
    # Written last: a meta.json marks a finished conversion.
    write_meta_json(dst, CELEBAMASK_HQ_CLASSES,
                    source=f'CelebAMask-HQ ({osp.abspath(src)})',
                    indices=indices or 'all')
    return names


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='CelebAMask-HQ folder (holds '
                        f'{IMG_DIR}/ and {ANNO_DIR}/)')
    parser.add_argument('dst', help='output folder')
    parser.add_argument(
        '--indices', default=None,
        help="images to convert: 'all' (default), 'coordgan' (the first 200 "
        "in CoordGAN's order, which hold its benchmark at positions "
        "[1, 3, 5, 6, 8] and 100-199) or a list such as '0-299,305'")
    parser.add_argument('--workers', type=int, default=1,
                        help='processes (default 1)')
    parser.add_argument('--symlink', action='store_true',
                        help='symlink the images instead of copying them')
    parser.add_argument('--overwrite', action='store_true',
                        help='write into a non-empty DST')
    return parser.parse_args()


def main():
    args = parse_args()
    names = convert(args.src, args.dst, args.indices, args.workers,
                    args.symlink, args.overwrite)
    print(f'wrote {len(names)} images and label maps to {args.dst}')


if __name__ == '__main__':
    main()
