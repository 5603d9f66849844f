"""Builders shared by the training tests: tiny CoordGAN models and configs."""
import copy

import torch
import torch.nn as nn
from mmengine import Config
from mmengine.model import BaseModel

from coordgan.registry import MODELS, OPTIM_WRAPPER_CONSTRUCTORS
from tiny_configs import tiny, tiny_model as tiny_model_config

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


def inversion_cfg(**kwargs) -> dict:
    """A CoordGANInversion (encoder stage) config at tiny sizes; ``kwargs`` update it."""
    cfg = tiny_model_config(dict(type='CoordGANInversion',
                                 encoder=dict(type='CoordGANEncoder'),
                                 generator=dict(type='CoordGANGenerator'),
                                 perceptual=dict(type='LPIPS')))
    cfg.update(kwargs)
    return cfg


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


def tiny_labelprop_config(tmp_path, num_samples=9, img_size=32):
    """configs/labelprop/coordgan_synthetic.py with tiny networks on a few items; its stage-2 checkpoint.

    Returns (config path, encoder-stage checkpoint, stage-1 checkpoint).
    The encoder-stage weights are perturbed so they differ from a fresh
    build: loading them must matter.
    """
    from mmengine.runner.checkpoint import save_checkpoint

    from tiny_configs import tiny_model
    cfg = Config.fromfile('configs/labelprop/coordgan_synthetic.py')
    enc_cfg = Config.fromfile('configs/coordgan-encoder_synthetic.py')
    stage1 = MODELS.build(tiny_model_cfg())
    s1 = str(tmp_path / 'stage1.pth')
    save_checkpoint(dict(state_dict=stage1.state_dict()), s1)
    inversion_cfg = tiny_model(enc_cfg.model.to_dict())
    inversion_cfg['generator_checkpoint'] = s1
    inversion = MODELS.build(inversion_cfg)
    with torch.no_grad():
        for p in inversion.encoder.parameters():
            p.add_(0.3 * torch.randn_like(p))
    ckpt = str(tmp_path / 'encoder.pth')
    save_checkpoint(dict(state_dict=inversion.state_dict()), ckpt)
    model = cfg.model.to_dict()
    model['extractor']['encoder'] = inversion_cfg['encoder']
    model['extractor']['generator'] = inversion_cfg['generator']
    model['extractor']['input_size'] = inversion_cfg['encoder']['in_size']
    # C^w read at the eval size (the config's 64 would exceed it): finer
    # than the tiny 16-point grid when img_size is 32.
    model['extractor']['map_size'] = img_size
    model['data_preprocessor'] = dict(type='PropagationDataPreprocessor',
                                      size=img_size)
    cfg.model = model
    cfg.test_dataloader.dataset.dataset.num_samples = num_samples
    cfg.test_dataloader.dataset.dataset.img_size = img_size
    cfg.test_dataloader.batch_size = 2
    config = str(tmp_path / 'cfg.py')
    cfg.dump(config)
    return config, ckpt, s1


class ToyModel(BaseModel):
    """A one-layer mmengine model: checkpoint and Runner tests that need no CoordGAN."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, mode='tensor'):
        loss = self.linear(torch.stack(inputs)).pow(2).mean()
        return dict(loss=loss) if mode == 'loss' else loss


def toy_runner_args(work_dir, max_iters=2) -> dict:
    """Runner arguments that train :class:`ToyModel` on 4 fixed samples, 2 per batch."""
    data = [dict(inputs=torch.randn(2)) for _ in range(4)]
    return dict(
        model=ToyModel(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=data, sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=2, collate_fn=dict(type='pseudo_collate')),
        optim_wrapper=dict(optimizer=dict(type='Adam', lr=0.01)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_scope='coordgan')


def raw_pixel_model(size=16):
    """Label propagation by nearest raw-pixel colours at ``size``: a cheap model that needs no weights."""
    return MODELS.build(dict(
        type='LabelPropagationModel',
        extractor=dict(type='RawPixelNearestNeighbour', input_size=size,
                       tau=1e-4),
        data_preprocessor=dict(type='PropagationDataPreprocessor',
                               size=size)))


def benchmark_items(config):
    """A labelprop config's test set: (dataset, images as (H, W, 3) uint8, masks)."""
    from coordgan.registry import DATASETS
    dataset = DATASETS.build(Config.fromfile(config).test_dataloader.dataset)
    items = [dataset.dataset[i] for i in range(len(dataset.dataset))]
    images = [it['inputs'].permute(1, 2, 0).numpy() for it in items]
    masks = [it['data_samples']['gt_seg_map'].numpy() for it in items]
    return dataset, images, masks


def propagation_scores_by_hand(model, config):
    """(paper IoU, mIoU) of propagate_mask's masks for every reference-query pair, scored by brute force."""
    from coordgan.apis import propagate_mask
    from metric_references import brute_force_metrics
    dataset, images, masks = benchmark_items(config)
    num_classes = len(dataset.metainfo['classes'])
    pairs = []
    for r in dataset.reference_indices:
        preds = propagate_mask(model, images[r], masks[r],
                               [images[q] for q in dataset.query_indices],
                               num_classes=num_classes)
        pairs += [(p, masks[q], r)
                  for p, q in zip(preds, dataset.query_indices)]
    return brute_force_metrics(pairs, num_classes)
