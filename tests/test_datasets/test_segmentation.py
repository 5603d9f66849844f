import json
import logging
from unittest import mock

import cv2
import numpy as np
import pytest
import torch

from coordgan.datasets import (CELEBAMASK_HQ_CLASSES, DATASETGAN_CAR_CLASSES,
                               DATASETGAN_FACE_CLASSES, CelebAMaskHQDataset,
                               DatasetGANDataset, LoadSegMap,
                               SegmentationFolderDataset)
from coordgan.datasets.file_checks import BadSampleError
from coordgan.datasets.segmentation import (DATASETGAN_FACE_34_CLASSES,
                                            default_palette, natural_key)
from coordgan.registry import DATASETS, TRANSFORMS

CLASSES = ('background', 'skin', 'nose')
PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadSegMap'),
    dict(type='PackImageInputs',
         meta_keys=('img_path', 'gt_seg_map', 'name', 'sample_idx')),
]


def write_layout(root, names, size=(6, 8), mask_ext='.png', meta=True):
    """A SegmentationFolderDataset folder: images/<n>.png, masks/<n><mask_ext>, meta.json."""
    (root / 'images').mkdir(parents=True)
    (root / 'masks').mkdir()
    for i, name in enumerate(names):
        cv2.imwrite(str(root / 'images' / f'{name}.png'),
                    np.full(size + (3, ), 10 * i, np.uint8))
        seg = np.arange(size[0] * size[1]).reshape(size) % len(CLASSES)
        if mask_ext == '.png':
            cv2.imwrite(str(root / 'masks' / f'{name}.png'),
                        seg.astype(np.uint8))
        else:
            np.save(root / 'masks' / f'{name}.npy', seg.astype(np.int32))
    if meta:
        (root / 'meta.json').write_text(json.dumps(dict(classes=CLASSES)))
    return root


# LoadSegMap ---------------------------------------------------------------


def load(path, **results):
    return LoadSegMap()(dict(seg_map_path=str(path), **results))


def test_load_png_and_npy(tmp_path):
    seg = np.array([[0, 1, 2], [3, 4, 300]], np.uint16)
    cv2.imwrite(str(tmp_path / 'a.png'), seg)
    out = load(tmp_path / 'a.png', img_shape=(2, 3))['gt_seg_map']
    assert out.dtype == np.int64 and out.shape == (2, 3)
    np.testing.assert_array_equal(out, seg)
    np.save(tmp_path / 'b.npy', seg.astype(np.int16))
    np.testing.assert_array_equal(load(tmp_path / 'b.npy')['gt_seg_map'], seg)
    grey = np.repeat(seg.astype(np.uint8)[..., None], 3, axis=2)
    cv2.imwrite(str(tmp_path / 'grey.png'), grey)
    np.testing.assert_array_equal(
        load(tmp_path / 'grey.png')['gt_seg_map'], seg.astype(np.uint8))


def test_label_map_sends_unlisted_ids_to_background(tmp_path):
    np.save(tmp_path / 'm.npy', np.array([[0, 1, 2], [3, 17, 25]]))
    t = TRANSFORMS.build(dict(type='LoadSegMap', label_map={1: 5, 3: 1}))
    out = t(dict(seg_map_path=str(tmp_path / 'm.npy')))['gt_seg_map']
    np.testing.assert_array_equal(out, [[0, 5, 0], [1, 0, 0]])
    assert 'label_map' in repr(t)


