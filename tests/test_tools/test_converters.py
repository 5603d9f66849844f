import importlib.util
import json
import os.path as osp
import sys

import cv2
import numpy as np
import pytest

from coordgan.datasets import (CELEBAMASK_HQ_CLASSES, DATASETGAN_CAR_CLASSES,
                               DATASETGAN_FACE_CLASSES, CelebAMaskHQDataset,
                               DatasetGANDataset)
from coordgan.datasets.segmentation import natural_key

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))


def load_tool(name):
    """Import tools/dataset_converters/<name>.py, which is a script, not a package module."""
    path = osp.join(ROOT, 'tools', 'dataset_converters', f'{name}.py')
    spec = importlib.util.spec_from_file_location(f'converter_{name}', path)
    module = importlib.util.module_from_spec(spec)
    # Registered so that multiprocessing can pickle its functions by name.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


celeba = load_tool('celebamask_hq')
dgan = load_tool('datasetgan')

LABEL = {c: i for i, c in enumerate(CELEBAMASK_HQ_CLASSES)}


def box(size, y0, y1, x0, x1):
    """A white-on-black RGB part mask, as CelebAMask-HQ ships them."""
    mask = np.zeros((size, size, 3), np.uint8)
    mask[y0:y1, x0:x1] = 255
    return mask


def write_celeba(root, parts_of, img_size=64):
    """Fake CelebAMask-HQ: CelebA-HQ-img/<i>.jpg and CelebAMask-HQ-mask-anno/<i//2000>/<i:05d>_<part>.png."""
    (root / 'CelebA-HQ-img').mkdir(parents=True, exist_ok=True)
    for index, parts in parts_of.items():
        cv2.imwrite(str(root / 'CelebA-HQ-img' / f'{index}.jpg'),
                    np.full((img_size, img_size, 3), index % 255, np.uint8))
        folder = root / 'CelebAMask-HQ-mask-anno' / str(index // 2000)
        folder.mkdir(parents=True, exist_ok=True)
        for part, mask in parts.items():
            cv2.imwrite(str(folder / f'{index:05d}_{part}.png'), mask)
    return root


def face_parts(size=32):
    """Overlapping parts: skin under lips, eyes, nose; nose under mouth."""
    return dict(
        skin=box(size, 4, 28, 4, 28),
        nose=box(size, 12, 22, 14, 18),
        u_lip=box(size, 20, 22, 10, 22),
        l_lip=box(size, 24, 26, 10, 22),
        mouth=box(size, 21, 25, 12, 20),
        l_eye=box(size, 8, 10, 6, 10),
        r_eye=box(size, 8, 10, 22, 26),
        l_brow=box(size, 5, 6, 6, 10),
        r_brow=box(size, 5, 6, 22, 26),
        l_ear=box(size, 12, 16, 0, 4),
        r_ear=box(size, 12, 16, 28, 32),
        hair=box(size, 0, 4, 0, 32),
        cloth=box(size, 28, 32, 0, 32),
    )


def expected_face(size=32):
    seg = np.zeros((size, size), np.uint8)
    seg[4:28, 4:28] = LABEL['face']
    seg[20:22, 10:22] = LABEL['mouth']
    seg[24:26, 10:22] = LABEL['mouth']
    seg[8:10, 6:10] = seg[8:10, 22:26] = LABEL['eye']
    seg[5:6, 6:10] = seg[5:6, 22:26] = LABEL['brow']
    seg[12:16, 0:4] = seg[12:16, 28:32] = LABEL['ear']
    seg[12:22, 14:18] = LABEL['nose']  # covers the upper lip
    seg[21:25, 12:20] = LABEL['mouth']  # covers the nose
    return seg


# CelebAMask-HQ ------------------------------------------------------------


def test_merge_paints_in_reference_order():
    parts = {k: v.max(axis=2) > 0 for k, v in face_parts().items()}
    np.testing.assert_array_equal(celeba.merge_parts(parts, (32, 32)),
                                  expected_face())


def test_celeba_convert_then_read(tmp_path):
    src = write_celeba(tmp_path / 'src', {
        0: face_parts(),
        2001: dict(skin=box(32, 0, 32, 0, 32), mouth=box(32, 0, 4, 0, 4)),
        5: dict(hair=box(32, 0, 8, 0, 32)),
    })
    dst = tmp_path / 'dst'
    names = celeba.convert(str(src), str(dst))
    assert names == ['0', '5', '2001']
    seg = cv2.imread(str(dst / 'masks' / '0.png'), cv2.IMREAD_UNCHANGED)
    assert seg.ndim == 2 and seg.dtype == np.uint8
    np.testing.assert_array_equal(seg, expected_face())
    assert not cv2.imread(str(dst / 'masks' / '5.png'),
                          cv2.IMREAD_UNCHANGED).any()
    meta = json.loads((dst / 'meta.json').read_text())
    assert tuple(meta['classes']) == CELEBAMASK_HQ_CLASSES
    with open(src / 'CelebA-HQ-img' / '2001.jpg', 'rb') as f:
        assert (dst / 'images' / '2001.jpg').read_bytes() == f.read()

    ds = CelebAMaskHQDataset(
        data_root=str(dst),
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='LoadSegMap', size_check='aspect'),
                  dict(type='PackImageInputs',
                       meta_keys=('gt_seg_map', 'name'))])
    assert [ds.get_data_info(i)['name'] for i in range(3)] == [
        '0', '5', '2001']
    item = ds[2]
    assert item['inputs'].shape == (3, 64, 64)
    seg = item['data_samples']['gt_seg_map'].numpy()
    assert seg.shape == (32, 32)
    assert seg[0, 0] == LABEL['mouth'] and seg[10, 10] == LABEL['face']


