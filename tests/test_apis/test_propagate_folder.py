"""coordgan.apis.propagate_folder: reading people's files (EXIF, grey, alpha, 16 bit, COCO) and writing masks back."""
import json

import cv2
import numpy as np
import pytest
from PIL import Image

from coordgan.apis import (load_image, load_reference_mask, masks_to_coco,
                           propagate_folder, read_coco_reference)
from coordgan.datasets.file_checks import BadFileError
from helpers import raw_pixel_model

SIZE = 16


def reference(tmp_path):
    """A 16 px image of distinct colours and a 4-label mask, written as ref.png / ref_mask.png."""
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    mask = rng.integers(0, 4, (SIZE, SIZE)).astype(np.uint8)
    cv2.imwrite(str(tmp_path / 'ref.png'), img)
    cv2.imwrite(str(tmp_path / 'ref_mask.png'), mask)
    return img, mask


def exif_jpeg(path, rgb, orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(rgb).save(path, exif=exif, quality=95)


def test_load_image_applies_exif_and_composites_alpha(tmp_path):
    stored = np.zeros((20, 40, 3), np.uint8)
    stored[:, :10] = 255  # left quarter white
    exif_jpeg(tmp_path / 'rot.jpg', stored, orientation=6)  # 90 deg CW
    img = load_image(str(tmp_path / 'rot.jpg'))
    assert img.shape == (40, 20, 3)  # shown rotated
    assert img[:8].min() > 200 and img[12:].max() < 50  # left -> top

    grey = np.full((5, 7), 100, np.uint8)
    cv2.imwrite(str(tmp_path / 'grey.png'), grey)
    assert np.array_equal(load_image(str(tmp_path / 'grey.png')),
                          np.repeat(grey[..., None], 3, -1))

    bgra = np.zeros((4, 6, 4), np.uint8)
    bgra[..., 0] = 200  # blue
    bgra[:, :3, 3] = 255  # left half opaque, right half transparent
    cv2.imwrite(str(tmp_path / 'rgba.png'), bgra)
    img = load_image(str(tmp_path / 'rgba.png'))
    assert img.shape == (4, 6, 3)
    assert (img[:, :3] == [200, 0, 0]).all()
    assert (img[:, 3:] == 255).all()  # transparent -> white

    deep = np.full((3, 4, 3), 40000, np.uint16)
    cv2.imwrite(str(tmp_path / 'deep.png'), deep)
    img = load_image(str(tmp_path / 'deep.png'))
    assert img.dtype == np.uint8 and (img == 40000 >> 8).all()


def test_load_image_names_corrupt_files(tmp_path):
    cv2.imwrite(str(tmp_path / 'ok.png'), np.zeros((8, 8, 3), np.uint8))
    data = (tmp_path / 'ok.png').read_bytes()
    (tmp_path / 'cut.png').write_bytes(data[:len(data) // 2])
    with pytest.raises(BadFileError, match=r'cut\.png: truncated PNG'):
        load_image(str(tmp_path / 'cut.png'))
    (tmp_path / 'text.jpg').write_text('hello, not a photo')
    with pytest.raises(BadFileError, match=r'text\.jpg: a text file'):
        load_image(str(tmp_path / 'text.jpg'))


def test_folder_masks_at_each_size_and_identity_returns_the_mask(tmp_path):
    img, mask = reference(tmp_path)
    images = tmp_path / 'images'
    (images / 'sub').mkdir(parents=True)
    cv2.imwrite(str(images / 'same.png'), img)
    cv2.imwrite(str(images / 'sub' / 'big.png'),
                cv2.resize(img, (40, 24), interpolation=cv2.INTER_NEAREST))
    cv2.imwrite(str(images / 'grey.png'), img[..., 1])
    cv2.imwrite(str(images / 'rgba.png'),
                np.concatenate([img, np.full_like(img[..., :1], 255)], -1))
    cv2.imwrite(str(images / 'deep.png'), img.astype(np.uint16) * 257)
    exif_jpeg(images / 'rot.jpg', np.zeros((10, 30, 3), np.uint8), 8)
    (images / 'notes.txt').write_text('not an image, ignored')

    out = tmp_path / 'out'
    summary = propagate_folder(raw_pixel_model(), str(tmp_path / 'ref.png'),
                               str(tmp_path / 'ref_mask.png'), str(images),
                               str(out), batch_size=4, progress=False)
    assert summary.skipped == []
    want = {'same.png': (16, 16), 'sub/big.png': (24, 40),
            'grey.png': (16, 16), 'rgba.png': (16, 16),
            'deep.png': (16, 16), 'rot.jpg': (30, 10)}
    assert sorted(summary.written) == sorted(want)
    for name, shape in want.items():
        stem = name.rsplit('.', 1)[0]
        pred = cv2.imread(str(out / 'masks' / f'{stem}.png'),
                          cv2.IMREAD_UNCHANGED)
        assert pred.shape == shape and pred.dtype == np.uint8, name
        vis = cv2.imread(str(out / 'overlays' / f'{stem}.png'))
        assert vis.shape == shape + (3, ), name
    for name in ('same', 'rgba', 'deep'):  # the reference's own pixels
        assert np.array_equal(
            cv2.imread(str(out / 'masks' / f'{name}.png'),
                       cv2.IMREAD_UNCHANGED), mask), name


def test_corrupt_image_raises_or_is_skipped_and_counted(tmp_path):
    img, _ = reference(tmp_path)
    images = tmp_path / 'images'
    images.mkdir()
    cv2.imwrite(str(images / 'a.png'), img)
    cv2.imwrite(str(images / 'broken.jpg'), img)
    data = (images / 'broken.jpg').read_bytes()
    (images / 'broken.jpg').write_bytes(data[:len(data) - 40])  # cut short
    args = (raw_pixel_model(), str(tmp_path / 'ref.png'),
            str(tmp_path / 'ref_mask.png'), str(images))
    with pytest.raises(BadFileError, match=r'broken\.jpg: truncated JPEG'):
        propagate_folder(*args, str(tmp_path / 'o1'), progress=False)
    # A bad reference stops the run even when continuing on bad queries.
    with pytest.raises(BadFileError, match=r'broken\.jpg: truncated JPEG'):
        propagate_folder(args[0], str(images / 'broken.jpg'), *args[2:],
                         str(tmp_path / 'o3'), continue_on_error=True,
                         progress=False)
    summary = propagate_folder(*args, str(tmp_path / 'o2'),
                               continue_on_error=True, progress=False)
    assert summary.written == ['a.png']
    assert [p for p, _ in summary.skipped] == [str(images / 'broken.jpg')]
    assert (tmp_path / 'o2' / 'masks' / 'a.png').is_file()


def test_reference_mask_errors_name_the_mask(tmp_path):
    reference(tmp_path)
    ref = str(tmp_path / 'ref.png')
    cv2.imwrite(str(tmp_path / 'small.png'), np.zeros((8, 16), np.uint8))
    with pytest.raises(BadFileError, match=r'small\.png: the mask is 8x16 '
                       r'\(HxW\) but the reference image .*ref\.png is '
                       r'16x16'):
        load_reference_mask(str(tmp_path / 'small.png'), ref, (16, 16))
    (tmp_path / 'junk.png').write_bytes(b'\x89PNG\r\n\x1a\n' + b'\0' * 40)
    with pytest.raises(BadFileError, match=r'junk\.png: corrupt PNG'):
        load_reference_mask(str(tmp_path / 'junk.png'), ref, (16, 16))
    indexed = Image.fromarray(np.arange(256, dtype=np.uint8).reshape(16, 16)
                              % 5, 'L').convert('P')
    indexed.putpalette([0, 0, 0, 200, 10, 10, 10, 200, 10] * 85 + [0])
    indexed.save(tmp_path / 'voc.png')  # colour type 3, as VOC masks
    labels, _ = load_reference_mask(str(tmp_path / 'voc.png'), ref, (16, 16))
    assert np.array_equal(labels, np.arange(256).reshape(16, 16) % 5)
    cv2.imwrite(str(tmp_path / 'lossy.jpg'), np.zeros((16, 16), np.uint8))
    with pytest.raises(BadFileError, match=r'lossy\.jpg: a JPEG cannot be a '
                       'label map'):
        load_reference_mask(str(tmp_path / 'lossy.jpg'), ref, (16, 16))
    (tmp_path / 'bad.json').write_text('{"images": [')
    with pytest.raises(BadFileError, match=r'bad\.json: cannot read it as '
                       'JSON'):
        load_reference_mask(str(tmp_path / 'bad.json'), ref, (16, 16))


def test_coco_round_trip_of_predicted_masks(tmp_path):
    rng = np.random.default_rng(3)
    masks = [('a.jpg', rng.integers(0, 4, (9, 13))),
             ('dir/b.png', rng.integers(0, 3, (20, 7)))]
    categories = [dict(id=5, name='hair'), dict(id=2, name='face'),
                  dict(id=9, name='neck')]
    coco = masks_to_coco(masks, categories, num_labels=4)
    # Labels follow category-id order: 1 face (id 2), 2 hair (5), 3 neck (9).
    assert [c['id'] for c in coco['categories']] == [2, 5, 9]
    path = tmp_path / 'pred.json'
    path.write_text(json.dumps(coco))  # counts must be JSON strings
    for name, labels in masks:
        back, cats = read_coco_reference(str(path), name, labels.shape)
        assert np.array_equal(back, labels), name
        assert [c['name'] for c in cats] == ['face', 'hair', 'neck']
    plain = masks_to_coco(masks[:1], None, num_labels=4)
    assert [c['name'] for c in plain['categories']] == [
        'label_1', 'label_2', 'label_3']


def test_coco_polygon_reference_matches_brute_force(tmp_path):
    height, width = 12, 15
    square = [2, 3, 9, 3, 9, 10, 2, 10]  # x, y corners, in pixel units
    coco = dict(
        images=[dict(id=7, file_name='photos/ref.jpg', height=height,
                     width=width),
                dict(id=8, file_name='other.jpg', height=5, width=5)],
        categories=[dict(id=3, name='body'), dict(id=1, name='head')],
        annotations=[dict(id=1, image_id=7, category_id=3,
                          segmentation=[square], iscrowd=0),
                     dict(id=2, image_id=8, category_id=1,
                          segmentation=[[0, 0, 4, 0, 4, 4]], iscrowd=0)])
    path = tmp_path / 'ann.json'
    path.write_text(json.dumps(coco))
    labels, _ = read_coco_reference(str(path), '/x/ref.jpg', (height, width))
    want = np.zeros((height, width), np.int64)
    for y in range(height):
        for x in range(width):
            # A pixel is inside when its centre is: 2 < x + .5 < 9, ...
            if 2 < x + 0.5 < 9 and 3 < y + 0.5 < 10:
                want[y, x] = 2  # category id 3 is the second by id
    assert np.array_equal(labels, want)
    with pytest.raises(BadFileError, match=r"ann\.json: no image entries "
                       r"have file name 'missing\.jpg'"):
        read_coco_reference(str(path), 'missing.jpg', (height, width))
    with pytest.raises(BadFileError, match=r'ann\.json: image .* is 12x15 '
                       r'\(HxW\) in the JSON but 15x12'):
        read_coco_reference(str(path), 'ref.jpg', (width, height))


def test_coco_uncompressed_rle_reference(tmp_path):
    """Uncompressed RLE (a count list, column-major, starting with zeros) as CVAT and others export it."""
    height, width = 4, 3
    want = np.array([[0, 1, 0], [0, 1, 1], [1, 0, 1], [0, 0, 0]])
    column_major = want.T.ravel().tolist()
    counts, value, run = [], 0, 0
    for v in column_major:
        if v != value:
            counts.append(run)
            value, run = v, 0
        run += 1
    counts.append(run)
    coco = dict(images=[dict(id=1, file_name='r.png', height=height,
                             width=width)],
                categories=[dict(id=1, name='part')],
                annotations=[dict(id=1, image_id=1, category_id=1, iscrowd=1,
                                  segmentation=dict(size=[height, width],
                                                    counts=counts))])
    (tmp_path / 'rle.json').write_text(json.dumps(coco))
    labels, _ = read_coco_reference(str(tmp_path / 'rle.json'), 'r.png',
                                    (height, width))
    assert np.array_equal(labels, want)


def test_synthetic_data_through_files_matches_the_api(tmp_path):
    """Embedded synthetic samples saved as a person's folder (PNG + JPEG): the folder tool gives propagate_mask's masks."""
    from coordgan.apis import init_model, propagate_mask
    from coordgan.registry import DATASETS
    model = init_model('configs/labelprop/raw-pixel_synthetic.py')
    dataset = DATASETS.build(dict(
        type='SyntheticPartsDataset', num_samples=5, img_size=128,
        seed=12345, pipeline=[dict(type='PackImageInputs',
                                   meta_keys=('img_path', 'gt_seg_map'))]))
    items = [dataset[i] for i in range(5)]
    images = [it['inputs'].permute(1, 2, 0).numpy() for it in items]  # BGR
    truths = [it['data_samples']['gt_seg_map'].numpy() for it in items]
    cv2.imwrite(str(tmp_path / 'ref.png'), images[0])
    cv2.imwrite(str(tmp_path / 'ref_mask.png'), truths[0].astype(np.uint8))
    folder = tmp_path / 'queries'
    folder.mkdir()
    for i in range(1, 5):
        ext = 'jpg' if i % 2 else 'png'
        cv2.imwrite(str(folder / f'q{i}.{ext}'), images[i])
    propagate_folder(model, str(tmp_path / 'ref.png'),
                     str(tmp_path / 'ref_mask.png'), str(folder),
                     str(tmp_path / 'out'), progress=False)
    for i in range(1, 5):
        ext = 'jpg' if i % 2 else 'png'
        decoded = cv2.imread(str(folder / f'q{i}.{ext}'))
        want = propagate_mask(model, images[0], truths[0], [decoded],
                              num_classes=int(truths[0].max()) + 1)[0]
        got = cv2.imread(str(tmp_path / 'out' / 'masks' / f'q{i}.png'),
                         cv2.IMREAD_UNCHANGED)
        assert np.array_equal(got, want), i
