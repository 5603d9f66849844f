"""tools/propagate.py end to end with the raw-pixel baseline (no checkpoint): files, errors, exit status, COCO out."""
import json
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
from PIL import Image

from coordgan.apis import read_coco_reference

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
CONFIG = osp.join(ROOT, 'configs', 'labelprop', 'raw-pixel_synthetic.py')


def run_tool(*args):
    return subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'propagate.py'), '--config',
         CONFIG, *args], cwd=ROOT, capture_output=True, text=True,
        timeout=300, env=dict(os.environ, PYTHONPATH=ROOT,
                              OMP_NUM_THREADS='1'))


def grid_reference(folder):
    """A 32 px image of distinct colours and a 3-label mask: the model's descriptor grid, so an identical image maps back exactly."""
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    mask = rng.integers(0, 3, (32, 32)).astype(np.uint8)
    cv2.imwrite(osp.join(folder, 'ref.png'), img)
    cv2.imwrite(osp.join(folder, 'ref_mask.png'), mask)
    return img, mask


def test_folder_with_bad_files_and_coco_out(tmp_path):
    img, mask = grid_reference(str(tmp_path))
    images = tmp_path / 'images'
    images.mkdir()
    cv2.imwrite(str(images / 'same.png'), img)
    cv2.imwrite(str(images / 'grey.png'), img[..., 0])
    cv2.imwrite(str(images / 'wide.png'), cv2.resize(img, (300, 70)))
    cv2.imwrite(str(images / 'rgba.png'),
                np.concatenate([img, img[..., :1]], -1))
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(np.zeros((50, 90, 3), np.uint8)).save(
        images / 'rotated.jpg', exif=exif)
    (images / 'corrupt.jpg').write_bytes(b'\xff\xd8\xff\xe0' + b'\0' * 30)
    out = tmp_path / 'out'
    args = ['--ref', str(tmp_path / 'ref.png'), '--ref-mask',
            str(tmp_path / 'ref_mask.png'), '--images', str(images)]

    res = run_tool(*args, '--out', str(out))
    assert res.returncode == 2, res.stderr
    assert 'corrupt.jpg' in res.stderr and 'Traceback' not in res.stderr

    res = run_tool(*args, '--out', str(out), '--continue-on-error',
                   '--coco-out', str(out / 'pred.json'))
    assert res.returncode == 1, res.stderr
    assert 'skipped 1 unreadable images' in res.stderr
    assert 'corrupt.jpg' in res.stderr
    sizes = {'same': (32, 32), 'grey': (32, 32), 'wide': (70, 300),
             'rgba': (32, 32), 'rotated': (90, 50)}
    for stem, shape in sizes.items():
        pred = cv2.imread(str(out / 'masks' / f'{stem}.png'),
                          cv2.IMREAD_UNCHANGED)
        assert pred.shape == shape, stem
        assert cv2.imread(str(out / 'overlays' / f'{stem}.png')).shape == \
            shape + (3, )
    same = cv2.imread(str(out / 'masks' / 'same.png'), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(same, mask)
    coco = json.loads((out / 'pred.json').read_text())
    assert sorted(i['file_name'] for i in coco['images']) == sorted(
        f'{s}.jpg' if s == 'rotated' else f'{s}.png' for s in sizes)
    assert [c['name'] for c in coco['categories']] == ['label_1', 'label_2']
    back, _ = read_coco_reference(str(out / 'pred.json'), 'same.png',
                                  (32, 32))
    assert np.array_equal(back, mask)


def test_coco_reference_in_and_wrong_size_mask(tmp_path):
    img, mask = grid_reference(str(tmp_path))
    images = tmp_path / 'images'
    images.mkdir()
    cv2.imwrite(str(images / 'same.png'), img)
    # The tool's own COCO output, fed back in as the reference annotation.
    from coordgan.apis import masks_to_coco
    coco = masks_to_coco([('ref.png', mask.astype(np.int64))],
                         [dict(id=4, name='a'), dict(id=6, name='b')], 3)
    (tmp_path / 'ann.json').write_text(json.dumps(coco))
    out = tmp_path / 'out'
    res = run_tool('--ref', str(tmp_path / 'ref.png'), '--ref-mask',
                   str(tmp_path / 'ann.json'), '--images', str(images),
                   '--out', str(out), '--coco-out', str(out / 'p.json'))
    assert res.returncode == 0, res.stderr
    assert np.array_equal(cv2.imread(str(out / 'masks' / 'same.png'),
                                     cv2.IMREAD_UNCHANGED), mask)
    assert json.loads((out / 'p.json').read_text())['categories'] == \
        coco['categories']

    cv2.imwrite(str(tmp_path / 'small.png'), mask[:20])
    res = run_tool('--ref', str(tmp_path / 'ref.png'), '--ref-mask',
                   str(tmp_path / 'small.png'), '--images', str(images),
                   '--out', str(out))
    assert res.returncode == 2
    assert 'small.png: the mask is 20x32 (HxW)' in res.stderr


def test_real_photographs(tmp_path):
    """A real photo (matplotlib's sample Grace Hopper JPEG) and edited copies, as a person's folder would hold."""
    mpl_data = pytest.importorskip('matplotlib').get_data_path()
    photo = osp.join(mpl_data, 'sample_data', 'grace_hopper.jpg')
    if not osp.isfile(photo):
        pytest.skip('matplotlib sample data not installed')
    img = cv2.imread(photo)
    h, w = img.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    mask[h // 8:h // 2, w // 4:3 * w // 4] = 1  # roughly the face
    mask[h // 2:] = 2  # uniform
    cv2.imwrite(str(tmp_path / 'ref_mask.png'), mask)
    images = tmp_path / 'photos'
    images.mkdir()
    cv2.imwrite(str(images / 'copy.jpg'), img)
    cv2.imwrite(str(images / 'flipped.jpg'), img[:, ::-1])
    cv2.imwrite(str(images / 'crop.png'), img[40:400, 60:])
    cv2.imwrite(str(images / 'small_grey.jpg'),
                cv2.cvtColor(cv2.resize(img, (97, 113)), cv2.COLOR_BGR2GRAY))
    exif = Image.Exif()
    exif[0x0112] = 8
    Image.fromarray(img[..., ::-1]).save(images / 'phone.jpg', exif=exif)
    out = tmp_path / 'out'
    res = run_tool('--ref', photo, '--ref-mask',
                   str(tmp_path / 'ref_mask.png'), '--images', str(images),
                   '--out', str(out))
    assert res.returncode == 0, res.stderr
    sizes = {'copy': (h, w), 'flipped': (h, w), 'crop': (360, w - 60),
             'small_grey': (113, 97), 'phone': (w, h)}
    for stem, shape in sizes.items():
        pred = cv2.imread(str(out / 'masks' / f'{stem}.png'),
                          cv2.IMREAD_UNCHANGED)
        assert pred.shape == shape, stem
    copy = cv2.imread(str(out / 'masks' / 'copy.png'), cv2.IMREAD_UNCHANGED)
    # Described at 32 px, so only block edges may differ.
    assert (copy == mask).mean() > 0.9
