"""Saves swap grids of the EMA generator from fixed codes while training."""
import os.path as osp
from typing import Optional

import cv2
import mmengine
import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.model import BaseAveragedModel

from coordgan.models.algorithms.common import unwrap
from coordgan.registry import HOOKS
from coordgan.visualization import swap_grid


@HOOKS.register_module()
class SwapGridHook(Hook):
    """Every ``interval`` iterations (and at the end) writes ``<work_dir>/vis/swap_grid_iter_<n>.png``.

    Rows share the structure code, columns the texture code, the first
    column is the colour-coded correspondence map. The grid also goes to
    ``runner.visualizer.add_image('swap_grid', step=<iteration>)``, so the
    config's vis backends (``LocalVisBackend``, ``TensorboardVisBackend``)
    show it beside the loss curves. Codes are fixed by
    ``seed`` so that grids of one run are comparable over time.
    ``panel_size`` enlarges each panel to that many pixels (nearest).
    """

    priority = 'LOW'

    def __init__(self,
                 interval: int = 1000,
                 num_structures: int = 4,
                 num_textures: int = 6,
                 seed: int = 2022,
                 module: str = 'generator_ema',
                 out_dir: Optional[str] = None,
                 panel_size: Optional[int] = None):
        if interval < 1:
            raise ValueError(f'SwapGridHook interval must be >= 1, got {interval}')
        if panel_size is not None and panel_size < 1:
            raise ValueError(
                f'SwapGridHook panel_size must be >= 1, got {panel_size}')
        self.panel_size = panel_size
        self.interval = interval
        self.num_structures = num_structures
        self.num_textures = num_textures
        self.seed = seed
        self.module = module
        self.out_dir = out_dir

    def _save(self, runner, iteration: int) -> str:
        gen = getattr(unwrap(runner.model), self.module)
        if isinstance(gen, BaseAveragedModel):  # the EMA: its network
            gen = gen.module
        device = next(gen.parameters()).device
        rng = torch.Generator().manual_seed(self.seed)
        z_s = torch.randn(self.num_structures, gen.z_dim, generator=rng)
        z_t = torch.randn(self.num_textures, gen.z_dim, generator=rng)
        was_training = gen.training
        gen.eval()
        # Fixed noise too, so grids differ only where the weights did.
        with torch.random.fork_rng(devices=[] if device.type == 'cpu' else
                                   [device]):
            torch.manual_seed(self.seed)
            grid = swap_grid(gen, z_s.to(device), z_t.to(device),
                             self.panel_size)
        gen.train(was_training)
        out_dir = self.out_dir or osp.join(runner.work_dir, 'vis')
        mmengine.mkdir_or_exist(out_dir)
        path = osp.join(out_dir, f'swap_grid_iter_{iteration:06d}.png')
        img = (grid.permute(1, 2, 0).cpu().numpy() * 255 + 0.5).astype(
            np.uint8)
        if not cv2.imwrite(path, img[..., ::-1]):
            raise OSError(f'could not write {path}')
        # Every vis backend of the config (local files, TensorBoard) gets
        # the grid too, one image per iteration under one name.
        visualizer = getattr(runner, 'visualizer', None)
        if visualizer is not None:
            visualizer.add_image('swap_grid', img, step=iteration)
        return path

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if self.every_n_train_iters(runner, self.interval):
            # runner.iter counts from 0 until this iteration's hooks ran.
            path = self._save(runner, runner.iter + 1)
            runner.logger.info(f'swap grid saved to {path}')

    def after_train(self, runner) -> None:
        if runner.iter % self.interval:
            path = self._save(runner, runner.iter)
            runner.logger.info(f'swap grid saved to {path}')
