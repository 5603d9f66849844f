"""Training through mmengine's Runner: resume exactness and the swap-grid pictures."""
import os.path as osp

import cv2
import torch
from mmengine import Config
from mmengine.runner import Runner

from coordgan.apis import prepare_train_config
from helpers import SYNTHETIC_CONFIG, tiny_model_cfg


def tiny_train_cfg(work_dir, max_iters, resume=False, name='run'):
    cfg = Config.fromfile(SYNTHETIC_CONFIG)
    cfg.model = tiny_model_cfg()
    cfg.train_dataloader.dataset.img_size = 16
    cfg.train_dataloader.dataset.num_samples = 6  # wraps around: epochs too
    cfg.train_cfg.max_iters = max_iters
    cfg.default_hooks.checkpoint.interval = 2
    cfg.default_hooks.logger.interval = 1
    cfg.custom_hooks = [dict(type='SwapGridHook', interval=3,
                             num_structures=2, num_textures=3)]
    cfg.experiment_name = f'{name}-{osp.basename(str(work_dir))}-{resume}'
    return prepare_train_config(cfg, work_dir=str(work_dir),
                                resume='auto' if resume else None)


def train(cfg):
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


def state_of(runner):
    model = runner.model
    optim = runner.optim_wrapper.state_dict()
    return model.state_dict(), optim


def assert_same_state(a, b):
    (model_a, optim_a), (model_b, optim_b) = a, b
    assert model_a.keys() == model_b.keys()
    assert model_a['_extra_state'].numel()  # the random stream is compared
    for key in model_a:
        assert torch.equal(model_a[key], model_b[key]), key
    for name in optim_a:
        for pid, s in optim_a[name]['state'].items():
            for k, v in s.items():
                assert torch.equal(v, optim_b[name]['state'][pid][k]), (name,
                                                                        k)


def test_resume_gives_exactly_the_straight_run(tmp_path):
    straight = train(tiny_train_cfg(tmp_path / 'straight', 6))
    train(tiny_train_cfg(tmp_path / 'split', 4))
    resumed = train(tiny_train_cfg(tmp_path / 'split', 6, resume=True))
    assert resumed.iter == 6
    assert int(resumed.model.iteration) == 6
    assert_same_state(state_of(straight), state_of(resumed))
    # Straight runs themselves are reproducible, so the check has teeth only
    # if training moved the weights.
    first = Runner.from_cfg(tiny_train_cfg(tmp_path / 'untrained', 1))
    g0 = first.model.generator.state_dict()
    g6 = straight.model.generator.state_dict()
    assert any(not torch.equal(g0[k], g6[k]) for k in g0)


def test_swap_grid_is_written(tmp_path):
    runner = train(tiny_train_cfg(tmp_path, 4))
    vis = tmp_path / 'vis'
    names = sorted(p.name for p in vis.iterdir())
    # every 3 iterations, and once at the end
    assert names == ['swap_grid_iter_000003.png', 'swap_grid_iter_000004.png']
    img = cv2.imread(str(vis / names[-1]))
    # 2 structure rows, 1 map column + 3 texture columns, 16 px tiles
    assert img.shape == (2 * 16, 4 * 16, 3)
    assert img.std() > 0
    # The same grids and the losses reach the config's vis backend
    # (default_runtime.py: LocalVisBackend under <work_dir>/<timestamp>/).
    vis_data = osp.join(runner.log_dir, 'vis_data')
    sent = cv2.imread(osp.join(vis_data, 'vis_image', 'swap_grid_4.png'))
    assert sent is not None and (sent == img).all()
    with open(osp.join(vis_data, 'scalars.json')) as f:
        assert 'loss' in f.readline()
    assert (tmp_path / 'iter_4.pth').is_file()
    assert runner.iter == 4


def test_swap_grid_panels_are_enlarged_pixel_by_pixel():
    from coordgan.registry import GENERATORS
    from coordgan.visualization.swap_grid import swap_grid
    gen = GENERATORS.build(tiny_model_cfg()['generator']).eval()
    z_s, z_t = torch.randn(2, gen.z_dim), torch.randn(3, gen.z_dim)
    torch.manual_seed(0)
    small = swap_grid(gen, z_s, z_t)
    torch.manual_seed(0)
    big = swap_grid(gen, z_s, z_t, panel_size=40)  # 16 px -> 3 x 16 = 48
    size = small.shape[1] // 2
    assert big.shape == (3, 2 * 48, 4 * 48)
    # Pixel (i, j) of the big grid is pixel (i // 3, j // 3) of the small.
    rows = torch.arange(2 * 48) * size // 48
    cols = torch.arange(4 * 48) * size // 48
    torch.testing.assert_close(big, small[:, rows][:, :, cols])
