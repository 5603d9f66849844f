"""Pictures of label propagation: the figure function and the test-time hook."""
import os
import os.path as osp
import types
import uuid

import cv2
import numpy as np
import pytest
import torch
from mmengine.registry import DefaultScope
from mmengine.visualization import Visualizer

import coordgan.engine  # noqa: F401  (registers the hook)
from coordgan.datasets import LabelPropagationDataset, SyntheticPartsDataset
from coordgan.datasets.segmentation import default_palette
from coordgan.engine.hooks import PropagationVisualizationHook
from coordgan.models.algorithms.label_propagation import images_to_unit_range
from coordgan.registry import HOOKS, MODELS
from coordgan.visualization import propagation_caption, propagation_figure

SEP = 2  # the figure's default separator width
NUM_REFS = 2


# ------------------------------------------------------------------ helpers
def enlarge(rgb, side):
    """(h, w, 3) -> (side, side, 3), each pixel repeated side/h times; written with np.kron, not indexing."""
    h, w, _ = rgb.shape
    assert side % h == 0 and side % w == 0
    block = np.ones((side // h, side // w, 1), dtype=np.uint8)
    return np.kron(rgb, block).astype(np.uint8)


def colours_of(labels, palette):
    """(H, W) labels -> (H, W, 3) colours, one pixel at a time."""
    labels = np.asarray(labels)
    out = np.zeros(labels.shape + (3,), dtype=np.uint8)
    for y in range(labels.shape[0]):
        for x in range(labels.shape[1]):
            out[y, x] = palette[labels[y, x]]
    return out


def unit_to_uint8(image):
    """(3, H, W) in [-1, 1] -> (H, W, 3) uint8, rounded."""
    arr = (image.double().numpy().transpose(1, 2, 0) + 1) * 127.5
    return np.floor(np.clip(arr, 0, 255) + 0.5).astype(np.uint8)


def coords_colour(desc):
    """(2, h, w) in [-1, 1] -> (h, w, 3): x red, y green, blue 1 - mean."""
    xy = (desc.double().clamp(-1, 1).numpy().transpose(1, 2, 0) + 1) / 2
    rgb = np.concatenate([xy, 1 - xy.mean(-1, keepdims=True)], -1)
    return np.floor(rgb * 255 + 0.5).astype(np.uint8)


def panel(figure, row, col, side):
    top, left = row * (side + SEP), col * (side + SEP)
    return figure[top:top + side, left:left + side]


def batch_of(items):
    """Packed items -> the batch the data preprocessor reads: inputs and data_samples as lists.

    Written out rather than ``pseudo_collate``, which turns the per-item
    ``data_samples`` dicts into one dict of lists (see the report).
    """
    return dict(inputs=[it['inputs'] for it in items],
                data_samples=[it['data_samples'] for it in items])


@pytest.fixture(scope='module')
def setup():
    with DefaultScope.overwrite_default_scope('coordgan'):
        model = MODELS.build(dict(
            type='LabelPropagationModel',
            extractor=dict(type='CopyReferenceMask', input_size=16),
            data_preprocessor=dict(type='PropagationDataPreprocessor',
                                   size=16)))
    ds = LabelPropagationDataset(
        dataset=SyntheticPartsDataset(
            num_samples=6, img_size=32,
            pipeline=[dict(type='PackImageInputs',
                           meta_keys=('img_path', 'gt_seg_map',
                                      'gt_coords'))]),
        references=NUM_REFS)
    model.set_references(batch_of(ds.get_references()), ds.metainfo)
    return model, ds


def run_batch(model, ds, query_ids):
    batch = batch_of([ds[i] for i in query_ids])
    outputs = model.test_step(batch)
    # The copy baseline predicts the reference masks themselves; relabel so
    # that the propagated-mask column cannot pass for the reference column.
    for out in outputs:
        out['pred_seg_maps'] = (out['pred_seg_maps'] + 1) % len(
            ds.metainfo['classes'])
    return batch, outputs


def make_runner(model, tmp_path, meta=None):
    vis = Visualizer(name=f'propvis-{uuid.uuid4().hex}',
                     vis_backends=[dict(type='LocalVisBackend')],
                     save_dir=str(tmp_path / 'vis'))
    if meta is not None:
        vis.dataset_meta = meta
    return types.SimpleNamespace(model=model, visualizer=vis,
                                 log_dir=str(tmp_path / 'vis'))


def backend_images(tmp_path):
    folder = tmp_path / 'vis' / 'vis_data' / 'vis_image'
    return sorted(os.listdir(folder)) if folder.exists() else []


def read_rgb(path):
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert img is not None, path
    return img[..., ::-1]


# ------------------------------------------------------- the pure function
def test_figure_panels_match_brute_force():
    rng = torch.Generator().manual_seed(1)
    refs, size, classes, cells = 3, 16, 5, 8
    ref_images = torch.rand(refs, 3, size, size, generator=rng) * 2 - 1
    query = torch.rand(3, size, size, generator=rng) * 2 - 1
    ref_segs = torch.randint(classes, (refs, size, size), generator=rng)
    query_seg = torch.randint(classes, (size, size), generator=rng)
    preds = torch.randint(classes, (refs, size, size), generator=rng)
    ref_desc = torch.rand(refs, 2, cells, cells, generator=rng) * 2 - 1
    query_desc = torch.rand(2, cells, cells, generator=rng) * 2 - 1
    palette = [(10 * k, 255 - 20 * k, 7 * k) for k in range(classes)]

    fig = propagation_figure(ref_images, ref_segs, query, query_seg, preds,
                             palette, ref_desc, query_desc, panel_size=256)
    side = 256  # 16 px enlarged 16 times
    assert fig.dtype == np.uint8
    assert fig.shape == (refs * side + (refs - 1) * SEP,
                         7 * side + 6 * SEP, 3)
    pal = np.array(palette, dtype=np.uint8)
    for r in range(refs):
        expected = [unit_to_uint8(ref_images[r]),
                    colours_of(ref_segs[r], pal), unit_to_uint8(query),
                    colours_of(query_seg, pal), colours_of(preds[r], pal),
                    coords_colour(ref_desc[r]), coords_colour(query_desc)]
        for c, want in enumerate(expected):
            got = panel(fig, r, c, side)
            if c in (0, 2, 5, 6):  # float -> uint8 may round the other way
                diff = np.abs(got.astype(int) - enlarge(want, side))
                assert diff.max() <= 1, (r, c)
            else:
                np.testing.assert_array_equal(got, enlarge(want, side),
                                              err_msg=f'row {r} col {c}')
    # White separators between rows and between columns.
    assert (fig[side:side + SEP] == 255).all()
    assert (fig[:, side:side + SEP] == 255).all()


def test_small_panels_grow_by_an_integer_factor_to_panel_size():
    for size, panel_size, side in ((16, 256, 256), (32, 256, 256),
                                   (24, 256, 264), (32, 100, 128),
                                   (300, 256, 300)):
        seg = torch.zeros(1, size, size, dtype=torch.long)
        seg[0, 0, 0] = 1  # one corner pixel: it must become a side/size block
        fig = propagation_figure(torch.zeros(1, 3, size, size), seg,
                                 torch.zeros(3, size, size), seg[0], seg,
                                 panel_size=panel_size)
        assert fig.shape == (side, 5 * side + 4 * SEP, 3), size
        mask = panel(fig, 0, 1, side)
        factor = side // size
        corner = default_palette(2)[1]
        assert (mask[:factor, :factor] == corner).all()
        assert (mask[factor:, :] == 0).all() and (mask[:, factor:] == 0).all()


def test_missing_or_short_palette_falls_back_to_default():
    seg = torch.arange(4).repeat_interleave(4).reshape(1, 4, 4)
    args = (torch.zeros(1, 3, 4, 4), seg, torch.zeros(3, 4, 4), seg[0], seg)
    want = enlarge(colours_of(seg[0], np.array(default_palette(4))), 256)
    for palette in (None, [(1, 2, 3), (4, 5, 6)]):  # none; 2 for 4 labels
        fig = propagation_figure(*args, palette=palette, panel_size=256)
        np.testing.assert_array_equal(panel(fig, 0, 4, 256), want)
    with pytest.raises(ValueError, match='pred_segs'):
        propagation_figure(*args[:4], seg[0], panel_size=8)


def test_caption_names_rows_columns_and_colours():
    text = propagation_caption(True, [0, 1], ('background', 'head'),
                               [(0, 0, 0), (70, 130, 180)])
    assert ('reference image | reference mask | query image | query '
            'ground-truth mask | propagated mask | reference descriptor | '
            'query descriptor') in text
    assert '[0, 1]' in text and 'head=(70, 130, 180)' in text
    assert 'descriptor' not in propagation_caption(False)


# ------------------------------------------------------------------ the hook
def test_hook_writes_one_figure_per_query(setup, tmp_path):
    model, ds = setup
    out_dir = tmp_path / 'show'
    hook = HOOKS.build(dict(type='PropagationVisualizationHook', draw=True,
                            max_queries=8, panel_size=256,
                            out_dir=str(out_dir)))
    runner = make_runner(model, tmp_path, ds.metainfo)
    batch, outputs = run_batch(model, ds, [0, 1, 2])
    hook.after_test_iter(runner, 0, batch, outputs)

    indices = [int(o['dataset_index']) for o in outputs]
    assert indices == [2, 3, 4]
    assert sorted(os.listdir(out_dir)) == sorted(
        ['captions.txt'] + [f'query_{i}.png' for i in indices])
    assert backend_images(tmp_path) == sorted(
        f'propagation_query_{i}_0.png' for i in indices)
    caption = (out_dir / 'captions.txt').read_text()
    assert 'propagated mask' in caption and 'query descriptor' in caption

    side = 256  # S = 16 enlarged 16 times
    palette = np.array(ds.metainfo['palette'], dtype=np.uint8)
    for i, out in zip(range(3), outputs):
        fig = read_rgb(out_dir / f'query_{indices[i]}.png')
        assert fig.shape == (NUM_REFS * side + (NUM_REFS - 1) * SEP,
                             7 * side + 6 * SEP, 3)
        local = read_rgb(tmp_path / 'vis' / 'vis_data' / 'vis_image' /
                         f'propagation_query_{indices[i]}_0.png')
        np.testing.assert_array_equal(fig, local)
        query = unit_to_uint8(images_to_unit_range(
            [batch['inputs'][i]], 16)[0])
        for r in range(NUM_REFS):
            np.testing.assert_array_equal(
                panel(fig, r, 4, side),
                enlarge(colours_of(out['pred_seg_maps'][r], palette), side))
            np.testing.assert_array_equal(
                panel(fig, r, 1, side),
                enlarge(colours_of(model.references['seg'][r], palette),
                        side))
            np.testing.assert_array_equal(
                panel(fig, r, 3, side),
                enlarge(colours_of(out['gt_seg_map'], palette), side))
            diff = np.abs(panel(fig, r, 2, side).astype(int) -
                          enlarge(query, side))
            assert diff.max() <= 1
            diff = np.abs(panel(fig, r, 6, side).astype(int) - enlarge(
                coords_colour(out['pred_descriptor']), side))
            assert diff.max() <= 1


def test_hook_without_dataset_palette_uses_default(setup, tmp_path):
    model, ds = setup
    hook = PropagationVisualizationHook(draw=True, max_queries=1,
                                        panel_size=32,
                                        out_dir=str(tmp_path / 'show'))
    runner = make_runner(model, tmp_path)  # no dataset_meta, no dataloader
    batch, outputs = run_batch(model, ds, [0])
    hook.after_test_iter(runner, 0, batch, outputs)
    fig = read_rgb(tmp_path / 'show' / 'query_2.png')
    num = int(max(outputs[0]['pred_seg_maps'].max(),
                  model.references['seg'].max(),
                  outputs[0]['gt_seg_map'].max())) + 1
    want = colours_of(outputs[0]['pred_seg_maps'][0],
                      np.array(default_palette(num), dtype=np.uint8))
    np.testing.assert_array_equal(panel(fig, 0, 4, 32), enlarge(want, 32))


def test_hook_off_draws_nothing(setup, tmp_path):
    model, ds = setup
    out_dir = tmp_path / 'show'
    hook = PropagationVisualizationHook(draw=False, out_dir=str(out_dir))
    runner = make_runner(model, tmp_path, ds.metainfo)
    batch, outputs = run_batch(model, ds, [0, 1])
    hook.after_test_iter(runner, 0, batch, outputs)
    assert not out_dir.exists()
    assert backend_images(tmp_path) == []


def test_max_queries_counts_across_batches(setup, tmp_path):
    model, ds = setup
    out_dir = tmp_path / 'show'
    hook = PropagationVisualizationHook(draw=True, max_queries=3,
                                        panel_size=16, out_dir=str(out_dir))
    runner = make_runner(model, tmp_path, ds.metainfo)
    hook.before_test(runner)
    for batch_idx, ids in enumerate(([0, 1], [2, 3])):
        batch, outputs = run_batch(model, ds, ids)
        hook.after_test_iter(runner, batch_idx, batch, outputs)
    drawn = ['query_2.png', 'query_3.png', 'query_4.png']
    assert sorted(os.listdir(out_dir)) == ['captions.txt'] + drawn
    assert len(backend_images(tmp_path)) == 3
    # A new test run starts counting again.
    hook.before_test(runner)
    batch, outputs = run_batch(model, ds, [3])
    hook.after_test_iter(runner, 0, batch, outputs)
    assert osp.exists(out_dir / 'query_5.png')