@pytest.mark.parametrize('kwargs, error, match', [
    (dict(label_map=[1, 2]), TypeError, 'label_map must be a dict'),
    (dict(label_map={'1': 2}), TypeError, 'must be integers'),
    (dict(size_check='loose'), ValueError, "'exact', 'aspect', 'none'"),
])
def test_load_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        LoadSegMap(**kwargs)


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(KeyError, match='seg_map_path'):
        LoadSegMap()(dict(img_path='x.png'))
    with pytest.raises(FileNotFoundError, match='nope.png does not exist'):
        load(tmp_path / 'nope.png')
    (tmp_path / 'junk.png').write_bytes(b'not a png')
    with pytest.raises(ValueError, match='junk.png: OpenCV cannot read'):
        load(tmp_path / 'junk.png')
    (tmp_path / 'junk.npy').write_bytes(b'not an array')
    with pytest.raises(ValueError, match='junk.npy: cannot read'):
        load(tmp_path / 'junk.npy')
    colour = np.zeros((4, 4, 3), np.uint8)
    colour[0, 0] = (255, 0, 0)
    cv2.imwrite(str(tmp_path / 'colour.png'), colour)
    with pytest.raises(ValueError, match='colour.png: a 3-channel PNG'):
        load(tmp_path / 'colour.png')
    np.save(tmp_path / 'float.npy', np.zeros((4, 4), np.float32))
    with pytest.raises(ValueError, match='float.npy: expected an integer'):
        load(tmp_path / 'float.npy')
    np.save(tmp_path / 'cube.npy', np.zeros((2, 4, 4), np.uint8))
    with pytest.raises(ValueError, match=r'cube.npy: expected a 2-D .*'
                       r'\(2, 4, 4\)'):
        load(tmp_path / 'cube.npy')
    (tmp_path / 'm.txt').write_text('0 1')
    with pytest.raises(ValueError, match="m.txt: expected a .png or .npy"):
        load(tmp_path / 'm.txt')


def test_load_checks_mask_size_against_image(tmp_path):
    cv2.imwrite(str(tmp_path / 'm.png'), np.zeros((4, 6), np.uint8))
    with pytest.raises(ValueError, match=r'mask .*m.png is 4x6 \(HxW\) but '
                       r'image a.jpg is 8x8$'):
        load(tmp_path / 'm.png', img_shape=(8, 8), img_path='a.jpg')
    with pytest.raises(ValueError, match="size_check='aspect'"):
        load(tmp_path / 'm.png', img_shape=(8, 12), img_path='a.jpg')
    aspect = LoadSegMap(size_check='aspect')
    assert aspect(dict(seg_map_path=str(tmp_path / 'm.png'),
                       img_shape=(8, 12)))['gt_seg_map'].shape == (4, 6)
    with pytest.raises(ValueError, match='is 4x6'):
        aspect(dict(seg_map_path=str(tmp_path / 'm.png'), img_shape=(8, 8)))
    loose = LoadSegMap(size_check='none')
    assert loose(dict(seg_map_path=str(tmp_path / 'm.png'),
                      img_shape=(8, 8)))['gt_seg_map'].shape == (4, 6)


# SegmentationFolderDataset ------------------------------------------------


def test_natural_key_orders_numbers_as_numbers():
    names = ['10', '2', 'a10', 'a9', 'b', '1', 'a9b']
    assert sorted(names, key=natural_key) == [
        '1', '2', '10', 'a9', 'a9b', 'a10', 'b']


def test_items_in_natural_order_with_classes_from_meta_json(tmp_path):
    write_layout(tmp_path, ['10', '2', '1'])
    ds = SegmentationFolderDataset(data_root=str(tmp_path))
    assert [ds.get_data_info(i)['name'] for i in range(3)] == ['1', '2', '10']
    info = ds.get_data_info(2)
    assert info['img_path'].endswith('images/10.png')
    assert info['seg_map_path'].endswith('masks/10.png')
    assert info['sample_idx'] == 2
    assert ds.metainfo['classes'] == CLASSES
    assert ds.metainfo['palette'] == default_palette(3)


def test_classes_from_classes_txt_argument_and_palette(tmp_path):
    write_layout(tmp_path, ['a'], meta=False)
    # Two-class lists below: keep the mask's labels in range.
    cv2.imwrite(str(tmp_path / 'masks' / 'a.png'),
                np.eye(6, 8, dtype=np.uint8))
    (tmp_path / 'classes.txt').write_text('background\nskin\n\n')
    ds = SegmentationFolderDataset(data_root=str(tmp_path))
    assert ds.metainfo['classes'] == ('background', 'skin')
    ds = SegmentationFolderDataset(data_root=str(tmp_path),
                                   classes=['bg', 'x', 'y'])
    assert ds.metainfo['classes'] == ('bg', 'x', 'y')
    palette = [[1, 2, 3], [4, 5, 6]]
    (tmp_path / 'meta.json').write_text(
        json.dumps(dict(classes=['bg', 'fg'], palette=palette)))
    ds = SegmentationFolderDataset(data_root=str(tmp_path))
    assert ds.metainfo['classes'] == ('bg', 'fg')
    assert ds.metainfo['palette'] == [(1, 2, 3), (4, 5, 6)]


