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


# Distinct part colours (index = part label) and a background unlike all.
PART_COLOURS = np.array([[0, 0, 0], [.9, .1, .1], [.1, .9, .1], [.1, .1, .9],
                         [.9, .9, .1], [.9, .1, .9], [.1, .9, .9],
                         [.5, .5, .5]])
BACKGROUND = np.array([.02, .03, .04])


def flat_texture(seed, colours):
    """A sampled texture made flat: one colour per part, no spots, light or visible hat stripes."""
    texture = sample_texture(np.random.default_rng(seed))
    texture.update(colours=colours, background_top=BACKGROUND,
                   background_bottom=BACKGROUND, spot_strength=0.0,
                   light_strength=0.0, stripe_colour=colours[3])
    return texture


def parts_seen_in(img, colours):
    """(H, W, 3) picture -> (H, W) label of the part colour each pixel shows (0 for none)."""
    seen = np.zeros(img.shape[:2], np.int64)
    for label in range(1, len(colours)):
        seen[np.abs(img - colours[label]).max(-1) < 1e-9] = label
    return seen


def test_synthetic_structure_and_texture_are_independent():
    rng = np.random.default_rng
    s1, s2 = sample_structure(rng(1)), sample_structure(rng(2))
    other_colours = PART_COLOURS[[0, 7, 6, 5, 4, 3, 2, 1]]
    t1, t2 = flat_texture(3, PART_COLOURS), flat_texture(4, other_colours)
    seen = parts_seen_in(render(32, s1, t1), PART_COLOURS)
    assert (seen > 0).sum() > 200  # the object is there
    # Same structure, other texture: the parts stay where they were.
    np.testing.assert_array_equal(
        parts_seen_in(render(32, s1, t2), other_colours), seen)
    # ... and where the labels given with the picture say they are.
    np.testing.assert_array_equal(part_mask(canonical_coords(32, s1)), seen)
    # Other structure: the parts move.
    assert (parts_seen_in(render(32, s2, t1), PART_COLOURS) != seen).sum() > 20
    # Sampled (not flat) textures change the pixels of one structure.
    assert not np.allclose(render(32, s1, sample_texture(rng(3))),
                           render(32, s1, sample_texture(rng(4))))


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
