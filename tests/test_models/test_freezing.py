"""Frozen parameters (``model.frozen``) and initialisation from a smaller model (``PartialPretrained``)."""
import glob
import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmengine import Config, MessageHub
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from mmengine.runner.checkpoint import save_checkpoint, weights_to_cpu

from coordgan.apis import prepare_train_config
from coordgan.models import (PartialPretrained, freeze_parameters,
                             load_matching_weights)
from coordgan.registry import MODELS
from helpers import (SYNTHETIC_CONFIG, fake_batch, optim_wrappers,
                     tiny_model_cfg)
from tiny_configs import tiny_model

FROZEN = ['generator.warper.*', 'generator.structure_mapping.*',
          'discriminator.convs.1.*', 'patch_discriminator.classifier.*']
TRAINED = ('generator.', 'discriminator.', 'patch_discriminator.')
# The new upsampling block of a 32 px tiny generator over a 16 px one.
NEW_BLOCK = ('synthesis.convs.4.', 'synthesis.convs.5.',
             'synthesis.to_rgbs.2.')


def build(**kwargs):
    cfg = tiny_model_cfg()
    cfg.update(kwargs)
    return MODELS.build(cfg)


def params_of(model):
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def optimized_ids(wrappers):
    return {id(p) for w in wrappers.values()
            for group in w.optimizer.param_groups for p in group['params']}


def test_frozen_parameters_never_change_and_are_in_no_optimizer():
    model = build(frozen=FROZEN)
    wrappers = optim_wrappers(model)  # the project's constructor
    params = dict(model.named_parameters())
    frozen = {n for n in params
              if any(n.startswith(p[:-1]) for p in FROZEN)}
    assert {n.split('.')[0] for n in frozen} == {
        'generator', 'discriminator', 'patch_discriminator'}
    trained = {n for n in params if n.startswith(TRAINED)} - frozen
    in_optim = optimized_ids(wrappers)
    assert not any(id(params[n]) in in_optim for n in frozen)
    assert all(id(params[n]) in in_optim for n in trained)
    assert all(not params[n].requires_grad for n in frozen)

    before = params_of(model)
    model.train()
    for _ in range(3):  # tiny_model_cfg: every loss and R1 on from 0
        model.train_step(fake_batch(), wrappers)
    after = params_of(model)
    for name in frozen:
        assert torch.equal(after[name], before[name]), name
        # generator_step turns the discriminators' gradients off and back
        # on around the G step; it must give each parameter its own flag
        # back, or frozen D layers are unfrozen (and gather .grad) from the
        # second iteration on.
        assert not params[name].requires_grad, name
    unchanged = [n for n in trained if torch.equal(after[n], before[n])]
    assert not unchanged
    # The EMA copy of a frozen G parameter stays equal to it, bit for bit.
    for name in frozen:
        if name.startswith('generator.'):
            twin = 'generator_ema.module.' + name[len('generator.'):]
            assert torch.equal(after[twin], after[name]), twin


def test_unknown_frozen_pattern_is_an_error_naming_close_names():
    with pytest.raises(ValueError) as err:
        build(frozen=['generator.warpr.*'])
    assert "'generator.warpr.*'" in str(err.value)
    assert 'generator.warper.*' in str(err.value)
    with pytest.raises(ValueError, match=r"use 'generator\.warper\.\*'"):
        build(frozen=['generator.warper'])  # a module name, not a glob
    with pytest.raises(TypeError, match='list of patterns'):
        build(frozen='generator.warper.*')


def test_freeze_parameters_returns_the_matched_names():
    net = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    assert freeze_parameters(net, ['0.*', '*.bias']) == [
        '0.weight', '0.bias', '1.bias']
    assert [p.requires_grad for p in net.parameters()] == [
        False, False, True, False]


def test_a_fully_frozen_optimizer_entry_is_an_error():
    model = build(frozen=['generator.*'])
    with pytest.raises(ValueError, match='optim_wrapper.generator'):
        optim_wrappers(model)