@pytest.mark.parametrize('files, match', [
    ({}, 'neither .*meta.json nor .*classes.txt'),
    ({'meta.json': '{"classes": [}'}, 'meta.json: cannot read it as JSON'),
    ({'meta.json': '{"names": ["bg"]}'}, 'meta.json: expected an object'),
    ({'meta.json': '{"classes": []}'}, 'key "classes": the class list is'),
    ({'meta.json': '{"classes": "bg"}'}, 'must be a list of class names'),
    ({'meta.json': '{"classes": ["bg", "bg"]}'}, "repeated: \\['bg'\\]"),
    ({'meta.json': '{"classes": ["bg", 3]}'}, 'class 1 must be a non-empty'),
    ({'meta.json': '{"classes": ["bg"], "palette": [[0, 0]]}'},
     'palette entry 0'),
    ({'meta.json': '{"classes": ["bg"], "palette": []}'},
     'one \\[r, g, b\\] per class'),
    ({'classes.txt': 'bg\n\nskin'}, 'classes.txt: line 2 is empty'),
])
def test_class_list_errors(tmp_path, files, match):
    write_layout(tmp_path, ['a'], meta=False)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises((ValueError, TypeError, FileNotFoundError),
                       match=match):
        SegmentationFolderDataset(data_root=str(tmp_path))


def test_missing_mask_is_an_error_or_skipped_and_logged(tmp_path):
    write_layout(tmp_path, ['1', '2', '3'])
    (tmp_path / 'masks' / '2.png').unlink()
    with pytest.raises(BadSampleError,
                       match=r'1 of 3 samples .* check:\n  .*images/2.png: '
                       r'no mask: expected .*masks/2.png or \.npy'):
        SegmentationFolderDataset(data_root=str(tmp_path))
    with mock.patch('coordgan.datasets.segmentation.print_log') as log:
        ds = SegmentationFolderDataset(data_root=str(tmp_path),
                                       skip_unlabelled=True)
    assert [ds.get_data_info(i)['name'] for i in range(len(ds))] == ['1', '3']
    assert ds.get_data_info(1)['sample_idx'] == 1
    log.assert_called_once()
    assert 'skipped 1 of 3 images' in log.call_args.args[0]
    assert log.call_args.kwargs['level'] == logging.WARNING


def test_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='data_root .*nope'):
        SegmentationFolderDataset(data_root=str(tmp_path / 'nope'))
    (tmp_path / 'images').mkdir()
    with pytest.raises(FileNotFoundError, match='mask folder .*masks'):
        SegmentationFolderDataset(data_root=str(tmp_path), classes=CLASSES)
    (tmp_path / 'masks').mkdir()
    with pytest.raises(FileNotFoundError, match='no images .*images'):
        SegmentationFolderDataset(data_root=str(tmp_path), classes=CLASSES)
    cv2.imwrite(str(tmp_path / 'images' / 'a.png'), np.zeros((4, 4, 3)))
    cv2.imwrite(str(tmp_path / 'images' / 'a.jpg'), np.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match='two image files for .a.'):
        SegmentationFolderDataset(data_root=str(tmp_path), classes=CLASSES)
    (tmp_path / 'images' / 'a.jpg').unlink()
    with pytest.raises(FileNotFoundError, match='none of the 1 images'):
        SegmentationFolderDataset(data_root=str(tmp_path), classes=CLASSES,
                                  skip_unlabelled=True)


@pytest.mark.parametrize('mask_ext', ['.png', '.npy'])
def test_full_pipeline_packs_image_and_labels(tmp_path, mask_ext):
    write_layout(tmp_path, ['0', '1'], size=(6, 8), mask_ext=mask_ext)
    ds = DATASETS.build(dict(type='SegmentationFolderDataset',
                             data_root=str(tmp_path), pipeline=PIPELINE))
    item = ds[1]
    assert item['inputs'].shape == (3, 6, 8)
    assert item['inputs'].dtype == torch.uint8
    sample = item['data_samples']
    assert sample['gt_seg_map'].shape == (6, 8)
    assert sample['gt_seg_map'].dtype == torch.int64
    assert sample['gt_seg_map'].max() == len(CLASSES) - 1
    assert sample['name'] == '1' and sample['sample_idx'] == 1
    assert sample['img_path'].endswith('1.png')


