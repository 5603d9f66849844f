"""Builders shared by the training tests: tiny CoordGAN models and configs."""
import copy

import torch
from mmengine import Config

from coordgan.registry import MODELS, OPTIM_WRAPPER_CONSTRUCTORS
from tiny_configs import tiny

SYNTHETIC_CONFIG = 'configs/coordgan_synthetic.py'

TINY_PATCH_D = dict(type='PatchCooccurrenceDiscriminator', crop_size=8,
                    channels=(8, 8), hidden_dim=8, num_ref_crops=2,
                    num_target_crops=2)


MODEL_CONFIG = 'configs/_base_/models/coordgan_128.py'


def tiny_model_cfg(**losses) -> dict:
    """A CoordGAN config at 16 px with the configured losses, all active from iteration 0.

    ``losses`` entries update the configured ones (``None`` removes one).
    """
    all_on = Config.fromfile(MODEL_CONFIG).model.losses.to_dict()
    all_on['r1'].update(interval=2)
    all_on['patch_r1'].update(interval=2, start=0)
    for name in ('gan', 'structure_swap', 'texture_swap', 'warp'):
        all_on[name]['ramp'] = None
    for name, cfg in losses.items():
        all_on[name] = None if cfg is None else dict(all_on[name], **cfg)
    return dict(
        type='CoordGAN',
        generator=tiny(dict(type='CoordGANGenerator')),
        discriminator=tiny(dict(type='StyleGAN2Discriminator')),
        patch_discriminator=copy.deepcopy(TINY_PATCH_D),
        perceptual=dict(type='LPIPS', random_backbone=True),
        losses=all_on)


def tiny_model(**losses):
    return MODELS.build(tiny_model_cfg(**losses))


def optim_wrappers(model, schedule_cfg='configs/_base_/schedules/coordgan_300k.py'):
    cfg = Config.fromfile(schedule_cfg).optim_wrapper.to_dict()
    constructor = OPTIM_WRAPPER_CONSTRUCTORS.build(
        dict(type=cfg.pop('constructor'), optim_wrapper_cfg=cfg))
    return constructor(model)


def fake_batch(num=4, size=16):
    g = torch.Generator().manual_seed(1)
    return dict(inputs=[
        torch.randint(0, 256, (3, size, size), dtype=torch.uint8, generator=g)
        for _ in range(num)
    ])


def snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def changed(before, module):
    """Names of state entries of ``module`` that differ from ``before``."""
    return {k for k, v in module.state_dict().items()
            if not torch.equal(before[k], v)}
