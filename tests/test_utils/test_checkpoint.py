"""mmengine checkpoints (weights + training state) save and load on torch >= 2.6."""
import os.path as osp
import pickle

import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmengine.runner.checkpoint import (CheckpointLoader, _load_checkpoint,
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


def test_save_then_load_equal_weights(tmp_path):
    model = ToyModel()
    path = str(tmp_path / 'weights.pth')
    save_checkpoint(dict(state_dict=model.state_dict(), meta=dict(iter=3)),
                    path)
    loaded = CheckpointLoader.load_checkpoint(path, map_location='cpu')
    for key, value in model.state_dict().items():
        assert torch.equal(loaded['state_dict'][key], value)


def test_plain_weight_files_load_in_safe_mode(tmp_path):
    path = tmp_path / 'plain.pth'
    torch.save({'w': torch.ones(2)}, path)
    assert torch.equal(load_local_checkpoint(str(path))['w'], torch.ones(2))
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        load_local_checkpoint(str(tmp_path / 'missing.pth'))
