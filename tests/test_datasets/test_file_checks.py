"""The start-up file check of every file-backed dataset, ``on_bad_sample``, and load-time errors that name the file."""
import json
import re
import struct
from unittest import mock

import cv2
import numpy as np
import pytest
from torch._utils import ExceptionWrapper

from coordgan.datasets import (ImageFolderDataset, LabelPropagationDataset,
                               SegmentationFolderDataset)
from coordgan.datasets.file_checks import (BadFileError, BadSampleError,
                                           read_image_header,
                                           read_npy_header)

CLASSES = ('background', 'skin', 'nose')
IMAGE_PIPELINE = [dict(type='LoadImageFromFile'), dict(type='PackImageInputs')]
SEG_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadSegMap'),
    dict(type='PackImageInputs', meta_keys=('img_path', 'gt_seg_map')),
]


def encoded(ext, shape=(6, 8), value=None):
    """Bytes of a small image in the format of ``ext``."""
    rng = np.random.default_rng(len(ext))
    img = (rng.integers(0, 255, shape + (3, ), dtype=np.uint8)
           if value is None else np.full(shape + (3, ), value, np.uint8))
    ok, buf = cv2.imencode(ext, img)
    assert ok
    return buf.tobytes()


def exif_rotated_jpeg(shape):
    """A JPEG stored as ``shape`` whose EXIF orientation 6 makes OpenCV return it transposed."""
    data = encoded('.jpg', shape)
    entry = struct.pack('<HHIHH', 0x0112, 3, 1, 6, 0)
    tiff = b'II*\x00' + struct.pack('<IH', 8, 1) + entry + b'\x00' * 4
    payload = b'Exif\x00\x00' + tiff
    return (data[:2] + b'\xff\xe1' + struct.pack('>H', len(payload) + 2) +
            payload + data[2:])


def png_with_corrupt_data():
    """A PNG whose header and IEND are sound but whose compressed pixels are not."""
    data = bytearray(encoded('.png', (16, 16)))
    data[data.find(b'IDAT') + 10] ^= 0xFF
    return bytes(data)


def image_folder(root, files):
    """``files``: {relative name: bytes}; healthy 6x8 PNGs where bytes is None."""
    root.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(encoded('.png') if data is None else data)
    return str(root)


def build_folder(root, **kwargs):
    return ImageFolderDataset(data_root=str(root), pipeline=IMAGE_PIPELINE,
                              **kwargs)


def seg_layout(root, names=('a', 'b', 'c'), size=(6, 8)):
    """images/<n>.png, masks/<n>.png with labels in range, meta.json with CLASSES."""
    (root / 'images').mkdir(parents=True)
    (root / 'masks').mkdir()
    for name in names:
        (root / 'images' / f'{name}.png').write_bytes(encoded('.png', size))
        write_mask(root / 'masks' / f'{name}.png',
                   np.arange(size[0] * size[1]).reshape(size) % len(CLASSES))
    (root / 'meta.json').write_text(json.dumps(dict(classes=CLASSES)))
    return root


def write_mask(path, labels):
    assert cv2.imwrite(str(path), np.asarray(labels, np.uint8))


def build_seg(root, pipeline=SEG_PIPELINE, **kwargs):
    return SegmentationFolderDataset(data_root=str(root),
                                     pipeline=pipeline, **kwargs)


def one_problem(err):
    """The single listed problem line of a BadSampleError, with its path and reason."""
    assert len(err.value.problems) == 1
    return err.value.problems[0]


# Image headers ------------------------------------------------------------


@pytest.mark.parametrize('ext, kind', [('.jpg', 'JPEG'), ('.png', 'PNG'),
                                       ('.bmp', 'BMP'), ('.webp', 'WebP'),
                                       ('.tif', 'TIFF')])
def test_headers_of_healthy_images_give_format_and_size(tmp_path, ext, kind):
    path = tmp_path / f'a{ext}'
    path.write_bytes(encoded(ext, (6, 8)))
    assert read_image_header(str(path)) == (kind, (6, 8), False)


