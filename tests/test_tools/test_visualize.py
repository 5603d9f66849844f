"""tools/visualize.py on tiny networks: files, panel sizes, captions, what the grids share, the colour key."""
import os
import os.path as osp
import subprocess
import sys
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from mmengine import Config
from mmengine.runner.checkpoint import save_checkpoint

from helpers import tiny_labelprop_config, tiny_model_cfg

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
PANEL = 256


def run_tool(*args):
    return subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'visualize.py'), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1'))


def read_rgb(path):
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert img is not None, path
    return img[..., ::-1]


def key_colour(x, y):
    """The documented colouring of canonical point (x, y), computed by hand: uint8 RGB."""
    rgb = ((x + 1) / 2, (y + 1) / 2, 1 - (x + y + 2) / 4)
    return np.array([int(c * 255 + 0.5) for c in rgb])


@pytest.fixture(scope='module')
def stage1(tmp_path_factory):
    """A tiny stage-1 config and checkpoint (16 px images, 16 x 16 C^w)."""
    from coordgan.registry import MODELS, init_default_scope
    init_default_scope('coordgan')
    tmp = tmp_path_factory.mktemp('stage1')
    cfg = Config.fromfile(osp.join(ROOT, 'configs/coordgan_synthetic.py'))
    cfg.model = tiny_model_cfg()
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    with torch.no_grad():  # an EMA that differs from a fresh build
        for p in model.generator_ema.parameters():
            p.add_(0.1 * torch.randn_like(p))
    ckpt = str(tmp / 'stage1.pth')
    save_checkpoint(dict(state_dict=model.state_dict()), ckpt)
    config = str(tmp / 'cfg.py')
    cfg.dump(config)
    return tmp, config, ckpt


@pytest.fixture(scope='module')
def stage1_pictures(stage1):
    tmp, config, ckpt = stage1
    out = tmp / 'pics'
    proc = run_tool(config, ckpt, '--out', str(out), '--num-structures', '3',
                    '--num-textures', '2')
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, proc


def test_stage1_writes_every_generator_picture_with_captions(stage1_pictures):
    out, proc = stage1_pictures
    names = {'swap_texture', 'swap_structure', 'correspondence_maps',
             'canonical_frame'}
    assert sorted(os.listdir(out)) == sorted(
        [f'{n}.png' for n in names] + [f'{n}.txt' for n in names])
    # Rows x columns of panels: 3 structures, 2 textures, +1 for C^w.
    grid_panels = dict(swap_texture=(3, 3), swap_structure=(3, 3),
                       correspondence_maps=(2, 2), canonical_frame=(1, 1))
    for name, (rows, cols) in grid_panels.items():
        height, width = read_rgb(out / f'{name}.png').shape[:2]
        assert (height, width) == (rows * PANEL, cols * PANEL), name
        caption = (out / f'{name}.txt').read_text()
        assert 'C^w' in caption
    texture = (out / 'swap_texture.txt').read_text()
    assert 'rows share structure, columns vary texture' in texture
    assert 'Rows: 3 structure codes' in texture
    structure = (out / 'swap_structure.txt').read_text()
    assert 'rows share texture, columns vary structure' in structure
    assert 'Columns: 3 structure codes' in structure
    corr = (out / 'correspondence_maps.txt').read_text()
    assert 'Row 1: the generated image. Row 2:' in corr
    # The config cannot give the propagation figure; it says so.
    assert 'propagation is not available' in proc.stderr
    assert 'its model is CoordGAN' in proc.stderr


def generator_and_codes(config, ckpt, num_structures=3, num_textures=2,
                        seed=2022):
    from coordgan.apis.visualize import load_generator
    gen = load_generator(config, ckpt)
    rng = torch.Generator().manual_seed(seed)
    z_s = torch.randn(num_structures, gen.z_dim, generator=rng)
    z_t = torch.randn(num_textures, gen.z_dim, generator=rng)
    return gen, z_s, z_t