def test_public_datasets_have_fixed_classes(tmp_path):
    write_layout(tmp_path, ['0'], meta=False)
    ds = CelebAMaskHQDataset(data_root=str(tmp_path))
    assert ds.metainfo['classes'] == CELEBAMASK_HQ_CLASSES
    assert len(ds.metainfo['palette']) == 7
    face = DatasetGANDataset(data_root=str(tmp_path))
    assert face.metainfo['classes'] == DATASETGAN_FACE_CLASSES
    car = DATASETS.build(dict(type='DatasetGANDataset', category='car',
                              data_root=str(tmp_path)))
    assert car.metainfo['classes'] == DATASETGAN_CAR_CLASSES
    with pytest.raises(ValueError, match=r"category 'cat'.*\['car', 'face'\]"):
        DatasetGANDataset(data_root=str(tmp_path), category='cat')
    (tmp_path / 'meta.json').write_text(
        json.dumps(dict(classes=DATASETGAN_CAR_CLASSES)))
    with pytest.raises(ValueError, match='lists 20 classes .* expects 32'):
        DatasetGANDataset(data_root=str(tmp_path), category='face')


def test_class_lists_match_the_reference():
    assert len(DATASETGAN_FACE_34_CLASSES) == 34
    assert DATASETGAN_FACE_34_CLASSES[17] == 'head***hair'
    assert DATASETGAN_FACE_34_CLASSES[25] == 'head***neck'
    assert len(DATASETGAN_FACE_CLASSES) == 32
    assert 'head***hair***sideburns' in DATASETGAN_FACE_CLASSES
    assert len(DATASETGAN_CAR_CLASSES) == 20
    assert CELEBAMASK_HQ_CLASSES[0] == 'background'
    assert len(set(default_palette(64))) == 64


# Ground-truth canonical coordinates ---------------------------------------

COORD_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadSegMap'),
    dict(type='LoadCoordMap'),
    dict(type='PackImageInputs',
         meta_keys=('img_path', 'gt_seg_map', 'gt_coords', 'name')),
]


def coord_map(size, i):
    """A distinct (H, W, 2) float64 coordinate map per image index ``i``."""
    ys, xs = np.mgrid[:size[0], :size[1]]
    return np.stack([xs / size[1] + i, ys / size[0] - i], axis=-1)


def write_coords(root, names, size=(6, 8)):
    (root / 'coords').mkdir()
    for i, name in enumerate(names):
        np.save(root / 'coords' / f'{name}.npy', coord_map(size, i))


def load_coords(path, **results):
    return TRANSFORMS.build(dict(type='LoadCoordMap'))(
        dict(coord_path=str(path), **results))


def test_coords_folder_is_read_into_gt_coords(tmp_path):
    write_layout(tmp_path, ['b', 'a'])
    write_coords(tmp_path, ['a', 'b'])
    ds = DATASETS.build(dict(type='SegmentationFolderDataset',
                             data_root=str(tmp_path),
                             pipeline=COORD_PIPELINE))
    assert ds.get_data_info(1)['coord_path'].endswith('coords/b.npy')
    item = ds[1]
    coords = item['data_samples']['gt_coords']
    assert coords.dtype == torch.float32 and coords.shape == (6, 8, 2)
    np.testing.assert_allclose(coords.numpy(), coord_map((6, 8), 1),
                               rtol=1e-6)
    assert item['data_samples']['name'] == 'b'


def test_coords_are_optional_unless_named(tmp_path):
    write_layout(tmp_path, ['a'])
    ds = SegmentationFolderDataset(data_root=str(tmp_path))
    assert 'coord_path' not in ds.get_data_info(0)
    with pytest.raises(FileNotFoundError,
                       match=r"coordinate folder .*my_coords.* "
                       r"\(coord_dir='my_coords'\) does not exist"):
        SegmentationFolderDataset(data_root=str(tmp_path),
                                  coord_dir='my_coords')
    (tmp_path / 'my_coords').mkdir()
    np.save(tmp_path / 'my_coords' / 'a.npy', coord_map((6, 8), 0))
    ds = SegmentationFolderDataset(data_root=str(tmp_path),
                                   coord_dir='my_coords')
    assert ds.get_data_info(0)['coord_path'].endswith('my_coords/a.npy')