def test_celeba_indices_symlink_workers_and_cli(tmp_path, monkeypatch):
    src = write_celeba(tmp_path / 'src', {
        i: dict(skin=box(32, 0, 16, 0, 16)) for i in range(4)})
    names = celeba.convert(str(src), str(tmp_path / 'a'), indices='3,1-2',
                           workers=2, symlink=True)
    assert names == ['1', '2', '3']
    assert osp.islink(tmp_path / 'a' / 'images' / '1.jpg')
    with pytest.raises(FileExistsError, match='images is not empty'):
        celeba.convert(str(src), str(tmp_path / 'a'), indices='0')
    celeba.convert(str(src), str(tmp_path / 'a'), indices='0',
                   overwrite=True)
    assert (tmp_path / 'a' / 'masks' / '0.png').is_file()
    monkeypatch.setattr(sys, 'argv', [
        'celebamask_hq.py', str(src), str(tmp_path / 'b'), '--indices', '0-1'
    ])
    celeba.main()
    assert sorted(p.name for p in (tmp_path / 'b' / 'masks').iterdir()) == [
        '0.png', '1.png']


def test_parse_indices_and_coordgan_split():
    assert celeba.parse_indices('0-3, 7,2') == [0, 1, 2, 3, 7]
    for bad in ('a', '5-2', '1-'):
        with pytest.raises(ValueError, match='--indices: cannot read'):
            celeba.parse_indices(bad)
    refs, queries = celeba.coordgan_split(list(range(30000)))
    # Positions [1, 3, 5, 6, 8] of the names sorted as strings.
    assert refs == [1, 100, 10000, 10001, 10003]
    assert len(queries) == 100 and queries[:4] == [10087, 10088, 10089, 1009]
    with pytest.raises(ValueError, match='only 150 images exist'):
        celeba.coordgan_split(list(range(150)))


def test_celeba_coordgan_selection_puts_the_split_at_its_positions(tmp_path):
    folder = tmp_path / 'CelebA-HQ-img'
    folder.mkdir()
    for i in range(210):
        (folder / f'{i}.jpg').touch()
    items = celeba.select(str(tmp_path), 'coordgan')
    assert len(items) == 200
    assert items[:4] == [('000_0', 0), ('001_1', 1), ('002_10', 10),
                         ('003_100', 100)]
    names = sorted((name for name, _ in items), key=natural_key)
    refs, queries = celeba.coordgan_split(list(range(210)))
    ids = dict(items)
    assert [ids[names[p]] for p in (1, 3, 5, 6, 8)] == refs
    assert [ids[names[p]] for p in range(100, 200)] == queries
    with pytest.raises(FileNotFoundError, match='e.g. 500.jpg'):
        celeba.select(str(tmp_path), '0,500')


