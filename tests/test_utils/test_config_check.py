"""Config mistakes fail at start-up with the key path, the closest valid key and what was expected."""
import glob
import os.path as osp

import pytest
import torch
import torchvision
from mmengine import Config

from coordgan.apis import build_runner, prepare_train_config
from coordgan.models.losses.perceptual import MissingBackboneError
from coordgan.utils.config_check import (ConfigError, check_config,
                                         check_config_files)

SYNTHETIC = 'configs/coordgan_synthetic.py'
ENCODER = 'configs/coordgan-encoder_synthetic.py'
LABELPROP = 'configs/labelprop/coordgan_synthetic.py'
CONFIGS = sorted(
    osp.relpath(p, 'configs')
    for p in glob.glob('configs/**/*.py', recursive=True)
    if '_base_' not in p)


def problems(options, config=SYNTHETIC):
    """The problems check_config finds in ``config`` with ``options`` merged (as --cfg-options does)."""
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(options)
    with pytest.raises(ConfigError) as info:
        check_config(cfg)
    return info.value.problems


def only(options, config=SYNTHETIC):
    found = problems(options, config)
    assert len(found) == 1, found
    return found[0]


def test_misspelt_hook_argument_fails_before_the_runner_is_built(tmp_path):
    cfg = Config.fromfile(SYNTHETIC)
    cfg.merge_from_dict({'default_hooks.checkpoint.intervall': 100})
    with pytest.raises(ConfigError) as info:
        prepare_train_config(cfg, work_dir=str(tmp_path / 'w'))
    msg = str(info.value)
    assert 'default_hooks.checkpoint.intervall' in msg
    assert "Did you mean 'interval'?" in msg
    assert 'It takes: ' in msg and 'max_keep_ckpts' in msg
    assert not (tmp_path / 'w').exists()  # nothing was started


def test_misspelt_top_level_key_suggests_the_runner_key():
    msg = only({'trian_cfg': dict(max_iters=10)})
    assert msg.startswith('trian_cfg: not a key the Runner or coordgan reads')
    assert "Did you mean 'train_cfg'?" in msg


def test_config_variables_unlike_any_key_are_left_alone():
    cfg = Config.fromfile(SYNTHETIC)
    cfg.merge_from_dict({'my_image_side': 32, 'train_pipeline': []})
    check_config(cfg)


def test_mmcv_1x_keys_name_what_mmengine_reads():
    msg = only({'checkpoint_config': dict(interval=5)})
    assert 'mmengine reads default_hooks.checkpoint' in msg


def test_unknown_model_and_loss_keys_name_their_class_and_closest_key():
    msg = only({'model.generator.out_sise': 32})
    assert msg.startswith('model.generator.out_sise: CoordGANGenerator has no '
                          "argument 'out_sise'. Did you mean 'out_size'?")
    msg = only({'model.losses.warp.tua': 0.1})
    assert msg.startswith("model.losses.warp.tua: WarpLoss has no argument "
                          "'tua'. Did you mean 'tau'?")
    # A nested distance config is checked against its own class.
    msg = only({'model.losses.texture_swap.distance.scale': 3})
    assert "EdgeDistance has no argument 'scale'. Did you mean 'scales'?" in msg
    msg = only({'model.perceptual.allow_random_backbon': True})
    assert "Did you mean 'allow_random_backbone'?" in msg


