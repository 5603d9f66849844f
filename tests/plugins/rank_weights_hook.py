"""A test-only hook: every rank saves its networks' weights after training."""
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from coordgan.registry import HOOKS


@HOOKS.register_module()
class RankWeightsHook(Hook):
    """Writes ``<work_dir>/rank<r>_weights.pth`` with every network's state dict."""

    def after_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        nets = {}
        for name in ('generator', 'discriminator', 'patch_discriminator',
                     'generator_ema'):
            net = getattr(model, name)
            net = net.module if is_model_wrapper(net) else net
            nets[name] = {k: v.detach().cpu() for k, v in
                          net.state_dict().items()}
        torch.save(nets, osp.join(runner.work_dir,
                                  f'rank{get_rank()}_weights.pth'))