def test_celeba_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='CelebA-HQ-img does not'):
        celeba.convert(str(tmp_path / 'nothing'), str(tmp_path / 'o'))
    src = write_celeba(tmp_path / 'src', {0: face_parts(), 1: {}})
    with pytest.raises(FileNotFoundError, match=r'image 1: no part masks '
                       r'00001_<part>.png in .*mask-anno/0'):
        celeba.convert(str(src), str(tmp_path / 'o1'), indices='1')
    anno = src / 'CelebAMask-HQ-mask-anno' / '0'
    (anno / '00000_nose.png').write_bytes(b'broken')
    with pytest.raises(ValueError, match='00000_nose.png: OpenCV cannot'):
        celeba.convert(str(src), str(tmp_path / 'o2'), indices='0')
    cv2.imwrite(str(anno / '00000_nose.png'), box(16, 0, 4, 0, 4))
    with pytest.raises(ValueError, match=r'00000_nose.png: mask is 16x16 but'
                       r' .*00000_skin.png is 32x32'):
        celeba.convert(str(src), str(tmp_path / 'o3'), indices='0')
    cv2.imwrite(str(anno / '00000_nose.png'), box(32, 0, 4, 0, 4))
    cv2.imwrite(str(anno / '00000_skin.png'), np.zeros((32, 16, 3)))
    with pytest.raises(ValueError, match=r'00000_skin.png: mask is 32x16 but'
                       r' its image is 64x64'):
        celeba.convert(str(src), str(tmp_path / 'o4'), indices='0')
    (src / 'CelebA-HQ-img' / '0.jpg').write_bytes(b'broken')
    with pytest.raises(ValueError, match='0.jpg: cannot read this image'):
        celeba.convert(str(src), str(tmp_path / 'o5'), indices='0')


# DatasetGAN ---------------------------------------------------------------


def write_datasetgan(root, category, train_masks, test_masks, size=(8, 8)):
    """Fake release: training_data/<cat>_processed/image_<i>.jpg + image_mask<i>.npy, testing_data/... + mask_<i>.npy."""
    train_dir, test_dir = (root / 'annotation' / rel
                           for _, rel in dgan.SPLIT_FOLDERS[category])
    train_dir.mkdir(parents=True)
    test_dir.mkdir(parents=True)
    for i, mask in train_masks.items():
        cv2.imwrite(str(train_dir / f'image_{i}.jpg'),
                    np.zeros(size + (3, ), np.uint8))
        np.save(train_dir / f'image_mask{i}.npy', mask)
    for i, mask in test_masks.items():
        cv2.imwrite(str(test_dir / f'image_{i}.png'),
                    np.zeros(size + (3, ), np.uint8))
        np.save(test_dir / f'mask_{i}.npy', mask)
    return train_dir, test_dir


def test_datasetgan_face_drops_hair_and_neck(tmp_path):
    raw = np.array([[0, 1, 16, 17], [18, 24, 25, 26], [33, 0, 0, 0],
                    [0, 0, 0, 0]], np.uint8)
    masks = {i: raw for i in range(12)}
    # Released masks may be float or carry a leading singleton axis.
    write_datasetgan(tmp_path / 'src', 'face', masks,
                     {0: raw.astype(np.float32)[None], 1: raw},
                     size=(16, 16))
    names = dgan.convert(str(tmp_path / 'src'), str(tmp_path / 'dst'),
                         'face')
    # CoordGAN's order: training files sorted as strings, then testing.
    assert names[:5] == ['000_train_image_0', '001_train_image_1',
                         '002_train_image_10', '003_train_image_11',
                         '004_train_image_2']
    assert names[-2:] == ['012_test_image_0', '013_test_image_1']
    seg = cv2.imread(str(tmp_path / 'dst' / 'masks' / f'{names[-2]}.png'),
                     cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(
        seg, [[0, 1, 16, 0], [17, 23, 0, 24], [31, 0, 0, 0], [0, 0, 0, 0]])
    assert DATASETGAN_FACE_CLASSES[16] == 'head***frown'
    assert DATASETGAN_FACE_CLASSES[17] == 'head***hair***sideburns'
    assert DATASETGAN_FACE_CLASSES[24] == 'head***nose'
    meta = json.loads((tmp_path / 'dst' / 'meta.json').read_text())
    assert meta['excluded_classes'] == ['head***hair', 'head***neck']

    ds = DatasetGANDataset(
        data_root=str(tmp_path / 'dst'), category='face',
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='LoadSegMap', size_check='aspect'),
                  dict(type='PackImageInputs', meta_keys=('gt_seg_map', ))])
    assert len(ds) == 14
    assert ds.get_data_info(2)['name'] == '002_train_image_10'
    item = ds[13]
    assert item['inputs'].shape == (3, 16, 16)
    assert item['data_samples']['gt_seg_map'].shape == (4, 4)


