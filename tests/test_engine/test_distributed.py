"""Training on two CPU processes (torchrun, gloo): the ranks stay in sync, and 2 x B is 1 x 2B."""
import os
import os.path as osp
import socket
import subprocess
import sys

import torch

from coordgan.models.algorithms import coordgan as coordgan_module
from coordgan.models.algorithms.ema import half_life_momentum
from helpers import fake_batch, optim_wrappers, tiny_model
from test_train import tiny_train_cfg

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def run_train(cfg, work_dir, nproc):
    """tools/train.py on ``cfg`` (dumped into ``work_dir``): torchrun with
    ``nproc`` gloo processes, or one plain process for ``nproc=None``."""
    config = osp.join(str(work_dir), 'train_cfg.py')
    cfg.dump(config)
    env = dict(os.environ,
               PYTHONPATH=os.pathsep.join(
                   [ROOT, osp.join(ROOT, 'tests', 'plugins'),
                    os.environ.get('PYTHONPATH', '')]),
               OMP_NUM_THREADS='1')
    train = [osp.join(ROOT, 'tools', 'train.py'), config]
    if nproc is None:
        cmd = [sys.executable] + train
    else:
        cmd = [sys.executable, '-m', 'torch.distributed.run',
               f'--nproc_per_node={nproc}', f'--master_port={free_port()}'
               ] + train + ['--launcher', 'pytorch']
    proc = subprocess.run(cmd, cwd=str(work_dir), env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_two_process_training_keeps_every_network_in_sync(tmp_path):
    cfg = tiny_train_cfg(tmp_path, 3, name='dist')
    cfg.custom_imports = dict(imports=['rank_weights_hook'],
                              allow_failed_imports=False)
    cfg.custom_hooks = [dict(type='RankWeightsHook')]
    cfg.model.losses.r1.interval = 2  # a regularisation step in the run
    run_train(cfg, tmp_path, nproc=2)

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


def test_ema_momentum_follows_the_global_batch(monkeypatch):
    """2 ranks x 2 images and 1 process x 4 images: the same EMA momentum (4 images)."""
    momenta = []
    for world_size, batch in ((2, 2), (1, 4)):
        monkeypatch.setattr(coordgan_module, 'get_world_size',
                            lambda: world_size)
        model = tiny_model()
        model.generator_ema.half_life_images = 10.0
        model.train_step(fake_batch(batch), optim_wrappers(model))
        momenta.append(model.generator_ema.momentum)
    assert momenta == [half_life_momentum(4, 10.0)] * 2
    assert momenta[0] != half_life_momentum(2, 10.0)


PER_DEVICE = 4  # samples per rank; the single process takes 2 x 4


def global_batch_cfg(work_dir, batch_size):
    """Two iterations of the tiny model whose random draws follow the global batch.

    The plug-ins (tests/plugins/global_batch_sampling.py) make rank r draw
    the rows of the global batch that the single process draws for the same
    samples: the library's per-rank generators would not (by design).
    """
    cfg = tiny_train_cfg(work_dir, 2, name=f'global-{batch_size}')
    cfg.custom_imports = dict(imports=['global_batch_sampling'],
                              allow_failed_imports=False)
    cfg.custom_hooks = [dict(type='StepGradientsHook')]
    cfg.model.type = 'GlobalBatchCoordGAN'
    cfg.model.patch_discriminator.type = 'SameCropsPatchDiscriminator'
    # Minibatch-stddev groups take every (batch / group)-th sample: with a
    # group dividing B / 2 they hold the same images on 2 x B and 1 x 2B.
    # (At the paper's B = 2 and group min(B, 4) they differ, as in StyleGAN2.)
    cfg.model.discriminator.stddev_group = 2
    # EMA momentum 0.5 at 8 images per step (0.29 at 4): the second, averaging
    # update shows if the EMA counted per-device instead of global images.
    cfg.model.ema_half_life_images = 8
    # Rank r reads items r, r + 2, ...: together the first 2B items, in
    # other positions (the losses are batch means; see the stddev group).
    cfg.train_dataloader.sampler = dict(type='InfiniteSampler', shuffle=False)
    cfg.train_dataloader.batch_size = batch_size
    cfg.train_dataloader.dataset.num_samples = 4 * PER_DEVICE
    return cfg


def test_two_processes_of_b_step_like_one_process_of_2b(tmp_path):
    """Every optimizer step's gradients and every network's weights (G, D,
    patch D, G_ema) after two iterations, one with lazy R1 on both Ds, match.

    Tolerances, from float32 rounding (the all-reduce averages two batch
    means, convolutions reduce over other batch shapes): a step's gradients
    within 1e-4 of that step's largest gradient (measured: 4e-6 at worst,
    in the R1 step; the library's per-rank sampling gives 0.4, a stddev
    group of 4 1e-3); weights within 5e-5 (measured: 6e-6, after Adam steps
    of ~lr = 1.3e-3 (D) and 1.6e-3 (G); an EMA counting per-device images
    is 5e-4 off).
    """
    two, one = tmp_path / 'two', tmp_path / 'one'
    two.mkdir()
    one.mkdir()
    run_train(global_batch_cfg(two, PER_DEVICE), two, nproc=2)
    run_train(global_batch_cfg(one, 2 * PER_DEVICE), one, nproc=None)
    ranks = [torch.load(two / f'rank{r}_steps.pth') for r in (0, 1)]
    single = torch.load(one / 'rank0_steps.pth')
    log = open(next(two.rglob('*.log'))).read()
    assert 'Distributed training: True' in log

    # D: iteration 0 main + R1 (both Ds, interval 2), iteration 1 main; G: 2.
    assert {k: len(v) for k, v in single['grads'].items()} == {
        'discriminator': 3, 'generator': 2}
    assert {n.split('.')[0] for n in single['grads']['discriminator'][1]} == {
        'discriminator', 'patch_discriminator'}
    for key, steps in single['grads'].items():
        for rank in ranks:
            assert len(rank['grads'][key]) == len(steps), key
        for i, grads in enumerate(steps):
            scale = max(g.abs().max() for g in grads.values())
            assert scale > 0, (key, i)
            for rank in ranks:
                assert rank['grads'][key][i].keys() == grads.keys()
                for name, grad in grads.items():
                    torch.testing.assert_close(
                        rank['grads'][key][i][name], grad, rtol=0,
                        atol=1e-4 * scale,
                        msg=lambda m: f'{key} step {i} {name}: {m}')

    # The EMA's second update averaged (a copy of G would hide its momentum).
    g, ema = single['weights']['generator'], single['weights']['generator_ema']
    assert any(not torch.allclose(g[k], ema[k], atol=1e-4) for k in g)
    for net, weights in single['weights'].items():
        for rank in ranks:
            for key, value in weights.items():
                torch.testing.assert_close(
                    rank['weights'][net][key], value, rtol=0, atol=5e-5,
                    msg=lambda m: f'{net}.{key}: {m}')