BAD_IMAGES = [
    ('empty.jpg', b'', r'empty file \(0 bytes\); expected a JPEG, PNG'),
    ('cut.jpg', encoded('.jpg', (32, 32))[:-200],
     r'truncated JPEG: the file \(\d+ bytes\) has no end-of-image marker '
     r'\(FF D9\)'),
    ('header_only.jpg', encoded('.jpg')[:40],
     'truncated JPEG: .* ends inside its header'),
    ('cut.png', encoded('.png', (32, 32))[:-100],
     r'truncated PNG: the file \(\d+ bytes\) has no IEND chunk'),
    ('header_only.png', encoded('.png')[:20],
     r'shorter than a PNG header \(33 bytes\)'),
    ('crc.png', encoded('.png')[:23] + b'\x07' + encoded('.png')[24:],
     'IHDR header fails its CRC check'),
    ('cut.bmp', encoded('.bmp')[:-30], 'truncated BMP: its header declares'),
    ('cut.webp', encoded('.webp', (32, 32))[:-20],
     'truncated WebP: its RIFF header declares'),
    ('cut.tif', encoded('.tif')[:100], 'truncated TIFF'),
    ('notes.jpg', b'shopping list: eggs, milk\n',
     "a text file \\(starts with 'shopping list: eggs, mil'\\), not an "
     'image'),
    ('page.jpg', b'<!DOCTYPE html><html><body>403</body></html>',
     r'an HTML page, not an image \(a failed download\?\)'),
    ('._photo.jpg', b'\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        ',
     "macOS resource-fork file \\(name starts with '._'\\)"),
    ('pointer.png', b'version https://git-lfs.github.com/spec/v1\n',
     'a Git LFS pointer'),
    ('anim.jpg', b'GIF89a' + b'\x00' * 20, 'a GIF, which OpenCV does not'),
    ('noise.jpg', bytes(range(200, 256)), 'not an image: starts with bytes '
     'c8 c9 ca cb cc cd ce cf'),
]


@pytest.mark.parametrize('name, data, reason', BAD_IMAGES,
                         ids=[case[0] for case in BAD_IMAGES])
def test_bad_image_files_are_named_with_the_reason(tmp_path, name, data,
                                                   reason):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(BadFileError, match=reason) as err:
        read_image_header(str(path))
    assert err.value.path == str(path)
    assert str(err.value).startswith(f'{path}: ')


