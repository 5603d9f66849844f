"""Training that survives faults: SIGKILL and SIGTERM mid-run, damaged checkpoints, NaNs, bad work_dirs."""
import errno
import os
import os.path as osp
import random
import re
import signal
import subprocess
import sys
import time

import pytest
import torch
from mmengine.hooks import Hook

from coordgan.apis import build_runner
from coordgan.engine import (AtomicCheckpointHook, CheckpointSaveError,
                             CoordGANRunner, DamagedCheckpointError,
                             NonFiniteLossError, WorkDirError,
                             check_work_dir, checkpoint_problem)
from coordgan.engine.runner import checkpoint_files, coordgan_runner
from coordgan.registry import MODELS
from helpers import (fake_batch, optim_wrappers, snapshot, tiny_model_cfg,
                     toy_runner_args)
from test_train import tiny_train_cfg

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
MAX_ITERS = 8
TEMP = re.compile(r'^\.iter_\d+\.pth\.\d+\.tmp$')
RESUMED = re.compile(r'Resuming from (\S+): the newest complete checkpoint')


# ------------------------------------------------ training in subprocesses
def light_train_cfg(work_dir, max_iters, name='run'):
    """tiny_train_cfg with small checkpoints: edge distances instead of LPIPS, a small LPIPS net.

    The perceptual net is saved with the model; VGG would make every
    checkpoint 60 MB.
    """
    cfg = tiny_train_cfg(work_dir, max_iters, name=name)
    for loss in ('texture_swap', 'warp'):
        cfg.model.losses[loss].distance = dict(type='EdgeDistance')
    cfg.model.perceptual = dict(type='LPIPS', net='squeeze',
                                random_backbone=True)
    cfg.custom_hooks = []
    return cfg


def subprocess_config(tmp_path, name, interval):
    """A tiny CoordGAN run of MAX_ITERS iterations with slow checkpoint writes; its config path."""
    cfg = light_train_cfg(tmp_path / name, MAX_ITERS, name=name)
    # One worker: Ctrl-C and schedulers signal it too.
    cfg.train_dataloader.num_workers = 1
    cfg.train_dataloader.persistent_workers = True
    cfg.default_hooks.checkpoint.interval = interval
    cfg.default_hooks.checkpoint.max_keep_ckpts = 2
    cfg.custom_imports = dict(imports=['slow_checkpoint_writes'],
                              allow_failed_imports=False)
    path = tmp_path / f'{name}_cfg.py'
    cfg.dump(str(path))
    return str(path)


def start(config, work_dir, log, resume=True, save_pause=0.3):
    env = dict(os.environ, OMP_NUM_THREADS='1',
               COORDGAN_TEST_SAVE_PAUSE=str(save_pause),
               PYTHONPATH=os.pathsep.join([
                   ROOT, osp.join(ROOT, 'tests', 'plugins'),
                   os.environ.get('PYTHONPATH', '')]))
    cmd = [sys.executable, osp.join(ROOT, 'tools', 'train.py'), config,
           '--work-dir', str(work_dir)] + (['--resume'] if resume else [])
    out = open(log, 'w')
    # Its own process group, as a job under a scheduler or in a terminal.
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out,
                            stderr=subprocess.STDOUT, start_new_session=True)
    out.close()
    return proc


def wait_for(predicate, proc, timeout=120.0, poll=0.005):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        if proc.poll() is not None:
            return predicate()
        time.sleep(poll)
    raise TimeoutError('the training process did not get there in time')


def temp_files(work_dir):
    return sorted(n for n in os.listdir(work_dir) if TEMP.match(n))


def checkpoints(work_dir):
    return sorted(n for n in os.listdir(work_dir)
                  if checkpoint_files.CHECKPOINT_NAME.match(n))


def load(path):
    return torch.load(path, map_location='cpu', weights_only=False)


def complete_checkpoints(work_dir, planted=()):
    """Every iter_N.pth must load (saves are atomic); newest first by write time."""
    paths = [osp.join(work_dir, n) for n in checkpoints(work_dir)
             if n not in planted]
    for path in paths:
        load(path)  # raises on a damaged file
    return sorted(paths, key=lambda p: os.stat(p).st_mtime_ns, reverse=True)


