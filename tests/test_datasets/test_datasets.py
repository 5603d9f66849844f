import cv2
import numpy as np
import pytest
import torch

from coordgan.datasets import (PART_NAMES, ImageFolderDataset,
                               SyntheticPartsDataset, render_sample)
from coordgan.datasets.synthetic_parts import (canonical_coords, part_mask,
                                               render, sample_structure,
                                               sample_texture)
from coordgan.registry import DATASETS

PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(16, 16), keep_ratio=False),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackImageInputs'),
]


def test_image_folder_is_recursive_sorted_and_resized(tmp_path):
    for rel in ('b/2.png', 'a/1.jpg', 'a/deeper/3.JPG', 'notes.txt'):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if rel.endswith('.txt'):
            path.write_text('not an image')
        else:
            cv2.imwrite(str(path), np.full((20, 30, 3), 7, np.uint8))
    ds = DATASETS.build(dict(type='ImageFolderDataset',
                             data_root=str(tmp_path), pipeline=PIPELINE))
    assert len(ds) == 3
    assert [p.replace(str(tmp_path), '') for p in
            (ds.get_data_info(i)['img_path'] for i in range(3))] == [
                '/a/1.jpg', '/a/deeper/3.JPG', '/b/2.png']
    item = ds[0]
    assert item['inputs'].shape == (3, 16, 16)
    assert item['inputs'].dtype == torch.uint8
    assert item['data_samples']['img_path'].endswith('1.jpg')


def test_missing_or_empty_folders_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='does not exist'):
        ImageFolderDataset(data_root=str(tmp_path / 'nope'))
    (tmp_path / 'empty' / 'sub').mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match='no images .*empty'):
        ImageFolderDataset(data_root=str(tmp_path / 'empty'))


def test_synthetic_samples_are_deterministic_and_labelled():
    ds = SyntheticPartsDataset(num_samples=5, img_size=32,
                               pipeline=[dict(type='PackImageInputs',
                                              meta_keys=('gt_seg_map',
                                                         'gt_coords'))])
    assert len(ds) == 5
    assert ds.metainfo['classes'] == PART_NAMES
    assert len(PART_NAMES) - 1 >= 5  # at least five named parts
    a, b = ds[3], ds[3]
    assert torch.equal(a['inputs'], b['inputs'])
    assert a['inputs'].shape == (3, 32, 32)
    mask = a['data_samples']['gt_seg_map']
    coords = a['data_samples']['gt_coords']
    assert mask.shape == (32, 32) and coords.shape == (32, 32, 2)
    assert set(np.unique(mask.numpy())) >= {0, 1, 3, 4, 5, 7}
    assert not torch.equal(ds[0]['inputs'], ds[1]['inputs'])
    with pytest.raises(ValueError, match='img_size'):
        SyntheticPartsDataset(img_size=4)


def test_synthetic_structure_and_texture_are_independent():
    rng = np.random.default_rng
    s1, s2 = sample_structure(rng(1)), sample_structure(rng(2))
    t1, t2 = sample_texture(rng(3)), sample_texture(rng(4))
    # Same structure, other texture: identical masks, different pixels.
    m = part_mask(canonical_coords(32, s1))
    assert np.array_equal(m, part_mask(canonical_coords(32, s1)))
    assert not np.allclose(render(32, s1, t1), render(32, s1, t2))
    # Other structure: the mask moves.
    assert not np.array_equal(m, part_mask(canonical_coords(32, s2)))


def test_coords_give_correspondence_between_samples():
    """Pixels with nearly the same canonical coordinate carry the same part."""
    a, b = render_sample(64, 0, 0), render_sample(64, 0, 1)
    ca = a['gt_coords'].reshape(-1, 2)
    cb = b['gt_coords'].reshape(-1, 2)
    d = ((ca[:, None] - cb[None])**2).sum(-1)
    nearest = d.argmin(1)
    close = d.min(1) < 1e-3
    la, lb = a['gt_seg_map'].reshape(-1), b['gt_seg_map'].reshape(-1)
    agree = (la[close] == lb[nearest[close]]).mean()
    assert close.sum() > 1000 and agree > 0.97