@pytest.mark.parametrize('ext', ['.jpg', '.png', '.bmp', '.webp'])
def test_a_file_cut_anywhere_is_reported(tmp_path, ext):
    data = encoded(ext, (12, 16))
    path = tmp_path / f'cut{ext}'
    for size in range(0, len(data), max(1, len(data) // 40)):
        path.write_bytes(data[:size])
        with pytest.raises(BadFileError):
            read_image_header(str(path))


def test_npy_headers_catch_truncation_and_non_arrays(tmp_path):
    np.save(tmp_path / 'c.npy', np.zeros((4, 5, 2), np.float32))
    assert read_npy_header(str(tmp_path / 'c.npy')) == ((4, 5, 2),
                                                         np.float32)
    whole = (tmp_path / 'c.npy').read_bytes()
    for name, data, reason in [
        ('cut.npy', whole[:-8], 'truncated or corrupt .npy array'),
        ('empty.npy', b'', r'empty file \(0 bytes\)'),
        ('text.npy', b'1 2 3\n', "starts with '1 2 3\\\\n', not the .npy"),
    ]:
        (tmp_path / name).write_bytes(data)
        with pytest.raises(BadFileError, match=reason):
            read_npy_header(str(tmp_path / name))


# Image folders ------------------------------------------------------------


def test_healthy_folder_passes_without_warnings(tmp_path):
    files = {f'{i}{ext}': encoded(ext) for i, ext in enumerate(
        ('.jpg', '.png', '.bmp', '.webp', '.tif'))}
    files['sub/rotated.jpg'] = exif_rotated_jpeg((6, 8))
    with mock.patch('coordgan.datasets.base.print_log') as log:
        ds = build_folder(image_folder(tmp_path, files))
    assert len(ds) == 6 and ds.num_skipped == 0 and ds.bad_samples == []
    log.assert_not_called()
    assert [tuple(ds[i]['inputs'].shape[1:]) for i in range(6)] == [
        (6, 8)] * 5 + [(8, 6)]


@pytest.mark.parametrize('name, data, reason', [
    ('zero.jpg', b'', r'empty file \(0 bytes\)'),
    ('cut.jpg', encoded('.jpg', (32, 32))[:-300], 'truncated JPEG'),
    ('cut.png', encoded('.png', (32, 32))[:-40], 'truncated PNG'),
    ('text.jpg', b'this is not a picture', 'a text file'),
], ids=['zero-byte', 'truncated-jpeg', 'truncated-png', 'text-named-jpg'])
def test_bad_file_in_folder_stops_the_build_naming_it(tmp_path, name, data,
                                                      reason):
    root = image_folder(tmp_path / 'imgs', {'a.png': None, 'b.png': None,
                                            f'deep/{name}': data})
    with pytest.raises(BadSampleError) as err:
        build_folder(root)
    message = str(err.value)
    assert message.startswith(
        f'ImageFolderDataset: 1 of 3 samples in {root} failed the start-up '
        'file check:\n')
    path, why = one_problem(err)
    assert path == f'{root}/deep/{name}'
    assert f'\n  {path}: {why}\n' in message
    assert re.search(reason, why)
    assert "on_bad_sample='skip'" in message


def test_error_lists_twenty_problems_and_counts_the_rest(tmp_path):
    files = {f'bad{i:02d}.jpg': b'' for i in range(25)}
    files['good.png'] = None
    with pytest.raises(BadSampleError) as err:
        build_folder(image_folder(tmp_path, files))
    message = str(err.value)
    assert '25 of 26 samples' in message
    assert message.count('empty file (0 bytes)') == 20
    assert 'bad19.jpg' in message and 'bad20.jpg' not in message
    assert '\n  ... and 5 more\n' in message
    assert len(err.value.problems) == 25


def test_skip_mode_leaves_bad_files_out_counts_and_logs_them(tmp_path):
    root = image_folder(tmp_path, {'a.png': None, 'b.jpg': b'',
                                   'c.png': None, 'd.jpg': b'plain text',
                                   'e.png': None})
    with mock.patch('coordgan.datasets.base.print_log') as log:
        ds = build_folder(root, on_bad_sample='skip')
    assert [ds.get_data_info(i)['img_path'][-5:] for i in range(len(ds))] == [
        'a.png', 'c.png', 'e.png']
    assert [ds.get_data_info(i)['sample_idx'] for i in range(3)] == [0, 1, 2]
    assert ds.num_skipped == 2
    assert [p[-5:] for p, _ in ds.bad_samples] == ['b.jpg', 'd.jpg']
    log.assert_called_once()
    text = log.call_args.args[0]
    assert text.startswith(f'ImageFolderDataset: 2 of 5 samples in {root} '
                           'failed the start-up file check; '
                           "on_bad_sample='skip' leaves them out and uses "
                           'the other 3:\n')
    assert f'  {root}/b.jpg: empty file (0 bytes)' in text
    assert f'  {root}/d.jpg: a text file' in text
    assert log.call_args.kwargs['level'] == 30  # logging.WARNING


def test_skip_mode_with_no_good_file_is_an_error(tmp_path):
    root = image_folder(tmp_path, {'a.jpg': b'', 'b.jpg': b''})
    with pytest.raises(BadSampleError, match="(?s)2 of 2 samples .*no sample "
                       "passed, so on_bad_sample='skip' leaves none"):
        build_folder(root, on_bad_sample='skip')


def test_on_bad_sample_must_be_a_known_value(tmp_path):
    with pytest.raises(ValueError, match=r"on_bad_sample must be one of "
                       r"\('error', 'skip'\), got 'ignore'"):
        build_folder(image_folder(tmp_path, {'a.png': None}),
                     on_bad_sample='ignore')


@pytest.mark.parametrize('count, shown', [(1000, False), (1001, True)])
def test_progress_bar_only_above_1000_samples(tmp_path, capsys, count,
                                              shown):
    data = encoded('.png', (2, 2))
    root = image_folder(tmp_path, {f'{i:04d}.png': data
                                   for i in range(count)})
    capsys.readouterr()
    ds = build_folder(root)
    assert len(ds) == count
    out = capsys.readouterr().out
    assert (f'{count}/{count}' in out) is shown
    # Redrawn at most ~100 times, so a log file is not flooded.
    assert out.count('\r') <= 101


def test_check_files_false_reads_nothing_at_build(tmp_path):
    root = image_folder(tmp_path, {'a.png': None, 'b.jpg': b''})
    assert len(build_folder(root, check_files=False)) == 2


# Load time ----------------------------------------------------------------


def test_zero_byte_image_at_load_time_names_the_file(tmp_path):
    root = image_folder(tmp_path, {'a.png': None, 'b.png': None})
    ds = build_folder(root)
    (tmp_path / 'b.png').write_bytes(b'')  # emptied after the check
    with pytest.raises(BadFileError) as err:
        ds[1]
    assert str(err.value) == (f'LoadImageFromFile: {root}/b.png: empty file '
                              '(0 bytes); expected a JPEG, PNG, BMP, WebP or '
                              'TIFF image')
    assert not isinstance(err.value, cv2.error)


def test_corrupt_image_data_at_load_names_the_file_or_is_replaced(tmp_path):
    root = image_folder(tmp_path, {'a.png': None,
                                   'b.png': png_with_corrupt_data()})
    # The header and end marker are sound: only decoding finds it.
    ds = build_folder(root)
    with pytest.raises(BadFileError,
                       match=r'LoadImageFromFile: .*b.png: OpenCV cannot '
                       'decode it although its header and end marker are '
                       'sound: the compressed data inside is corrupt'):
        ds[1]
    ds = build_folder(root, on_bad_sample='skip')
    with mock.patch('coordgan.datasets.image_folder.print_log') as log:
        item = ds[1]
    assert item['inputs'].shape == (3, 6, 8)  # a.png, drawn instead
    # mmengine draws at random, so b.png may come up more than once.
    assert ds.num_skipped_at_load == log.call_count >= 1
    text = log.call_args_list[0].args[0]
    assert "on_bad_sample='skip': image 1 failed to load" in text
    assert 'b.png' in text and '1 so far in this process' in text


def test_load_error_in_a_dataloader_worker_names_the_file(tmp_path):
    root = image_folder(tmp_path, {'a.png': None})
    ds = build_folder(root)
    (tmp_path / 'a.png').write_bytes(b'')
    # What a DataLoader worker does with an error: wrap it, then re-raise it
    # in the main process from its type and message.
    try:
        ds[0]
    except BadFileError:
        wrapped = ExceptionWrapper(where='in DataLoader worker process 0')
    with pytest.raises(BadFileError,
                       match=r'(?s)worker process 0.*LoadImageFromFile: '
                       r'.*a.png: empty file \(0 bytes\)'):
        wrapped.reraise()


def test_missing_image_at_load_names_it(tmp_path):
    root = image_folder(tmp_path, {'a.png': None})
    ds = build_folder(root)
    (tmp_path / 'a.png').unlink()
    with pytest.raises(BadFileError,
                       match=r'a.png: the file does not exist \(was it moved'):
        ds[0]


# Labelled folders ---------------------------------------------------------


def test_healthy_labelled_set_passes(tmp_path):
    seg_layout(tmp_path)
    with mock.patch('coordgan.datasets.base.print_log') as log:
        ds = build_seg(tmp_path)
    log.assert_not_called()
    assert len(ds) == 3 and ds.get_data_info(0)['num_classes'] == 3
    assert ds[2]['data_samples']['gt_seg_map'].shape == (6, 8)


def test_wrong_size_mask_names_the_mask(tmp_path):
    seg_layout(tmp_path)
    write_mask(tmp_path / 'masks' / 'b.png', np.zeros((5, 8)))
    with pytest.raises(BadSampleError) as err:
        build_seg(tmp_path)
    path, why = one_problem(err)
    assert path == f'{tmp_path}/masks/b.png'
    assert why == (f'mask is 5x8 (HxW) but image {tmp_path}/images/b.png is '
                   "6x8; the pipeline's LoadSegMap has size_check='exact'")


def test_mask_size_follows_the_pipelines_size_check(tmp_path):
    seg_layout(tmp_path)
    write_mask(tmp_path / 'masks' / 'b.png', np.zeros((3, 4)))
    with pytest.raises(BadSampleError, match="same aspect ratio: pass "
                       "size_check='aspect'"):
        build_seg(tmp_path)
    aspect = [dict(type='LoadImageFromFile'),
              dict(type='LoadSegMap', size_check='aspect'),
              dict(type='PackImageInputs')]
    assert len(build_seg(tmp_path, pipeline=aspect)) == 3
    # Masks the pipeline does not load have no size to keep.
    assert len(build_seg(tmp_path, pipeline=[])) == 3


def test_mask_size_is_compared_with_the_exif_turned_image(tmp_path):
    seg_layout(tmp_path, names=('a', ))
    (tmp_path / 'images' / 'a.png').unlink()
    (tmp_path / 'images' / 'a.jpg').write_bytes(exif_rotated_jpeg((6, 8)))
    write_mask(tmp_path / 'masks' / 'a.png', np.zeros((8, 6)))
    ds = build_seg(tmp_path)
    assert ds[0]['data_samples']['gt_seg_map'].shape == (8, 6)
    write_mask(tmp_path / 'masks' / 'a.png', np.zeros((6, 8)))
    with pytest.raises(BadSampleError, match='mask is 6x8 .* is 8x6'):
        build_seg(tmp_path)


def test_out_of_range_label_names_the_mask(tmp_path):
    seg_layout(tmp_path)
    labels = np.zeros((6, 8))
    labels[0, :3] = (3, 7, 255)
    write_mask(tmp_path / 'masks' / 'c.png', labels)
    with pytest.raises(BadSampleError) as err:
        build_seg(tmp_path)
    path, why = one_problem(err)
    assert path == f'{tmp_path}/masks/c.png'
    assert why.startswith("mask labels {3, 7, 255} are outside the dataset's "
                          '3 classes; expected labels 0..2.')
    assert 'LoadSegMap(label_map={old: new})' in why


def test_label_range_is_checked_after_the_label_map(tmp_path):
    seg_layout(tmp_path)
    write_mask(tmp_path / 'masks' / 'c.png', np.full((6, 8), 9))
    merged = [dict(type='LoadImageFromFile'),
              dict(type='LoadSegMap', label_map={1: 1, 2: 2, 9: 1}),
              dict(type='PackImageInputs')]
    assert len(build_seg(tmp_path, pipeline=merged)) == 3
    merged[1]['label_map'] = {1: 1, 2: 2, 9: 5}
    with pytest.raises(BadSampleError,
                       match=r"labels \{5\} \(after LoadSegMap's label_map\)"):
        build_seg(tmp_path, pipeline=merged)


def test_out_of_range_label_at_load_time_names_the_mask(tmp_path):
    seg_layout(tmp_path)
    ds = build_seg(tmp_path)
    write_mask(tmp_path / 'masks' / 'a.png', np.full((6, 8), 4))
    with pytest.raises(BadFileError) as err:
        ds[0]
    assert str(err.value).startswith(
        f'LoadSegMap: {tmp_path}/masks/a.png: mask labels {{4}} are outside '
        "the dataset's 3 classes")


@pytest.mark.parametrize('edit, reason', [
    (lambda m: (m / 'b.png').write_bytes(b''),
     'empty file (0 bytes); expected a PNG of integer labels'),
    (lambda m: (m / 'b.png').write_bytes(encoded('.png')[:-30]),
     'truncated PNG'),
    (lambda m: (m / 'b.png').write_bytes(encoded('.jpg', value=1)),
     'a JPEG file named .png; a mask must be a lossless PNG'),
    (lambda m: cv2.imwrite(str(m / 'b.png'), np.dstack(
        [np.zeros((6, 8), np.uint8), np.ones((6, 8), np.uint8),
         np.zeros((6, 8), np.uint8)])), 'channels differ'),
    (lambda m: ((m / 'b.png').unlink(), (m / 'b.npy').write_bytes(b'x')),
     "not a .npy array: starts with 'x'"),
    (lambda m: ((m / 'b.png').unlink(), np.save(m / 'b.npy',
                                                np.zeros((6, 8), np.float32))),
     'expected an integer array of labels'),
], ids=['zero-byte', 'truncated-png', 'jpeg-named-png', 'colour-png',
        'junk-npy', 'float-npy'])
def test_unreadable_masks_are_named(tmp_path, edit, reason):
    seg_layout(tmp_path)
    edit(tmp_path / 'masks')
    with pytest.raises(BadSampleError) as err:
        build_seg(tmp_path)
    path, why = one_problem(err)
    assert '/masks/b.' in path and reason in why


def test_bad_image_of_a_labelled_set_is_named(tmp_path):
    seg_layout(tmp_path)
    (tmp_path / 'images' / 'a.png').write_bytes(b'')
    with pytest.raises(BadSampleError) as err:
        build_seg(tmp_path)
    assert one_problem(err) == (
        f'{tmp_path}/images/a.png',
        'empty file (0 bytes); expected a JPEG, PNG, BMP, WebP or TIFF image')


def test_missing_mask_is_skipped_and_counted(tmp_path):
    seg_layout(tmp_path)
    (tmp_path / 'masks' / 'b.png').unlink()
    write_mask(tmp_path / 'masks' / 'c.png', np.full((6, 8), 3))
    with mock.patch('coordgan.datasets.base.print_log') as log:
        ds = build_seg(tmp_path, on_bad_sample='skip')
    assert [ds.get_data_info(i)['name'] for i in range(len(ds))] == ['a']
    assert ds.num_skipped == 2
    text = log.call_args.args[0]
    assert '2 of 3 samples' in text
    assert f'{tmp_path}/images/b.png: no mask: expected ' \
           f'{tmp_path}/masks/b.png or .npy' in text
    assert f'{tmp_path}/masks/c.png: mask labels {{3}}' in text


@pytest.mark.parametrize('array, reason', [
    (np.zeros((6, 8, 3), np.float32), r'float \(H, W, 2\) .*float32 of '
     r'shape \(6, 8, 3\)'),
    (np.zeros((6, 8, 2), np.int32), 'got int32'),
    (np.zeros((5, 8, 2), np.float32), 'coordinate map is 5x8 .* is 6x8'),
    (None, 'truncated or corrupt .npy array'),
], ids=['three-channels', 'integer', 'wrong-size', 'truncated'])
def test_bad_coordinate_files_are_named(tmp_path, array, reason):
    seg_layout(tmp_path)
    (tmp_path / 'coords').mkdir()
    for name in 'abc':
        np.save(tmp_path / 'coords' / f'{name}.npy',
                np.zeros((6, 8, 2), np.float32))
    path = tmp_path / 'coords' / 'c.npy'
    if array is None:
        path.write_bytes(path.read_bytes()[:-16])
    else:
        np.save(path, array)
    pipeline = SEG_PIPELINE[:2] + [dict(type='LoadCoordMap')]
    with pytest.raises(BadSampleError, match=reason) as err:
        build_seg(tmp_path, pipeline=pipeline)
    assert one_problem(err)[0] == str(path)


def test_label_propagation_warns_when_its_dataset_skipped_samples(tmp_path):
    seg_layout(tmp_path, names=[str(i) for i in range(7)])
    (tmp_path / 'images' / '2.png').write_bytes(b'')
    with mock.patch('coordgan.datasets.label_propagation.print_log') as log:
        wrapper = LabelPropagationDataset(
            dict(type='SegmentationFolderDataset', data_root=str(tmp_path),
                 on_bad_sample='skip'))
    assert len(wrapper) == 1
    text = log.call_args.args[0]
    assert 'left out 1 sample' in text and 'split' in text