def save_runner_style(model, path):
    """A checkpoint as mmengine's Runner writes it: meta, weights, message hub (not weights-only)."""
    hub = MessageHub.get_instance('test_freezing')
    hub.update_scalar('train/loss', 1.0)
    save_checkpoint(
        dict(meta=dict(iter=300000, seed=0),
             state_dict=weights_to_cpu(model.state_dict()),
             message_hub=hub.state_dict()), path)


def small_and_large(tmp_path):
    """A tiny 16 px model saved like the Runner does, and a fresh 32 px one (one more upsampling block)."""
    small = build()
    with torch.no_grad():  # differ from any fresh build
        for p in small.parameters():
            p.add_(torch.randn_like(p))
    path = str(tmp_path / 'small.pth')
    save_runner_style(small, path)
    cfg = tiny_model_cfg()
    cfg['generator']['out_size'] = 32
    cfg['discriminator']['in_size'] = 32
    cfg['frozen'] = ['generator.warper.*', 'generator.structure_mapping.*']
    return small.state_dict(), path, cfg


def test_init_from_a_smaller_model_loads_matching_entries_only(tmp_path):
    saved, path, cfg = small_and_large(tmp_path)
    large = MODELS.build(cfg)
    before = {k: v.clone() for k, v in large.state_dict().items()}
    report = PartialPretrained(
        path, include=['generator.*', 'generator_ema.*'],
        key_map=[(r'^generator\.(warper|structure_mapping)\.',
                  r'generator_ema.\1.')])(large)
    after = large.state_dict()

    new = [k for k in after if k.startswith(('generator.', 'generator_ema.'))
           and k.split('.', 1)[1].startswith(NEW_BLOCK)]
    assert len(new) == 2 * 14 and sorted(report.new) == sorted(new)
    assert not report.mismatched
    for key in new:  # the new block keeps its fresh initialisation
        assert torch.equal(after[key], before[key]), key
    for key in report.loaded:
        source = key
        if key.startswith(('generator.warper.',
                           'generator.structure_mapping.')):
            source = 'generator_ema.' + key[len('generator.'):]
        assert torch.equal(after[key], saved[source]), key
    assert len(report.loaded) == len(
        [k for k in after if k.startswith(('generator.', 'generator_ema.'))
         ]) - len(new)
    # Frozen parts: G and G_ema hold the same (EMA) weights.
    for key in report.loaded:
        if key.startswith(('generator.warper.',
                           'generator.structure_mapping.')):
            twin = 'generator_ema.' + key[len('generator.'):]
            assert torch.equal(after[key], after[twin]), key
    # The image D is not selected: its fresh weights stay, even where the
    # names and shapes agree (the 16 and 32 px tiny Ds share most shapes).
    same_shape = [k for k in after if k.startswith('discriminator.')
                  and k in saved and saved[k].shape == after[k].shape]
    assert same_shape
    for key in after:
        if key.startswith(('discriminator.', 'patch_discriminator.')):
            assert torch.equal(after[key], before[key]), key
    assert int(large.iteration) == 0


def test_init_through_init_cfg_and_the_runner_log(tmp_path):
    saved, path, cfg = small_and_large(tmp_path)
    cfg['init_cfg'] = dict(type='PartialPretrained', checkpoint=path,
                           include=['generator.*', 'generator_ema.*'],
                           exclude=['generator.synthesis.to_rgb1.*'])
    large = MODELS.build(cfg)
    fresh = large.state_dict()['generator.synthesis.to_rgb1.bias'].clone()
    with DefaultScope.overwrite_default_scope('coordgan'):
        large.init_weights()
    state = large.state_dict()
    assert torch.equal(state['generator.texture_mapping.1.weight'],
                       saved['generator.texture_mapping.1.weight'])
    assert torch.equal(state['generator.synthesis.to_rgb1.bias'], fresh)


def test_bad_selections_are_errors():
    net = nn.Sequential(nn.Linear(2, 3))
    with pytest.raises(ValueError, match="'1.*'"):
        load_matching_weights(net, {}, include=['1.*'])
    with pytest.raises(ValueError, match='no entry of the checkpoint fits'):
        load_matching_weights(net, {'0.weight': torch.zeros(3, 3)})


