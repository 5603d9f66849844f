"""Two CPU processes (torchrun, gloo) train and end with identical weights on both ranks."""
import os
import os.path as osp
import socket
import subprocess
import sys

import torch

from test_train import tiny_train_cfg

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_two_process_training_keeps_every_network_in_sync(tmp_path):
    cfg = tiny_train_cfg(tmp_path, 3, name='dist')
    cfg.custom_imports = dict(imports=['rank_weights_hook'],
                              allow_failed_imports=False)
    cfg.custom_hooks = [dict(type='RankWeightsHook')]
    cfg.model.losses.r1.interval = 2  # a regularisation step in the run
    config = tmp_path / 'dist_cfg.py'
    cfg.dump(str(config))
    env = dict(os.environ,
               PYTHONPATH=os.pathsep.join(
                   [ROOT, osp.join(ROOT, 'tests', 'plugins'),
                    os.environ.get('PYTHONPATH', '')]),
               OMP_NUM_THREADS='1')
    cmd = [sys.executable, '-m', 'torch.distributed.run',
           '--nproc_per_node=2', f'--master_port={free_port()}',
           osp.join(ROOT, 'tools', 'train.py'), str(config),
           '--launcher', 'pytorch']
    proc = subprocess.run(cmd, cwd=str(tmp_path), env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    rank0 = torch.load(tmp_path / 'rank0_weights.pth')
    rank1 = torch.load(tmp_path / 'rank1_weights.pth')
    assert set(rank0) == {'generator', 'discriminator', 'patch_discriminator',
                          'generator_ema'}
    for net in rank0:
        for key, value in rank0[net].items():
            assert torch.equal(value, rank1[net][key]), f'{net}.{key}'
    log = open(next(tmp_path.rglob('*.log'))).read()
    assert 'Distributed training: True' in log
    assert 'Iter(train) [3/3]' in log
