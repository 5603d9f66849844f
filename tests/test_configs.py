"""Every config under configs/ builds (at tiny sizes) and runs a forward pass."""
import glob
import os.path as osp

import pytest
import torch
from mmengine import Config

from coordgan.models import (BaseDiscriminator, BaseEncoder, BaseGenerator,
                             PatchCooccurrenceDiscriminator)
from coordgan.registry import MODELS
from tiny_configs import tiny

CONFIG_DIR = osp.join(osp.dirname(__file__), '..', 'configs')
CONFIGS = sorted(
    osp.relpath(p, CONFIG_DIR)
    for p in glob.glob(osp.join(CONFIG_DIR, '**', '*.py'), recursive=True))
NETWORK_KEYS = ('generator', 'discriminator', 'patch_discriminator', 'encoder')


def smoke_run(net):
    if isinstance(net, BaseGenerator):
        out = net(*net.sample_codes(2))
        assert out.image.shape[-1] == net.out_size
    elif isinstance(net, PatchCooccurrenceDiscriminator):
        img = torch.randn(2, 3, 4 * net.crop_size, 4 * net.crop_size)
        logits = net(net.sample_crops(img, net.num_target_crops),
                     net.sample_crops(img, net.num_ref_crops))
        assert logits.shape == (2, net.num_target_crops)
    elif isinstance(net, BaseDiscriminator):
        assert net(torch.randn(2, 3, net.in_size, net.in_size)).shape == (2, 1)
    elif isinstance(net, BaseEncoder):
        w_s, w_plus = net(torch.randn(2, 3, net.in_size, net.in_size))
        assert w_plus.shape[:2] == (2, net.num_latents)
    else:
        raise AssertionError(f'no smoke run for {type(net).__name__}')


def test_configs_are_found():
    assert '_base_/models/coordgan_128.py' in CONFIGS


@pytest.mark.parametrize('name', CONFIGS)
def test_config_builds_and_runs(name):
    cfg = Config.fromfile(osp.join(CONFIG_DIR, name))
    nets = [cfg[key] for key in NETWORK_KEYS if key in cfg]
    assert nets, f'{name} defines none of {NETWORK_KEYS}'
    for net_cfg in nets:
        with torch.no_grad():
            smoke_run(MODELS.build(tiny(net_cfg)))