def test_shape_mismatches_are_left_new():
    net = nn.Sequential(nn.Linear(2, 3))
    weight = net[0].weight.detach().clone()
    report = load_matching_weights(
        net, {'0.weight': torch.zeros(4, 2), '0.bias': torch.ones(3)})
    assert report.mismatched == ['0.weight'] and report.loaded == ['0.bias']
    assert torch.equal(net[0].weight, weight)
    assert torch.equal(net[0].bias, torch.ones(3))


def runner_cfg(work_dir, size, max_iters, **model):
    cfg = Config.fromfile(SYNTHETIC_CONFIG)
    cfg.model = tiny_model_cfg()
    cfg.model.generator.out_size = size
    cfg.model.discriminator.in_size = size
    cfg.model.update(model)
    cfg.train_dataloader.dataset.img_size = size
    cfg.train_dataloader.dataset.num_samples = 4
    cfg.train_cfg.max_iters = max_iters
    cfg.default_hooks.checkpoint.interval = max_iters
    cfg.custom_hooks = []
    cfg.experiment_name = f'freezing-{osp.basename(str(work_dir))}'
    return prepare_train_config(cfg, work_dir=str(work_dir))


def test_runner_initialises_from_a_stage1_checkpoint_and_keeps_frozen(
        tmp_path):
    Runner.from_cfg(runner_cfg(tmp_path / 'small', 16, 2)).train()
    ckpt = str(tmp_path / 'small' / 'iter_2.pth')
    stage1 = torch.load(ckpt, weights_only=False)['state_dict']
    frozen = ['generator.warper.*', 'generator.structure_mapping.*']
    runner = Runner.from_cfg(runner_cfg(
        tmp_path / 'large', 32, 2, frozen=frozen,
        init_cfg=dict(type='PartialPretrained', checkpoint=ckpt,
                      include=['generator.*', 'generator_ema.*'],
                      key_map=[(r'^generator\.', 'generator_ema.')])))
    runner.train()
    state = runner.model.state_dict()
    for key in state:
        if key.startswith(('generator.warper.',
                           'generator.structure_mapping.')):
            source = 'generator_ema.' + key[len('generator.'):]
            assert torch.equal(state[key], stage1[source]), key
            assert torch.equal(state[source], stage1[source]), source
    log = open(glob.glob(str(tmp_path / 'large' / '*' / '*.log'))[0]).read()
    assert 'Initialised CoordGAN from' in log
    assert 'left new (not in the checkpoint) 28' in log
    assert 'generator.synthesis.convs.4.* (5)' in log


def test_512_config_from_the_128_config(tmp_path):
    """configs/coordgan_celeba-512.py at tiny sizes, initialised from a tiny configs/coordgan_celeba.py model."""
    small = MODELS.build(tiny_model(
        Config.fromfile('configs/coordgan_celeba.py').model))
    with torch.no_grad():
        for p in small.parameters():
            p.add_(torch.randn_like(p))
    path = str(tmp_path / 'iter_300000.pth')
    save_runner_style(small, path)
    saved = small.state_dict()
    cfg = tiny_model(Config.fromfile('configs/coordgan_celeba-512.py').model)
    cfg['init_cfg']['checkpoint'] = path
    large = MODELS.build(cfg)
    before = {k: v.clone() for k, v in large.state_dict().items()}
    with DefaultScope.overwrite_default_scope('coordgan'):
        large.init_weights()
    after = large.state_dict()
    assert large.generator.out_size == 4 * small.generator.out_size
    for key, value in after.items():
        net = key.split('.')[0]
        if net == 'discriminator':  # re-initialised at the larger size
            assert torch.equal(value, before[key]), key
        elif net in ('generator', 'generator_ema', 'patch_discriminator'):
            if key not in saved:  # the two upsampling blocks
                assert 'synthesis.convs.' in key or 'to_rgbs.' in key, key
                assert torch.equal(value, before[key]), key
            elif key.startswith(('generator.warper.',
                                 'generator.structure_mapping.')):
                twin = 'generator_ema.' + key[len('generator.'):]
                assert torch.equal(value, saved[twin]), key
                assert not dict(large.named_parameters())[key].requires_grad
            else:
                assert torch.equal(value, saved[key]), key
