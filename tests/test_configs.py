"""Every config under configs/ builds at tiny sizes and runs: networks forward, models one training step."""
import copy
import fnmatch
import glob
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope
from mmengine.runner.checkpoint import save_checkpoint

from coordgan.models import (BaseDiscriminator, BaseEncoder, BaseGenerator,
                             PatchCooccurrenceDiscriminator)
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS

from coordgan.registry import (DATASETS, HOOKS, LOOPS, METRICS, MODELS,
                               OPTIM_WRAPPER_CONSTRUCTORS, TRANSFORMS)
from coordgan.utils.config_check import check_config
from tiny_configs import MIN_SIZE, SIZE_DIVISOR, tiny, tiny_model

CONFIG_DIR = osp.join(osp.dirname(__file__), '..', 'configs')
CONFIGS = sorted(
    osp.relpath(p, CONFIG_DIR)
    for p in glob.glob(osp.join(CONFIG_DIR, '**', '*.py'), recursive=True))
NETWORK_KEYS = ('generator', 'discriminator', 'patch_discriminator', 'encoder')
TINY_SIZE = 16


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


def tiny_dataset_cfg(dataset, tmp_path):
    """The config's dataset, pointed at a few fake images, resized like the tiny networks (128 -> 16)."""
    dataset = copy.deepcopy(dataset)
    if dataset['type'] == 'SyntheticPartsDataset':
        dataset['img_size'] = TINY_SIZE
        return dataset
    folder = tmp_path / 'images' / 'nested'
    folder.mkdir(parents=True)
    for i in range(4):
        cv2.imwrite(str(folder / f'{i}.jpg'),
                    np.random.randint(0, 255, (40, 30, 3), dtype=np.uint8))
    dataset['data_root'] = str(tmp_path / 'images')
    for step in dataset['pipeline']:
        if step['type'] == 'Resize':
            side = max(MIN_SIZE, step['scale'][0] // SIZE_DIVISOR)
            step['scale'] = (side, side)
    return dataset


def run_partial_init(model, tmp_path):
    """The model's init_cfg on a checkpoint of itself + 1: the selected entries load, the rest stays."""
    before = {k: v.clone() for k, v in model.state_dict().items()}
    path = str(tmp_path / 'init_source.pth')
    save_checkpoint(dict(state_dict={
        k: v + 1 if v.is_floating_point() else v
        for k, v in before.items()}), path)
    model.init_cfg['checkpoint'] = path
    with DefaultScope.overwrite_default_scope('coordgan'):
        model.init_weights()
    after = model.state_dict()
    loaded = [k for k in after if not torch.equal(after[k], before[k])]
    assert loaded, 'init_cfg loaded nothing'
    for key in loaded:  # a fresh G_ema equals G, so key_map reads +1 too
        assert torch.equal(after[key], before[key] + 1), key


def model_for_schedule(optim: dict):
    """A tiny model with every network a schedule-only config optimizes."""
    wanted = {m for entry in optim.values() if isinstance(entry, dict)
              for m in entry.get('modules', [])}
    for name in ('coordgan_128.py', 'coordgan-encoder_128.py'):
        model_cfg = Config.fromfile(
            osp.join(CONFIG_DIR, '_base_', 'models', name)).model
        if wanted <= set(model_cfg):
            return MODELS.build(tiny_model(model_cfg.to_dict()))
    raise AssertionError(f'no base model has the modules {sorted(wanted)}')


def run_generation_config(cfg, model):
    """The generation-metric test parts: loop, index dataset, metrics on a tiny model's swap triplets."""
    from coordgan.engine.runner import sample_codes, swap_triplets
    assert LOOPS.get(cfg.test_cfg.type)
    assert len(DATASETS.build(cfg.test_dataloader.dataset.to_dict())) >= 2
    if model is None:  # the _base_ runtime: no model, no metrics
        return
    generator = model.generator_ema.module
    *codes, noise = sample_codes(generator, [0, 1], cfg.test_cfg.seed)
    image, tex, struct = swap_triplets(generator, *codes, noise)
    samples = [dict(index=i, image=image[i], texture_swap=tex[i],
                    structure_swap=struct[i]) for i in range(2)]
    for metric_cfg in copy.deepcopy(cfg.test_evaluator):
        if metric_cfg['type'] in ('FIDMetric', 'ArcFaceIdentityMetric'):
            # Inception / IR-SE50 weights and real images are not here;
            # these metrics run on test-made weights in tests/test_evaluation.
            assert METRICS.get(metric_cfg['type'])
            continue
        if 'lpips' in metric_cfg:
            metric_cfg['lpips']['random_backbone'] = True
        metric = METRICS.build(metric_cfg)
        metric.process(None, samples)
        res = metric.compute_metrics(metric.results)
        assert all(np.isfinite(v) for v in res.values()), res


def run_test_config(cfg, model):
    """The label-propagation test parts: loop, metrics, dataset; a tiny run on synthetic data."""
    if cfg.get('test_cfg', {}).get('type') == 'GenerationTestLoop':
        return run_generation_config(cfg, model)
    if 'test_cfg' in cfg:
        assert LOOPS.get(cfg.test_cfg.type)
    evaluator = cfg.test_evaluator
    metrics = [METRICS.build(copy.deepcopy(m)) for m in (
        evaluator if isinstance(evaluator, list) else [evaluator])]
    wrapper = copy.deepcopy(cfg.test_dataloader.dataset.to_dict())
    inner = wrapper['dataset']
    for step in inner.get('pipeline', []):
        TRANSFORMS.build(step)
    assert DATASETS.get(wrapper['type']) and DATASETS.get(inner['type'])
    if inner['type'] != 'SyntheticPartsDataset' or model is None:
        return  # public data is not here; its loading is tested elsewhere
    inner.update(num_samples=7, img_size=TINY_SIZE)
    dataset = DATASETS.build(wrapper)
    model.set_references(pseudo_collate(dataset.get_references()),
                         dataset.metainfo)
    outputs = model.test_step(pseudo_collate([dataset[0], dataset[1]]))
    for metric in metrics:
        metric.dataset_meta = dataset.metainfo
        metric.process(None, outputs)
        res = metric.compute_metrics(metric.results)
        for key in ('IoU', 'mIoU', 'mean_error', 'PCK@0.10'):
            if key in res:
                assert np.isfinite(res[key]), (key, res)


def test_configs_are_found():
    for name in ('_base_/models/coordgan_128.py', 'coordgan_celeba.py',
                 'coordgan_cars.py', 'coordgan_afhqcat.py',
                 'coordgan_synthetic.py', 'coordgan-tps_synthetic.py',
                 'coordgan-stn_synthetic.py', 'coordgan-tps_celeba.py',
                 'coordgan-stn_celeba.py'):
        assert name in CONFIGS


def model_frozen_names(cfg, model):
    """Parameters the config's ``model.frozen`` patterns name."""
    patterns = cfg.model.get('frozen', ()) if 'model' in cfg else ()
    return {n for n, _ in model.named_parameters()
            if any(fnmatch.fnmatchcase(n, p) for p in patterns)}


@pytest.mark.parametrize('name', CONFIGS)
def test_config_builds_and_runs(name, tmp_path):
    cfg = Config.fromfile(osp.join(CONFIG_DIR, name))
    # Keys, types and sizes as tools/train.py and tools/test.py check them
    # at start-up (files aside: weights and data are not here).
    if not name.startswith('_base_'):
        check_config(cfg)
    ran = []
    for key in NETWORK_KEYS:
        if key in cfg:
            with torch.no_grad():
                smoke_run(MODELS.build(tiny(cfg[key])))
            ran.append(key)
    if cfg.get('train_dataloader'):
        dataset = DATASETS.build(
            tiny_dataset_cfg(cfg.train_dataloader.dataset, tmp_path))
        batch = pseudo_collate([dataset[i] for i in range(2)])
        side = batch['inputs'][0].shape[-1]
        assert batch['inputs'][0].shape == (3, side, side)
        ran.append('dataset')
    model = None
    if 'model' in cfg:
        model = MODELS.build(tiny_model(cfg.model))
        for key in ('generator', 'discriminator', 'patch_discriminator',
                    'encoder'):
            if hasattr(model, key):
                with torch.no_grad():
                    smoke_run(getattr(model, key))
        ran.append('model')
        if (model.init_cfg or {}).get('type') == 'PartialPretrained':
            run_partial_init(model, tmp_path)
            ran.append('init_cfg')
    if cfg.get('optim_wrapper'):
        optim = cfg.optim_wrapper.to_dict()
        if model is None:
            model = model_for_schedule(optim)
        wrappers = OPTIM_WRAPPER_CONSTRUCTORS.build(
            dict(type=optim.pop('constructor'), optim_wrapper_cfg=optim))(model)
        ran.append('optim_wrapper')
        if cfg.get('train_dataloader'):
            frozen = {n: p.detach().clone()
                      for n, p in model.named_parameters()
                      if n in model_frozen_names(cfg, model)}
            log = model.train_step(batch, wrappers)
            assert all(torch.isfinite(v) for v in log.values())
            params = dict(model.named_parameters())
            for name, value in frozen.items():
                assert torch.equal(params[name], value), name
                assert not params[name].requires_grad, name
            ran.append('train_step')
    for hook in list(cfg.get('default_hooks', {}).values()) + cfg.get(
            'custom_hooks', []):
        HOOKS.build(copy.deepcopy(hook))
        ran.append('hooks')
    if 'test_dataloader' in cfg:
        run_test_config(cfg, model)
        ran.append('test')
    if 'model_wrapper_cfg' in cfg:
        assert MMENGINE_MODEL_WRAPPERS.get(cfg.model_wrapper_cfg.type)
    assert ran, f'{name} defines nothing to build'