def test_unknown_keys_in_hooks_data_evaluators_and_optimizers():
    found = problems({
        'custom_hooks': [dict(type='SwapGridHook', intervl=5)],
        'train_dataloader.batch_sise': 2,
        'train_dataloader.sampler.shufle': True,
        'train_dataloader.dataset.img_sise': 32,
        'optim_wrapper.generator.optimizer.lrr': 0.1,
    })
    text = '\n'.join(found)
    assert "custom_hooks[0].intervl: SwapGridHook has no argument 'intervl'. " \
           "Did you mean 'interval'?" in text
    assert "train_dataloader.batch_sise: a data loader" in text
    assert "Did you mean 'batch_size'?" in text
    assert "train_dataloader.sampler.shufle: InfiniteSampler" in text
    assert "train_dataloader.dataset.img_sise: SyntheticPartsDataset has no " \
           "argument 'img_sise'. Did you mean 'img_size'?" in text
    assert "optim_wrapper.generator.optimizer.lrr: Adam has no argument " \
           "'lrr'. Did you mean 'lr'?" in text
    msg = only({'test_evaluator': [dict(type='LabelPropagationMetric',
                                        clases=['a'])]}, LABELPROP)
    assert msg.startswith("test_evaluator[0].clases: LabelPropagationMetric "
                          "has no argument 'clases'. Did you mean 'classes'?")


def test_misspelt_default_hook_name_and_unknown_types():
    msg = only({'default_hooks.chekpoint': dict(interval=5)})
    assert msg.startswith("default_hooks.chekpoint: no type, and 'chekpoint' "
                          "is not one of mmengine's default hooks")
    assert "Did you mean 'checkpoint'?" in msg
    msg = only({'model.generator.type': 'CoordGANGenerater'})
    assert msg == ("model.generator.type: unknown type 'CoordGANGenerater'. "
                   "Did you mean 'CoordGANGenerator'?")
    msg = only({'custom_hooks': [dict(type='SwapGridHok')]})
    assert msg.startswith('custom_hooks[0].type: Unknown hook type')
    assert "Did you mean 'SwapGridHook'?" in msg


def test_wrong_value_types_name_the_key_and_the_expected_type():
    assert only({'default_hooks.checkpoint.interval': '1000'}) == (
        "default_hooks.checkpoint.interval: expected an int, got str '1000'")
    assert only({'train_cfg.max_iters': 2e3}) == (
        'train_cfg.max_iters: expected an int, got float 2000.0')
    assert only({'model.ema_half_life_images': '500'}) == (
        "model.ema_half_life_images: expected a number, got str '500'")
    assert only({'model.frozen': 'generator.warper.*'}) == (
        "model.frozen: expected a list/tuple of str, got str "
        "'generator.warper.*'")
    msg = only({'model.patch_discriminator.side_range': (0.1, 0.2, 0.3)})
    assert msg.startswith('model.patch_discriminator.side_range: expected a '
                          'list/tuple of 2: float, float')


def test_a_required_argument_that_is_missing():
    cfg = Config.fromfile(SYNTHETIC)
    del cfg.model['discriminator']
    with pytest.raises(ConfigError, match="model: CoordGAN needs "
                       "'discriminator'"):
        check_config(cfg)


def test_image_size_vs_discriminator():
    msg = only({'model.generator.out_size': 64,
                'model.generator.upsample_channels': (32, )})
    assert msg.startswith('model.discriminator.in_size: 32, but '
                          'model.generator.out_size is 64')


def test_training_images_vs_discriminator():
    msg = only({'train_dataloader.dataset.img_size': 64})
    assert msg.startswith('train_dataloader.dataset.img_size: the training '
                          'images are 64 px, but model.discriminator.in_size '
                          'is 32')
    # Folder datasets: the side the pipeline resizes to.
    msg = only({'model.discriminator.in_size': 64,
                'model.generator.out_size': 64,
                'model.generator.grid_size': 64},
               'configs/coordgan_celeba.py')
    assert msg.startswith('train_dataloader.dataset.pipeline[1].scale: the '
                          'training images are 128 px, but '
                          'model.discriminator.in_size is 64')


def test_grid_vs_image_size():
    msg = only({'model.generator.grid_size': 12})
    assert msg == ('model.generator: out_size must be grid_size * 2**k, got '
                   'out_size=32 and grid_size=12')


