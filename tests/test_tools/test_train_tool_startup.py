"""tools/train.py stops at start-up, with the message and no traceback, on a config typo and on a paper config without the LPIPS weights."""
import os
import os.path as osp
import subprocess
import sys

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))


def train_tool(tmp_path, *args):
    return subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'train.py'), *args,
         '--work-dir', str(tmp_path / 'work')],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1',
                 TORCH_HOME=str(tmp_path / 'torch')))


def test_misspelt_hook_key_stops_before_anything_runs(tmp_path):
    proc = train_tool(tmp_path, 'configs/coordgan_synthetic.py',
                      '--cfg-options', 'default_hooks.checkpoint.intervall=5',
                      'trian_cfg.max_iters=10')
    assert proc.returncode != 0
    assert 'Traceback' not in proc.stderr
    assert 'default_hooks.checkpoint.intervall: ' in proc.stderr
    assert ("CheckpointHook has no argument 'intervall'. Did you mean "
            "'interval'?") in proc.stderr
    assert "trian_cfg: not a key the Runner or coordgan reads (it would be " \
           "ignored). Did you mean 'train_cfg'?" in proc.stderr
    assert not (tmp_path / 'work').exists()


def test_paper_config_without_lpips_weights_stops_at_start_up(tmp_path):
    proc = train_tool(tmp_path, 'configs/coordgan_celeba.py')
    assert proc.returncode != 0
    assert 'Traceback' not in proc.stderr
    wanted = tmp_path / 'torch' / 'hub' / 'checkpoints' / 'vgg16-397923af.pth'
    assert ('MissingBackboneError: model.perceptual: LPIPS: the ImageNet vgg '
            f'weights are not at {wanted}') in proc.stderr
    assert '--cfg-options model.perceptual.allow_random_backbone=True' in \
        proc.stderr
    assert not (tmp_path / 'work').exists()