def test_texture_swap_rows_share_structure(stage1, stage1_pictures):
    _, config, ckpt = stage1
    out, _ = stage1_pictures
    gen, z_s, z_t = generator_and_codes(config, ckpt)
    grid = read_rgb(out / 'swap_texture.png')
    with torch.no_grad():
        for r in range(3):
            # Every texture of row r: the same C^w, bit for bit.
            maps = gen(z_s[r:r + 1].expand(2, -1), z_t).corr_map
            assert torch.equal(maps[0], maps[1])
            # Column 1 of row r is that map; each C^w cell is a 16 px
            # block (16 x 16 map, 256 px panel), its centre pixel the cell.
            panel = grid[r * PANEL:(r + 1) * PANEL, :PANEL]
            cell = PANEL // maps.shape[-1]
            for i, j in [(0, 0), (3, 11), (15, 15)]:
                x, y = maps[0, :, i, j].clamp(-1, 1).tolist()
                pixel = panel[i * cell + cell // 2, j * cell + cell // 2]
                assert np.abs(pixel.astype(int) - key_colour(x, y)).max() <= 1
    # The structure-swap grid: column c's top panel is structure c's map.
    grid = read_rgb(out / 'swap_structure.png')
    with torch.no_grad():
        maps = gen(z_s, z_t[:1].expand(3, -1)).corr_map
    for c in range(3):
        x, y = maps[c, :, 5, 7].clamp(-1, 1).tolist()
        pixel = grid[5 * 16 + 8, c * PANEL + 7 * 16 + 8]
        assert np.abs(pixel.astype(int) - key_colour(x, y)).max() <= 1


def test_canonical_frame_legend_follows_the_documented_formula(
        stage1_pictures):
    out, _ = stage1_pictures
    legend = read_rgb(out / 'canonical_frame.png')
    side = legend.shape[0]
    for i, j in [(0, 0), (0, side - 1), (side - 1, 0), (side - 1, side - 1),
                 (37, 200), (128, 64)]:
        x, y = -1 + 2 * j / (side - 1), -1 + 2 * i / (side - 1)
        assert np.abs(legend[i, j].astype(int) - key_colour(x, y)).max() <= 1
    # The corners named in the caption.
    assert legend[0, 0].tolist() == [0, 0, 255]
    assert legend[-1, -1].tolist() == [255, 255, 0]
    caption = (out / 'canonical_frame.txt').read_text()
    assert 'RGB = ((x + 1) / 2, (y + 1) / 2, 1 - (x + y + 2) / 4)' in caption


def test_unavailable_pictures_are_named_with_the_reason(stage1, tmp_path):
    _, config, ckpt = stage1
    proc = run_tool(config, ckpt, '--out', str(tmp_path / 'a'), '--what',
                    'propagation')
    assert proc.returncode != 0
    assert 'propagation is not available' in proc.stderr
    assert 'configs/labelprop/coordgan_synthetic.py' in proc.stderr
    assert 'Traceback' not in proc.stderr
    assert not (tmp_path / 'a').exists()
    proc = run_tool(config, '--out', str(tmp_path / 'b'))
    assert proc.returncode != 0
    assert 'generator pictures need a stage-1 checkpoint' in proc.stderr
    assert 'Traceback' not in proc.stderr


@pytest.fixture(scope='module')
def labelprop(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('labelprop')
    return (tmp, ) + tiny_labelprop_config(tmp, num_samples=7, img_size=16)


def test_propagation_figure_of_a_labelprop_config(labelprop):
    tmp, config, ckpt, _ = labelprop
    out = tmp / 'pics'
    proc = run_tool(config, ckpt, '--out', str(out), '--num-references', '2',
                    '--num-queries', '2')
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'swap-texture is not available' in proc.stderr
    pngs = sorted(p.name for p in out.glob('*.png'))
    assert pngs == ['propagation_query_5.png', 'propagation_query_6.png']
    for png in pngs:
        figure = read_rgb(out / png)
        # 2 references (rows) x 7 columns (5 mask panels, 2 C^w panels),
        # 2 px white separators between panels.
        assert figure.shape[:2] == (2 * PANEL + 2, 7 * PANEL + 6 * 2)
        caption = (out / png.replace('.png', '.txt')).read_text()
        assert 'one figure per query (propagation_query_<dataset ' \
            'index>.png)' in caption
        assert 'Rows: one per reference (dataset indices [0, 1]' in caption
        assert 'reference image | reference mask | query image' in caption
        assert 'propagated mask' in caption
    # A generator picture of this config: refused with the reason.
    proc = run_tool(config, ckpt, '--out', str(tmp / 'b'), '--what',
                    'swap-structure')
    assert proc.returncode != 0
    assert 'swap-structure is not available' in proc.stderr
    assert 'LabelPropagationModel' in proc.stderr
    assert 'Traceback' not in proc.stderr


def test_swap_grid_hook_sends_the_grid_to_the_visualizer(stage1, tmp_path):
    from mmengine.visualization import Visualizer

    from coordgan.engine.hooks import SwapGridHook
    _, config, ckpt = stage1
    gen, _, _ = generator_and_codes(config, ckpt)
    visualizer = Visualizer(name='test_swap_grid_hook',
                            vis_backends=[dict(type='LocalVisBackend')],
                            save_dir=str(tmp_path))
    runner = SimpleNamespace(model=SimpleNamespace(generator_ema=gen),
                             work_dir=str(tmp_path), visualizer=visualizer)
    hook = SwapGridHook(num_structures=2, num_textures=2, panel_size=32)
    path = hook._save(runner, 7)
    sent = read_rgb(tmp_path / 'vis_data' / 'vis_image' / 'swap_grid_7.png')
    assert np.array_equal(sent, read_rgb(path))
