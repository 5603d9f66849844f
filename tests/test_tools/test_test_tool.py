"""tools/test.py end to end on tiny networks and a few synthetic images."""
import json
import os
import socket
import os.path as osp
import subprocess
import sys

import pytest
from mmengine import Config
from mmengine.runner.checkpoint import save_checkpoint

from coordgan.registry import MODELS
from helpers import tiny_model_cfg
from tiny_configs import tiny_model

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))


def tiny_benchmark(tmp_path):
    """A tiny encoder-stage checkpoint and a config running the benchmark on 9 synthetic items."""
    cfg = Config.fromfile(osp.join(ROOT, 'configs',
                                   'coordgan-encoder_synthetic.py'))
    stage1 = MODELS.build(tiny_model_cfg())
    s1 = str(tmp_path / 'stage1.pth')
    save_checkpoint(dict(state_dict=stage1.state_dict()), s1)
    model_cfg = tiny_model(cfg.model.to_dict())
    model_cfg['generator_checkpoint'] = s1
    cfg.model = model_cfg
    inversion = MODELS.build(model_cfg)
    ckpt = str(tmp_path / 'encoder.pth')
    save_checkpoint(dict(state_dict=inversion.state_dict()), ckpt)
    for m in [cfg.propagation.method] + cfg.propagation.baselines:
        m.input_size = 16
    cfg.propagation.dataset.num_samples = 9
    cfg.propagation.dataset.img_size = 32
    config = str(tmp_path / 'cfg.py')
    cfg.dump(config)
    return config, ckpt


def run_tool(*args, launcher=None):
    cmd = [sys.executable, osp.join(ROOT, 'tools', 'test.py'), *args]
    if launcher:
        with socket.socket() as s:
            s.bind(('127.0.0.1', 0))
            port = s.getsockname()[1]
        cmd = [sys.executable, '-m', 'torch.distributed.run',
               '--nproc_per_node=2', f'--master_port={port}', *cmd[1:],
               '--launcher', launcher]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                          timeout=300,
                          env=dict(os.environ, PYTHONPATH=ROOT,
                                   OMP_NUM_THREADS='1'))


def test_test_tool_prints_the_table_and_writes_json_and_pictures(tmp_path):
    config, ckpt = tiny_benchmark(tmp_path)
    out = tmp_path / 'res.json'
    proc = run_tool(config, ckpt, '--out', str(out), '--show-dir',
                    str(tmp_path / 'vis'))
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = proc.stdout
    assert '5 references x 4 queries' in text
    for name in ('CoordGANCorrespondence', 'CopyReferenceMask',
                 'RawPixelNearestNeighbour', 'IoU (paper)', 'mIoU',
                 'left_eye'):
        assert name in text
    res = json.loads(out.read_text())
    assert set(res['results']) == {'CoordGANCorrespondence',
                                   'CopyReferenceMask',
                                   'RawPixelNearestNeighbour'}
    for r in res['results'].values():
        assert 0 <= r['propagation/IoU'] <= 100
        assert r['propagation/num_pairs'] == 20
    assert len(list((tmp_path / 'vis').iterdir())) == 4

    # Two ranks split the queries; the gathered metrics are the same.
    dist_out = tmp_path / 'dist.json'
    proc = run_tool(config, ckpt, '--out', str(dist_out), launcher='pytorch')
    assert proc.returncode == 0, proc.stderr[-3000:]
    dist = json.loads(dist_out.read_text())['results']
    for name, r in res['results'].items():
        for key, value in r.items():
            if key != 'seconds' and not key.endswith('/num_pairs'):
                assert dist[name][key] == pytest.approx(value, nan_ok=True)
        assert dist[name]['propagation/num_pairs'] == 20


def test_test_tool_rejects_a_stage1_checkpoint(tmp_path):
    config, _ = tiny_benchmark(tmp_path)
    proc = run_tool(config, str(tmp_path / 'stage1.pth'))
    assert proc.returncode != 0
    assert 'no encoder.* weights' in proc.stderr
