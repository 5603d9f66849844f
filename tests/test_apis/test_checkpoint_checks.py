"""A checkpoint of the wrong stage, model or size, or a damaged one, fails at start-up naming the file and what it is."""
import re

import pytest
import torch
from mmengine import Config
from mmengine.runner.checkpoint import save_checkpoint

from coordgan.apis import init_model, prepare_test_config, prepare_train_config
from coordgan.registry import MODELS
from coordgan.utils import CheckpointError, DamagedCheckpointError
from helpers import SYNTHETIC_CONFIG, tiny_labelprop_config, tiny_model_cfg
from tiny_configs import tiny_model


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    """(tmp, label-propagation config, encoder-stage checkpoint, stage-1 checkpoint, truncated encoder-stage checkpoint)."""
    tmp = tmp_path_factory.mktemp('ckpts')
    config, encoder, stage1 = tiny_labelprop_config(tmp)
    data = open(encoder, 'rb').read()
    truncated = tmp / 'iter_cut.pth'
    truncated.write_bytes(data[:len(data) // 2])
    return tmp, config, encoder, stage1, str(truncated)


def prepare_test(config, ckpt, tmp):
    return prepare_test_config(Config.fromfile(config), config, ckpt,
                               str(tmp / 'work'))


def train_cfg(**model):
    """The synthetic stage-1 config at tiny sizes (the tiny checkpoints' model)."""
    cfg = Config.fromfile(SYNTHETIC_CONFIG)
    cfg.model = tiny_model_cfg()
    cfg.model.update(model)
    cfg.train_dataloader.dataset.img_size = 16
    return cfg


def encoder_train_cfg(generator_checkpoint):
    cfg = Config.fromfile('configs/coordgan-encoder_synthetic.py')
    cfg.model = tiny_model(cfg.model.to_dict())
    cfg.model.generator_checkpoint = generator_checkpoint
    cfg.train_dataloader.dataset.img_size = 16
    return cfg


def test_the_right_checkpoints_pass(files):
    tmp, config, encoder, stage1, _ = files
    assert prepare_test(config, encoder, tmp).load_from == encoder
    prepare_train_config(train_cfg(), str(tmp / 'w1'), resume=stage1)
    prepare_train_config(encoder_train_cfg(stage1), str(tmp / 'w2'))


def test_stage1_checkpoint_given_to_the_test_tool(files):
    tmp, config, _, stage1, _ = files
    with pytest.raises(CheckpointError) as info:
        prepare_test(config, stage1, tmp)
    msg = str(info.value)
    assert msg.startswith(f'{stage1} is a CoordGAN stage-1 checkpoint')
    assert ('tools/test.py CONFIG CHECKPOINT needs an encoder-stage '
            'checkpoint') in msg
    assert 'model.generator_checkpoint=<stage-1 file>' in msg
    with pytest.raises(CheckpointError, match='is a CoordGAN stage-1 '
                       'checkpoint.*init_model needs an encoder-stage'):
        init_model(config, stage1)


def test_encoder_checkpoint_given_to_stage1_training(files):
    tmp, _, encoder, _, _ = files
    with pytest.raises(CheckpointError) as info:
        prepare_train_config(train_cfg(), str(tmp / 'w'), resume=encoder)
    msg = str(info.value)
    assert msg.startswith(f'{encoder} is an encoder-stage checkpoint')
    assert '--resume needs a CoordGAN stage-1 checkpoint' in msg
    cfg = train_cfg()
    cfg.load_from = encoder
    with pytest.raises(CheckpointError, match='load_from needs a CoordGAN '
                       'stage-1 checkpoint'):
        prepare_train_config(cfg, str(tmp / 'w'))


def test_encoder_checkpoint_given_as_generator_checkpoint(files):
    tmp, _, encoder, _, _ = files
    cfg = encoder_train_cfg(encoder)
    with pytest.raises(CheckpointError) as info:
        prepare_train_config(cfg, str(tmp / 'w'))
    msg = str(info.value)
    assert msg.startswith(f'{encoder} is an encoder-stage checkpoint')
    assert 'model.generator_checkpoint needs a CoordGAN stage-1' in msg
    # Built without the start-up check (a script), the loader says the same.
    with pytest.raises(CheckpointError, match='not a CoordGAN stage-1 '
                       'checkpoint.*it is an encoder-stage checkpoint'):
        MODELS.build(cfg.model.to_dict())


def test_checkpoint_of_an_unrelated_model(files):
    tmp, config, _, _, _ = files
    other = tmp / 'resnet.pth'
    torch.save({'conv1.weight': torch.zeros(2, 3, 1, 1),
                'fc.weight': torch.zeros(1, 2)}, other)
    with pytest.raises(CheckpointError) as info:
        prepare_test(config, str(other), tmp)
    assert str(info.value).startswith(
        f'{other} is not a checkpoint of a coordgan model, but tools/test.py '
        'CONFIG CHECKPOINT needs an encoder-stage checkpoint')
    assert "its top-level names: ['conv1', 'fc']" in str(info.value)
    # Where no stage is expected, none of its weights fitting says the same.
    cfg = Config.fromfile(config)
    cfg.model.extractor = dict(type='ResNet50Features', input_size=32,
                               random_weights=True)
    path = str(tmp / 'resnet.py')
    cfg.dump(path)
    with pytest.raises(CheckpointError, match='resnet.pth holds none of the '
                       'weights of model type LabelPropagationModel'):
        prepare_test_config(Config.fromfile(path), path, str(other),
                            str(tmp / 'work'))
    cfg.model.extractor = dict(type='CopyReferenceMask', input_size=16)
    cfg.dump(path)
    with pytest.raises(CheckpointError, match='the configured model '
                       r'\(CopyReferenceMask\) has no weights to load'):
        prepare_test_config(Config.fromfile(path), path, str(other),
                            str(tmp / 'work'))


def test_checkpoint_of_another_size(files):
    tmp, config, encoder, stage1, _ = files
    cfg = Config.fromfile(config)
    cfg.model.extractor.generator.channels = 24
    wide = str(tmp / 'wide.py')
    cfg.dump(wide)
    with pytest.raises(CheckpointError) as info:
        prepare_test(wide, encoder, tmp)
    msg = str(info.value)
    assert msg.startswith(f'{encoder} is a checkpoint of another size:')
    assert 'as configured by model.extractor.generator' in msg
    # A stage-1 run resumed with a checkpoint of a narrower generator.
    narrow = tiny_model_cfg()
    narrow['generator']['channels'] = 8
    path = str(tmp / 'narrow.pth')
    save_checkpoint(dict(state_dict=MODELS.build(narrow).state_dict()), path)
    with pytest.raises(CheckpointError, match='checkpoint of another size.*'
                       'configured by model.generator'):
        prepare_train_config(train_cfg(), str(tmp / 'w'), resume=path)


def test_checkpoint_of_another_variant_when_evaluating(files):
    tmp, config, encoder, _, _ = files
    cfg = Config.fromfile(config)
    # CoordGAN-B: the same networks plus a backward warper.
    cfg.model.extractor.generator.backward_warper = dict(
        type='MLPWarper', hidden_channels=(16, ))
    path = str(tmp / 'b.py')
    cfg.dump(path)
    with pytest.raises(CheckpointError, match='does not fit the configured '
                       'model: lacks .* weights'):
        prepare_test(path, encoder, tmp)


def test_truncated_checkpoint_names_the_file(files):
    tmp, config, _, _, truncated = files
    for check in (lambda: prepare_test(config, truncated, tmp),
                  lambda: init_model(config, truncated)):
        with pytest.raises(DamagedCheckpointError) as info:
            check()
        msg = str(info.value)
        assert msg.startswith(f"checkpoint '{truncated}' is truncated or "
                              'damaged')
        # torch's reason (which one depends on where the cut falls: the zip
        # reader's or the memory map's), its first line only.
        assert re.search(r'\(\d+ bytes; torch: \w+(Error|Exception): ', msg)
        assert '\n' not in msg
    with pytest.raises(DamagedCheckpointError, match='iter_cut.pth'):
        prepare_train_config(encoder_train_cfg(truncated), str(tmp / 'w'))


def test_missing_checkpoints_named_by_the_config_stop_at_start_up(tmp_path):
    missing = str(tmp_path / 'iter_2000.pth')
    with pytest.raises(FileNotFoundError) as info:
        prepare_train_config(encoder_train_cfg(missing), str(tmp_path / 'w'))
    assert str(info.value) == (f'model.generator_checkpoint: checkpoint '
                               f'{missing!r} does not exist')
    cfg = train_cfg(init_cfg=dict(type='PartialPretrained',
                                  checkpoint=missing,
                                  include=['generator.*']))
    with pytest.raises(FileNotFoundError, match='model.init_cfg.checkpoint: '
                       'checkpoint .* does not exist'):
        prepare_train_config(cfg, str(tmp_path / 'w'))