def assert_same_training_state(a, b):
    a, b = load(a), load(b)
    assert a['meta']['iter'] == b['meta']['iter'] == MAX_ITERS
    assert a['state_dict'].keys() == b['state_dict'].keys()
    assert a['state_dict']['_extra_state'].numel()  # the random stream
    for key, value in a['state_dict'].items():
        assert torch.equal(value, b['state_dict'][key]), key
    for name, optim in a['optimizer'].items():
        assert optim['state'], name
        for pid, state in optim['state'].items():
            for k, v in state.items():
                other = b['optimizer'][name]['state'][pid][k]
                assert torch.equal(torch.as_tensor(v),
                                   torch.as_tensor(other)), (name, pid, k)


@pytest.fixture(scope='module')
def straight_run(tmp_path_factory):
    """An uninterrupted run, started at once in the background; its final checkpoint when asked."""
    tmp = tmp_path_factory.mktemp('straight')
    config = subprocess_config(tmp, 'straight', interval=MAX_ITERS)
    proc = start(config, tmp / 'straight', tmp / 'straight.log',
                 resume=False)

    def final():
        code = proc.wait(timeout=300)
        assert code == 0, open(tmp / 'straight.log').read()[-3000:]
        return str(tmp / 'straight' / f'iter_{MAX_ITERS}.pth')

    yield final
    if proc.poll() is None:
        proc.kill()


