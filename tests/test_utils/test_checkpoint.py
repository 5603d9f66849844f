"""mmengine checkpoints (weights + training state) save and load on torch >= 2.6."""
import os.path as osp
import pickle

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.logging import MessageHub
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmengine.runner.checkpoint import (_load_checkpoint, load_checkpoint,
                                        save_checkpoint)

import coordgan  # noqa: F401  registers the loader
from coordgan.utils import load_local_checkpoint


class ToyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, mode='tensor'):
        loss = self.linear(torch.stack(inputs)).pow(2).mean()
        return dict(loss=loss) if mode == 'loss' else loss


def runner(work_dir, resume=False, max_iters=2):
    data = [dict(inputs=torch.randn(2)) for _ in range(4)]
    return Runner(
        model=ToyModel(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=data, sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=2, collate_fn=dict(type='pseudo_collate')),
        optim_wrapper=dict(optimizer=dict(type='Adam', lr=0.01)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=2,
                                           by_epoch=False)),
        resume=resume,
        default_scope='coordgan',
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