def test_encoder_vs_generator_sizes():
    found = problems({'model.encoder.num_latents': 5,
                      'model.encoder.style_dim': 32,
                      'model.encoder.in_size': 64}, ENCODER)
    assert found == [
        'model.encoder.in_size: 64, but model.generator.out_size is 32: the '
        "encoder inverts the generator's images",
        'model.encoder.style_dim: 32, but model.generator.style_dim is 64: '
        "the encoder predicts the generator's w codes",
        'model.encoder.num_latents: 5, but model.generator takes 6 W+ codes '
        '(one per modulated layer, from its num_blocks and out_size): the '
        'encoder predicts each of them',
    ]
    # The same networks inside a label-propagation extractor.
    msg = only({'model.extractor.encoder.num_latents': 4}, LABELPROP)
    assert msg.startswith('model.extractor.encoder.num_latents: 4, but '
                          'model.extractor.generator takes 6 W+ codes')


def test_every_problem_is_reported_at_once():
    found = problems({'trian_cfg': dict(max_iters=1),
                      'default_hooks.checkpoint.intervall': 1,
                      'model.discriminator.in_size': 64})
    assert len(found) == 4  # in_size also mismatches the training images


# ---------------------------------------------------------------- LPIPS
LPIPS_CONFIGS = sorted(
    name for name in CONFIGS
    if 'LPIPS' in Config.fromfile(osp.join('configs', name)).pretty_text)


def without_checkpoints(cfg):
    """The config's model, minus the checkpoint files it names (not here)."""
    cfg.model.pop('generator_checkpoint', None)
    cfg.model.pop('init_cfg', None)
    return cfg


@pytest.mark.parametrize('name', LPIPS_CONFIGS)
def test_random_lpips_is_an_error_in_paper_configs_only(name, tmp_path,
                                                       monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))  # no ImageNet VGG here
    cfg = without_checkpoints(Config.fromfile(osp.join('configs', name)))
    if 'synthetic' in name:  # the small demo configs
        check_config_files(cfg)
        return
    with pytest.raises(MissingBackboneError) as info:
        check_config_files(cfg)
    msg = str(info.value)
    assert msg.startswith('model.perceptual: LPIPS: the ImageNet vgg weights '
                          f'are not at {tmp_path}/hub/checkpoints/'
                          'vgg16-397923af.pth')
    assert 'allow_random_backbone=True' in msg
    # Switched on explicitly, the stand-in is allowed.
    cfg.merge_from_dict({'model.perceptual.allow_random_backbone': True})
    check_config_files(cfg)


def test_the_first_lines_of_a_run_name_the_lpips_backbone(tmp_path,
                                                          monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    cfg = Config.fromfile(SYNTHETIC)
    cfg.experiment_name = 'lpips-line'
    cfg = prepare_train_config(cfg, work_dir=str(tmp_path / 'work'))
    runner = build_runner(cfg)
    log_file, = glob.glob(osp.join(runner.log_dir, '*.log'))
    log = open(log_file).read()
    line = [ln for ln in log.splitlines() if 'LPIPS backbone:' in ln]
    assert len(line) == 1 and 'WARNING' in line[0]
    assert 'LPIPS backbone: seeded random stand-in (no weights at ' \
           f'{tmp_path}/torch/hub/checkpoints/vgg16-397923af.pth; ' \
           'allow_random_backbone=True)' in line[0]
    # Before the run's first iteration, in the build's first log lines.
    assert 'Iter(train)' not in log.split('LPIPS backbone:')[0]


def test_the_paper_config_starts_with_the_real_file_in_place(tmp_path,
                                                             monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    cache = tmp_path / 'hub' / 'checkpoints'
    cache.mkdir(parents=True)
    torch.save(torchvision.models.vgg16().features.state_dict(), str(
        cache / 'vgg16-397923af.pth'))  # random, in torchvision's layout
    cfg = without_checkpoints(Config.fromfile('configs/coordgan_celeba.py'))
    check_config_files(cfg)