def test_datasetgan_car_keeps_ids(tmp_path, monkeypatch):
    raw = np.arange(20, dtype=np.int64).reshape(4, 5)
    write_datasetgan(tmp_path / 'src', 'car', {0: raw}, {3: raw},
                     size=(8, 10))
    monkeypatch.setattr(sys, 'argv', [
        'datasetgan.py', str(tmp_path / 'src' / 'annotation'),
        str(tmp_path / 'dst'), '--category', 'car', '--symlink'
    ])
    dgan.main()
    seg = cv2.imread(str(tmp_path / 'dst' / 'masks' / '001_test_image_3.png'),
                     cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(seg, raw)
    assert osp.islink(tmp_path / 'dst' / 'images' / '000_train_image_0.jpg')
    ds = DatasetGANDataset(data_root=str(tmp_path / 'dst'), category='car')
    assert ds.metainfo['classes'] == DATASETGAN_CAR_CLASSES


@pytest.mark.parametrize('edit, error, match', [
    (lambda d: (d / 'image_mask1.npy').unlink(), FileNotFoundError,
     r'image_1.jpg has no mask numbered 1'),
    (lambda d: (d / 'image_1.jpg').unlink(), FileNotFoundError,
     r'image_mask1.npy has no image numbered 1'),
    (lambda d: (d / 'image_mask1.npy').write_bytes(b'junk'), ValueError,
     r'image_mask1.npy: cannot read it as a .npy'),
    (lambda d: np.save(d / 'image_mask1.npy', np.full((4, 4), 34)),
     ValueError, r'image_mask1.npy: labels \[34\] are outside \[0, 34\)'),
    (lambda d: np.save(d / 'image_mask1.npy', np.full((4, 4), 0.5)),
     ValueError, r'image_mask1.npy: float mask with non-integer values'),
    (lambda d: np.save(d / 'image_mask1.npy', np.zeros((2, 4, 4))),
     ValueError, r'image_mask1.npy: expected a 2-D label map'),
    (lambda d: np.save(d / 'image_mask1.npy', np.zeros((4, 2), np.uint8)),
     ValueError, r'image_mask1.npy: mask is 4x2 but .*image_1.jpg is 8x8'),
    (lambda d: cv2.imwrite(str(d / 'image_1.png'), np.zeros((8, 8))),
     ValueError, r'two image files numbered 1'),
])
def test_datasetgan_errors_name_the_file(tmp_path, edit, error, match):
    mask = np.zeros((4, 4), np.uint8)
    train_dir, _ = write_datasetgan(tmp_path / 'src', 'face',
                                    {0: mask, 1: mask}, {0: mask})
    edit(train_dir)
    with pytest.raises(error, match=match):
        dgan.convert(str(tmp_path / 'src'), str(tmp_path / 'dst'), 'face')


def test_datasetgan_folder_errors(tmp_path):
    with pytest.raises(ValueError, match=r"category 'cat'.*\['car', 'face'\]"):
        dgan.convert(str(tmp_path), str(tmp_path / 'dst'), 'cat')
    with pytest.raises(FileNotFoundError,
                       match='face_processed does not exist'):
        dgan.convert(str(tmp_path), str(tmp_path / 'dst'), 'face')
    write_datasetgan(tmp_path / 'src', 'face', {}, {})
    with pytest.raises(FileNotFoundError, match='no images .*face_processed'):
        dgan.convert(str(tmp_path / 'src'), str(tmp_path / 'dst'), 'face')