def test_image_without_coords_file_is_named(tmp_path):
    write_layout(tmp_path, ['1', '2', '3'])
    write_coords(tmp_path, ['1', '3'])
    with pytest.raises(BadSampleError,
                       match=r'1 of 3 samples .* check:\n  .*images/2.png: '
                       r'no coordinate file: expected .*coords/2.npy'):
        SegmentationFolderDataset(data_root=str(tmp_path))
    # Images skipped for lack of a mask need no coordinates either.
    (tmp_path / 'masks' / '2.png').unlink()
    ds = SegmentationFolderDataset(data_root=str(tmp_path),
                                   skip_unlabelled=True)
    assert [ds.get_data_info(i)['coord_path'][-5:] for i in range(2)] == [
        '1.npy', '3.npy']


@pytest.mark.parametrize('array, match', [
    (np.zeros((6, 8, 3), np.float32), r'expected shape \(H, W, 2\).*'
     r'\(6, 8, 3\)'),
    (np.zeros((6, 8), np.float32), r'expected shape \(H, W, 2\).*\(6, 8\)'),
    (np.zeros((6, 8, 2), np.int64), 'expected a float array .*int64'),
])
def test_bad_coord_arrays_name_the_file(tmp_path, array, match):
    np.save(tmp_path / 'c.npy', array)
    with pytest.raises(ValueError, match='LoadCoordMap: .*c.npy: ' + match):
        load_coords(tmp_path / 'c.npy')


def test_non_finite_or_missing_coords_name_the_file(tmp_path):
    coords = coord_map((6, 8), 0)
    coords[2, 5, 1] = np.nan
    coords[4, 0, 0] = np.inf
    np.save(tmp_path / 'nan.npy', coords)
    with pytest.raises(ValueError, match=r'nan.npy: 2 pixels have non-finite '
                       r'coordinates \(first at row 2, column 5\)'):
        load_coords(tmp_path / 'nan.npy')
    with pytest.raises(FileNotFoundError,
                       match='coordinate file .*nope.npy does not exist'):
        load_coords(tmp_path / 'nope.npy')
    (tmp_path / 'junk.npy').write_bytes(b'not an array')
    with pytest.raises(ValueError, match='junk.npy: cannot read'):
        load_coords(tmp_path / 'junk.npy')
    with pytest.raises(KeyError, match='coord_path'):
        TRANSFORMS.build(dict(type='LoadCoordMap'))(dict(img_path='x.png'))


def test_coords_size_is_checked_against_the_image(tmp_path):
    np.save(tmp_path / 'c.npy', coord_map((4, 6), 0).astype(np.float16))
    out = load_coords(tmp_path / 'c.npy', img_shape=(4, 6))['gt_coords']
    assert out.dtype == np.float32 and out.shape == (4, 6, 2)
    with pytest.raises(ValueError, match=r'coordinate map .*c.npy is 4x6 '
                       r'\(HxW\) but image a.jpg is 8x12 .*'
                       r"size_check='aspect'"):
        load_coords(tmp_path / 'c.npy', img_shape=(8, 12), img_path='a.jpg')
    aspect = TRANSFORMS.build(dict(type='LoadCoordMap', size_check='aspect'))
    assert aspect(dict(coord_path=str(tmp_path / 'c.npy'),
                       img_shape=(8, 12)))['gt_coords'].shape == (4, 6, 2)
    with pytest.raises(ValueError, match='is 4x6'):
        aspect(dict(coord_path=str(tmp_path / 'c.npy'), img_shape=(8, 8)))
    loose = TRANSFORMS.build(dict(type='LoadCoordMap', size_check='none'))
    assert loose(dict(coord_path=str(tmp_path / 'c.npy'),
                      img_shape=(8, 8)))['gt_coords'].shape == (4, 6, 2)
    with pytest.raises(ValueError, match="'exact', 'aspect', 'none'"):
        TRANSFORMS.build(dict(type='LoadCoordMap', size_check='loose'))
