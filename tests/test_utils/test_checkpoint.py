"""mmengine checkpoints (weights + training state) save and load on torch >= 2.6."""
import os.path as osp
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.runner import Runner
from mmengine.runner.checkpoint import (_load_checkpoint, load_checkpoint,
                                        save_checkpoint)

import coordgan  # noqa: F401  registers the loader
from coordgan.utils import (DamagedCheckpointError, checkpoint_kind,
                            load_local_checkpoint)
from helpers import ToyModel, toy_runner_args


def runner(work_dir, resume=False, max_iters=2):
    return Runner(
        **toy_runner_args(work_dir, max_iters),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=2,
                                           by_epoch=False)),
        resume=resume,
        experiment_name=f'ckpt-{osp.basename(str(work_dir))}-{resume}')


def test_runner_checkpoint_resumes(tmp_path):
    first = runner(tmp_path)
    first.train()
    ckpt = tmp_path / 'iter_2.pth'
    assert ckpt.is_file()
    # The file really holds more than tensors: torch's safe mode refuses it,
    # which is what broke mmengine's own loader.
    with pytest.raises(pickle.UnpicklingError):
        torch.load(ckpt, weights_only=True)

    second = runner(tmp_path, resume=True, max_iters=4)
    second.train()
    assert second.iter == 4
    state = _load_checkpoint(str(ckpt), map_location='cpu')
    assert state['meta']['iter'] == 2
    assert 'message_hub' in state and 'optimizer' in state


def test_load_from_reads_a_checkpoint_with_training_state(tmp_path):
    """mmengine's load_checkpoint (the Runner's load_from) on a file torch's safe mode refuses."""
    saved = ToyModel()
    with torch.no_grad():
        saved.linear.weight.fill_(0.25)
    hub = MessageHub.get_instance(f'ckpt-load-from-{tmp_path.name}')
    hub.update_scalar('train/loss', 0.5)
    path = str(tmp_path / 'with_state.pth')
    # What the Runner writes beside the weights: numpy scalars in meta and
    # the message hub's history buffers, neither of them a tensor.
    save_checkpoint(dict(meta=dict(iter=3, seed=np.int64(7)),
                         state_dict=saved.state_dict(),
                         message_hub=hub.state_dict()), path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)

    fresh = ToyModel()
    assert not torch.equal(fresh.linear.weight, saved.linear.weight)
    state = load_checkpoint(fresh, path, map_location='cpu')
    assert torch.equal(fresh.linear.weight, saved.linear.weight)
    assert torch.equal(fresh.linear.bias, saved.linear.bias)
    assert state['meta']['seed'] == 7
    assert 'train/loss' in state['message_hub']['log_scalars']


def test_plain_weight_files_load_in_safe_mode(tmp_path, monkeypatch):
    path = tmp_path / 'plain.pth'
    torch.save({'w': torch.ones(2)}, path)
    modes = []
    real_load = torch.load

    def spy(*args, **kwargs):
        modes.append(kwargs.get('weights_only'))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, 'load', spy)
    assert torch.equal(load_local_checkpoint(str(path))['w'], torch.ones(2))
    # Only what the safe mode refuses is fully unpickled.
    assert modes == [True]
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        load_local_checkpoint(str(tmp_path / 'missing.pth'))


@pytest.mark.parametrize('keep', [0, 0.1, 0.5, 0.99])
def test_truncated_checkpoint_names_the_file(tmp_path, keep):
    """A Runner checkpoint cut short (an interrupted save or copy): the file is named, not torch's zip reader."""
    runner(tmp_path).train()
    data = (tmp_path / 'iter_2.pth').read_bytes()
    cut = tmp_path / 'cut.pth'
    cut.write_bytes(data[:int(len(data) * keep)])
    for load in (lambda: load_local_checkpoint(str(cut)),
                 lambda: load_local_checkpoint(str(cut), mmap=True),
                 lambda: load_checkpoint(ToyModel(), str(cut))):
        with pytest.raises(DamagedCheckpointError) as info:
            load()
        msg = str(info.value)
        assert msg.startswith(f"checkpoint '{cut}' is truncated or damaged")
        assert len(msg.splitlines()) == 1


def test_damaged_checkpoint_stops_load_from_with_its_name(tmp_path):
    runner(tmp_path / 'a').train()
    data = (tmp_path / 'a' / 'iter_2.pth').read_bytes()
    cut = tmp_path / 'cut.pth'
    cut.write_bytes(data[:len(data) // 3])
    run = runner(tmp_path / 'b')
    run._load_from = str(cut)
    with pytest.raises(DamagedCheckpointError, match='cut.pth'):
        run.load_or_resume()


def test_legacy_format_checkpoints_load_with_mmap_requested(tmp_path):
    path = tmp_path / 'legacy.pth'
    torch.save({'w': torch.ones(2)}, path,
               _use_new_zipfile_serialization=False)
    assert torch.equal(load_local_checkpoint(str(path), mmap=True)['w'],
                       torch.ones(2))


def test_checkpoint_kinds_from_weight_names():
    w = torch.zeros(1)
    assert checkpoint_kind({'generator.a': w, 'generator_ema.a': w,
                            'discriminator.b': w}) == 'stage-1'
    assert checkpoint_kind({'encoder.a': w, 'generator.a': w}) == \
        'encoder-stage'
    assert checkpoint_kind({'extractor.a': w}) == 'label-propagation'
    assert checkpoint_kind({'fc.weight': w}) == 'other'