def test_sigkill_anywhere_then_resume_gives_the_straight_run(
        straight_run, tmp_path):
    rng = random.Random(10)
    config = subprocess_config(tmp_path, 'faulty', interval=1)
    work_dir = tmp_path / 'faulty'
    picked, expected, kills = [], [], []
    for round_ in range(3):
        log = tmp_path / f'run{round_}.log'
        proc = start(config, work_dir, log)
        before = set(checkpoints(work_dir)) if work_dir.is_dir() else set()
        if round_ != 1:
            # During a save: once the second save of this run has started
            # (the first completed one guarantees progress), after a random
            # part of the write.
            seen = set()

            def second_temp():
                if work_dir.is_dir():  # this run's (leftovers are older)
                    seen.update(n for n in temp_files(work_dir)
                                if n.endswith(f'.{proc.pid}.tmp'))
                return len(seen) >= 2

            wait_for(second_temp, proc)
            time.sleep(rng.uniform(0.0, 0.4))
            kills.append('save')
        else:
            # Anywhere between saves: a random time after a new checkpoint.
            wait_for(lambda: set(checkpoints(work_dir)) - before - {
                f'iter_{MAX_ITERS}.pth'}, proc, poll=0.02)
            time.sleep(rng.uniform(0.0, 0.6))
            kills.append('iteration')
        assert proc.poll() is None, open(log).read()[-3000:]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        # Whatever the moment, every file under a checkpoint name is whole.
        newest = complete_checkpoints(work_dir, planted=['iter_99.pth'])
        assert newest, open(log).read()[-3000:]
        expected.append(newest[0])
        if round_ == 1:
            # A damaged file left by a writer that was not atomic: the
            # resume must skip it, with a warning naming it.
            damaged = work_dir / 'iter_99.pth'
            data = open(newest[0], 'rb').read()
            damaged.write_bytes(data[:len(data) // 2])
        if round_:
            text = open(log).read()
            picked.append(RESUMED.search(text).group(1))
        if round_ == 2:  # the first resume after the damaged file appeared
            assert f'Skipping checkpoint {work_dir / "iter_99.pth"}: it is ' \
                'truncated or damaged' in text

    log = tmp_path / 'final.log'
    proc = start(config, work_dir, log)
    assert proc.wait(timeout=300) == 0, open(log).read()[-3000:]
    picked.append(RESUMED.search(open(log).read()).group(1))
    # Each resume said which checkpoint it took: the newest complete one.
    assert picked == expected, (picked, expected, kills)
    for name in os.listdir(work_dir):
        assert not TEMP.match(name), name  # leftovers were cleaned up
    assert_same_training_state(straight_run(),
                               str(work_dir / f'iter_{MAX_ITERS}.pth'))


def test_sigterm_saves_exits_0_and_resume_gives_the_straight_run(
        straight_run, tmp_path):
    # No interval checkpoint before the end: the signal's save is the only one.
    config = subprocess_config(tmp_path, 'preempted', interval=100)
    work_dir = tmp_path / 'preempted'
    log = tmp_path / 'preempted.log'
    proc = start(config, work_dir, log, save_pause=0.6)
    wait_for(lambda: 'Iter(train) [3/8]' in open(log).read(), proc,
             poll=0.02)
    os.killpg(proc.pid, signal.SIGTERM)  # main process and data worker
    assert wait_for(lambda: temp_files(work_dir), proc), 'no save seen'
    assert proc.poll() is None
    # More signals while the checkpoint is written change nothing.
    os.killpg(proc.pid, signal.SIGINT)
    os.killpg(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=120) == 0, open(log).read()[-3000:]
    text = open(log).read()
    match = re.search(r'Received SIGTERM: saved (\S+) after iteration (\d+) '
                      r'and stopping training \(exit status 0\)', text)
    assert match, text[-3000:]
    path, step = match.group(1), int(match.group(2))
    assert 3 <= step < MAX_ITERS
    assert checkpoints(work_dir) == [f'iter_{step}.pth']
    assert path == str(work_dir / f'iter_{step}.pth')
    assert open(work_dir / 'last_checkpoint').read() == path
    assert load(path)['meta']['iter'] == step

    log = tmp_path / 'resumed.log'
    proc = start(config, work_dir, log)
    assert proc.wait(timeout=300) == 0, open(log).read()[-3000:]
    text = open(log).read()
    assert RESUMED.search(text).group(1) == path
    assert f'resumed epoch: 0, iter: {step}' in text
    assert f'Iter(train) [{step + 1}/{MAX_ITERS}]' in text
    assert f'Iter(train) [{step}/{MAX_ITERS}]' not in text
    assert_same_training_state(straight_run(),
                               str(work_dir / f'iter_{MAX_ITERS}.pth'))


# ----------------------------------------------------- checkpoint files
def toy_runner(work_dir, max_iters=2, resume=False, load_from=None,
               max_keep_ckpts=-1, interval=1, custom_hooks=()):
    return CoordGANRunner(
        **toy_runner_args(work_dir, max_iters),
        default_hooks=dict(
            checkpoint=dict(type='AtomicCheckpointHook', interval=interval,
                            by_epoch=False, max_keep_ckpts=max_keep_ckpts),
            preemption=dict(type='PreemptionHook')),
        custom_hooks=list(custom_hooks),
        resume=resume,
        load_from=load_from,
        experiment_name=f'toy-{osp.basename(str(work_dir))}-{resume}-'
        f'{max_iters}-{time.monotonic_ns()}')


def dead_pid():
    proc = subprocess.Popen(['true'])
    proc.wait()
    return proc.pid


def read_log(runner):
    with open(osp.join(runner.log_dir, f'{runner.timestamp}.log')) as f:
        return f.read()


def test_failed_save_leaves_no_file_and_keeps_the_older_checkpoint(
        tmp_path, monkeypatch):
    from mmengine.fileio.backends import LocalBackend
    runner = toy_runner(tmp_path, max_iters=3, max_keep_ckpts=1)
    assert any(isinstance(h, AtomicCheckpointHook) for h in runner.hooks)
    put = LocalBackend.put

    def disk_full_at_iter_3(self, obj, filepath):
        if 'iter_3' not in str(filepath):
            return put(self, obj, filepath)
        with open(filepath, 'wb') as f:  # half written, then the disk is full
            f.write(obj[:len(obj) // 2])
        raise OSError(errno.ENOSPC, 'No space left on device')

    monkeypatch.setattr(LocalBackend, 'put', disk_full_at_iter_3)
    with pytest.raises(CheckpointSaveError) as err:
        runner.train()
    path = tmp_path / 'iter_3.pth'
    assert f'could not save checkpoint {path}: No space left on device' in \
        str(err.value)
    assert 'No partial file was left' in str(err.value)
    # max_keep_ckpts=1: the outdated checkpoint is only deleted after the
    # new one is complete, so iter_2 is still there, whole, and pointed to.
    assert checkpoints(tmp_path) == ['iter_2.pth']
    assert not [n for n in os.listdir(tmp_path) if n.endswith('.tmp')]
    assert checkpoint_problem(str(tmp_path / 'iter_2.pth')) is None
    assert open(tmp_path / 'last_checkpoint').read() == str(
        tmp_path / 'iter_2.pth')


def test_last_checkpoint_pointer_is_replaced_in_one_step(tmp_path,
                                                         monkeypatch):
    pointer = tmp_path / 'last_checkpoint'
    checkpoint_files.write_text_atomic(str(pointer), 'iter_2.pth')

    def crash(src, dst):
        raise OSError(errno.EIO, 'Input/output error')

    monkeypatch.setattr(checkpoint_files.os, 'replace', crash)
    with pytest.raises(OSError):
        checkpoint_files.write_text_atomic(str(pointer), 'iter_4.pth')
    assert pointer.read_text() == 'iter_2.pth'  # never half written
    assert os.listdir(tmp_path) == ['last_checkpoint']


@pytest.mark.parametrize('damage,message', [
    ('truncate', 'is truncated or damaged'),
    ('empty', 'is empty (0 bytes)'),
    ('flip', "fails its CRC check"),
    ('garbage', 'is truncated or damaged'),
])
def test_checkpoint_problem_names_the_damage(tmp_path, damage, message):
    path = tmp_path / 'c.pth'
    torch.save(dict(state_dict=dict(w=torch.arange(4096.))), path)
    data = bytearray(path.read_bytes())
    assert checkpoint_problem(str(path)) is None
    if damage == 'truncate':
        data = data[:len(data) * 2 // 3]
    elif damage == 'empty':
        data = b''
    elif damage == 'flip':
        data[len(data) // 2] ^= 0xFF  # inside the tensor's bytes
    else:
        data = b'not a checkpoint at all'
    path.write_bytes(bytes(data))
    assert message in checkpoint_problem(str(path))


def test_resume_skips_a_damaged_newest_checkpoint_with_a_warning(tmp_path):
    toy_runner(tmp_path, max_iters=2).train()
    newest = tmp_path / 'iter_2.pth'
    data = newest.read_bytes()
    newest.write_bytes(data[:len(data) // 2])  # a save cut short
    leftover = tmp_path / f'.iter_3.pth.{dead_pid()}.tmp'  # a killed save
    leftover.write_bytes(b'partial')
    resumed = toy_runner(tmp_path, max_iters=3, resume=True)
    resumed.train()
    assert resumed.iter == 3
    log = read_log(resumed)
    assert f'Skipping checkpoint {newest}: it is truncated or damaged' in log
    assert f'Resuming from {tmp_path / "iter_1.pth"}: the newest complete ' \
        f'checkpoint in {tmp_path}' in log
    assert 'resumed epoch: 0, iter: 1' in log
    assert 'Removed 1 temporary file(s) of interrupted saves: ' \
        f'{leftover.name}' in log
    assert not leftover.exists()


def test_resume_from_a_named_damaged_checkpoint_is_a_clear_error(tmp_path):
    toy_runner(tmp_path, max_iters=2).train()
    named = tmp_path / 'iter_2.pth'
    data = named.read_bytes()
    named.write_bytes(data[:len(data) - 100])
    runner = toy_runner(tmp_path, max_iters=3, resume=True,
                        load_from=str(named))
    with pytest.raises(DamagedCheckpointError) as err:
        runner.train()
    message = str(err.value)
    assert f'cannot resume from checkpoint {named}: it is truncated or ' \
        'damaged' in message
    assert f'The newest complete checkpoint next to it is ' \
        f'{tmp_path / "iter_1.pth"}' in message


def test_resume_without_any_checkpoint_starts_afresh(tmp_path):
    previous = signal.getsignal(signal.SIGINT)
    runner = toy_runner(tmp_path, max_iters=1, resume=True)
    runner.train()
    assert f'--resume: no complete checkpoint in {tmp_path}; training ' \
        'starts from iteration 0' in read_log(runner)
    assert signal.getsignal(signal.SIGINT) is previous


class CtrlCAt(Hook):
    """Sends this process SIGINT during iteration ``at`` (1-based), as Ctrl-C would."""

    def __init__(self, at):
        self.at = at

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter + 1 == self.at:
            os.kill(os.getpid(), signal.SIGINT)


def test_ctrl_c_saves_at_the_iteration_boundary_and_stops(tmp_path):
    previous = signal.getsignal(signal.SIGINT)
    runner = toy_runner(tmp_path, max_iters=5, interval=100,
                        custom_hooks=[CtrlCAt(2)])
    runner.train()  # returns normally: tools/train.py exits 0
    assert runner.iter == 2
    path = tmp_path / 'iter_2.pth'
    assert checkpoints(tmp_path) == ['iter_2.pth']
    assert open(tmp_path / 'last_checkpoint').read() == str(path)
    assert load(path)['meta']['iter'] == 2
    assert f'Received SIGINT: saved {path} after iteration 2 and stopping ' \
        'training (exit status 0)' in read_log(runner)
    assert signal.getsignal(signal.SIGINT) is previous


# -------------------------------------------------------------- work_dir
def test_work_dir_through_a_file_fails_before_training(tmp_path):
    (tmp_path / 'file').write_text('')
    cfg = tiny_train_cfg(tmp_path / 'file' / 'run', 2)
    with pytest.raises(WorkDirError) as err:
        build_runner(cfg)
    assert f'work_dir {tmp_path / "file" / "run"} cannot be created: ' \
        'Not a directory' in str(err.value)


def test_unwritable_or_full_work_dir_fails_before_training(
        tmp_path, monkeypatch):
    def full(fd):
        raise OSError(errno.ENOSPC, 'No space left on device')

    monkeypatch.setattr(checkpoint_files.os, 'fsync', full)
    with pytest.raises(WorkDirError) as err:
        check_work_dir(str(tmp_path / 'run'))
    assert f'work_dir {tmp_path / "run"} is not writable: No space left on ' \
        'device' in str(err.value)
    assert os.listdir(tmp_path / 'run') == []  # no probe file left

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, 'Permission denied')

    monkeypatch.undo()
    monkeypatch.setattr(checkpoint_files.os, 'makedirs', denied)
    with pytest.raises(WorkDirError, match='cannot be created: Permission '
                       'denied'):
        check_work_dir(str(tmp_path / 'other'))


def test_too_little_free_space_for_a_checkpoint_fails_before_training(
        tmp_path, monkeypatch):
    runner = toy_runner(tmp_path)
    usage = coordgan_runner.shutil.disk_usage(str(tmp_path))
    monkeypatch.setattr(coordgan_runner.shutil, 'disk_usage',
                        lambda path: usage._replace(free=10))
    with pytest.raises(WorkDirError, match=r'has 0\.0 MiB free, but one '
                       r'checkpoint of this model needs about'):
        runner.train()
    assert runner.iter == 0


# ------------------------------------------------------ non-finite values
def nan_in(loss, phase, after=-1):
    """Make ``loss`` NaN in ``phase`` from iteration ``after + 1`` on."""
    weighted = loss.weighted

    def poisoned(p, step):
        value = weighted(p, step)
        if p == phase and int(step.iteration) > after:
            return value * float('nan')
        return value

    loss.weighted = poisoned


def test_nonfinite_d_loss_skips_the_d_update_and_is_counted():
    # No R1 in this iteration: the D update is then the D step's alone.
    model = MODELS.build(tiny_model_cfg(r1=None, patch_r1=None))
    wrappers = optim_wrappers(model)
    nan_in(model.losses['gan'], 'discriminator')
    d, g = snapshot(model.discriminator), snapshot(model.generator)
    log = model.train_step(fake_batch(), wrappers)
    assert log['skipped_nonfinite'] == 1
    assert 'loss_gan_d' not in log and 'd_loss' not in log
    for k, v in model.discriminator.state_dict().items():
        assert torch.equal(v, d[k]), k
    assert not wrappers['discriminator'].optimizer.state  # no Adam step
    assert all(p.grad is None for p in model.discriminator.parameters())
    # The G step was fine: G moved and the EMA followed it.
    assert any(not torch.equal(v, g[k])
               for k, v in model.generator.state_dict().items())
    assert int(model.generator_ema.steps) == 1
    step, problem = model.skipped_updates[0]
    assert step == 'discriminator'
    assert problem.startswith('non-finite loss loss_gan_d=nan')


def test_nonfinite_gradient_skips_the_g_update_and_the_ema():
    model = MODELS.build(tiny_model_cfg())
    wrappers = optim_wrappers(model)
    name, param = next(iter(model.generator.named_parameters()))
    param.register_hook(lambda grad: grad * float('inf'))
    g = snapshot(model.generator)
    log = model.train_step(fake_batch(), wrappers)
    assert log['skipped_nonfinite'] == 1
    assert torch.isfinite(log['g_loss'])  # the loss itself was finite
    for k, v in model.generator.state_dict().items():
        assert torch.equal(v, g[k]), k
    assert not wrappers['generator'].optimizer.state
    assert int(model.generator_ema.steps) == 0  # no EMA update either
    assert wrappers['discriminator'].optimizer.state  # D trained
    step, problem = model.skipped_updates[0]
    assert step == 'generator'
    assert problem == (f'non-finite gradients of generator.{name} '
                       '(losses finite)')


def test_nonfinite_encoder_loss_skips_the_encoder_update():
    from coordgan.registry import OPTIM_WRAPPER_CONSTRUCTORS
    from tiny_configs import tiny_model
    model = MODELS.build(tiny_model(dict(
        type='CoordGANInversion', encoder=dict(type='CoordGANEncoder'),
        generator=dict(type='CoordGANGenerator'),
        perceptual=dict(type='LPIPS', net='squeeze'),
        losses=dict(rec_lpips=None, texture_swap=None))))
    wrapper = OPTIM_WRAPPER_CONSTRUCTORS.build(dict(
        type='GANOptimWrapperConstructor',
        optim_wrapper_cfg=dict(encoder=dict(
            modules=['encoder'], optimizer=dict(type='Adam', lr=0.01)))))(
                model)
    nan_in(model.losses['rec_l1'], 'encoder')
    before = snapshot(model.encoder)
    log = model.train_step(fake_batch(), wrapper)
    assert log['skipped_nonfinite'] == 1
    assert 'loss_rec_l1' not in log
    for k, v in model.encoder.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert int(model.iteration) == 1
    assert model.last_nonfinite.startswith(
        'iteration 1, encoder step: non-finite loss loss_rec_l1=nan')


def test_nonfinite_iterations_in_a_row_stop_the_run(tmp_path):
    cfg = light_train_cfg(tmp_path, 10)
    cfg.default_hooks.nonfinite.max_consecutive = 3
    previous = signal.getsignal(signal.SIGTERM)
    runner = build_runner(cfg)
    nan_in(runner.model.losses['gan'], 'discriminator', after=1)
    with pytest.raises(NonFiniteLossError) as err:
        runner.train()
    message = str(err.value)
    assert message.startswith(
        'Training stopped at iteration 5: 3 iterations in a row had '
        'non-finite losses or gradients, and their updates were skipped '
        '(last: iteration 5, discriminator step: non-finite loss '
        'loss_gan_d=nan')
    assert f'The newest checkpoint saved before them is ' \
        f'{tmp_path / "iter_2.pth"}' in message
    assert 'default_hooks.nonfinite.max_consecutive=3' in message
    assert runner.iter == 4  # iteration 5 was not completed, nor saved
    assert checkpoints(tmp_path) == ['iter_2.pth', 'iter_4.pth']
    assert runner.message_hub.get_info('skipped_nonfinite') == 3
    log = read_log(runner)
    assert 'Skipped the discriminator update of iteration 3: non-finite ' \
        'loss loss_gan_d=nan' in log
    assert re.search(r"Iter\(train\) \[ ?4/10\].*skipped_nonfinite: 2", log)
    assert message in log
    # The preemption hook gave the signal handlers back, error or not.
    assert signal.getsignal(signal.SIGTERM) is previous
