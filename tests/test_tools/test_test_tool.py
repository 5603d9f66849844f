"""tools/test.py and the Table-1 tool end to end on tiny networks and a few synthetic images."""
import json
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest

from helpers import (benchmark_items, propagation_scores_by_hand,
                     tiny_labelprop_config)

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))


def run_tool(script, *args, launcher=None):
    cmd = [sys.executable, osp.join(ROOT, 'tools', script), *args]
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


def scores_by_hand(config, ckpt):
    """(paper IoU, mIoU) of propagate_mask's masks for every reference-query pair of the config's test set."""
    from coordgan.apis import init_model
    return propagation_scores_by_hand(init_model(config, ckpt), config)


def copy_scores_by_hand(config):
    """(paper IoU, mIoU) when every query gets each reference's own mask."""
    from metric_references import brute_force_metrics
    dataset, _, masks = benchmark_items(config)
    pairs = [(masks[r], masks[q], r) for r in dataset.reference_indices
             for q in dataset.query_indices]
    return brute_force_metrics(pairs, len(dataset.metainfo['classes']))


@pytest.fixture(scope='module')
def benchmark(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('bench')
    return (tmp, ) + tiny_labelprop_config(tmp, num_samples=9, img_size=16)


def test_test_tool_prints_the_table_and_writes_json_and_pictures(benchmark):
    tmp, config, ckpt, _ = benchmark
    out = tmp / 'res.json'
    proc = run_tool('test.py', config, ckpt, '--out', str(out), '--show-dir',
                    str(tmp / 'vis'), '--work-dir', str(tmp / 'work'))
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = proc.stdout
    assert '5 references x 4 queries of synthetic parts' in text
    for name in ('CoordGAN', 'IoU (paper)', 'mIoU', 'match error (px)',
                 'PCK@0.05', 'match slope', 'query img/s', 'left_eye'):
        assert name in text
    assert 'query images/s' in proc.stdout + proc.stderr  # the speed log
    res = json.loads(out.read_text())
    assert res['method'] == 'CoordGAN' and res['dataset'] == 'synthetic parts'
    assert res['references'] == [0, 1, 2, 3, 4] and res['num_queries'] == 4
    metrics = res['metrics']
    assert metrics['propagation/num_pairs'] == 20
    assert metrics['correspondence/num_pairs'] == 20
    # The scores are those of this checkpoint's predictions: the same
    # propagation through the API, scored by brute force. (The tiny network
    # predicts background everywhere, so its paper IoU is 0; the copy row of
    # the table below has parts to score.)
    paper, standard = scores_by_hand(config, ckpt)
    assert metrics['propagation/IoU'] == pytest.approx(paper)
    assert metrics['propagation/mIoU'] == pytest.approx(standard)
    pictures = sorted(p.name for p in (tmp / 'vis').iterdir())
    assert pictures == ['captions.txt'] + [f'query_{i}.png'
                                           for i in range(5, 9)]

    # Two ranks split the queries; the gathered metrics are the same.
    dist_out = tmp / 'dist.json'
    proc = run_tool('test.py', config, ckpt, '--out', str(dist_out),
                    '--work-dir', str(tmp / 'work_dist'), launcher='pytorch')
    assert proc.returncode == 0, proc.stderr[-3000:]
    dist = json.loads(dist_out.read_text())['metrics']
    for key, value in metrics.items():
        if not key.startswith('speed/'):
            assert dist[key] == pytest.approx(value, nan_ok=True), key

    # The comparison tool: one table from result files and a config it runs.
    copy_cfg = tmp / 'copy.py'
    from mmengine import Config
    cfg = Config.fromfile(config)
    cfg.model.extractor = dict(type='CopyReferenceMask', input_size=16)
    cfg.dump(str(copy_cfg))
    table_dir = tmp / 'table'
    proc = run_tool('analysis_tools/labelprop_table.py', str(out),
                    str(copy_cfg), '--out-dir', str(table_dir))
    assert proc.returncode == 0, proc.stderr[-3000:]
    md = (table_dir / 'labelprop_table.md').read_text().splitlines()
    assert md[0].startswith('| method | synthetic parts IoU | synthetic '
                            'parts mIoU | synthetic parts match error (px)')
    assert md[2].startswith(f'| CoordGAN | {metrics["propagation/IoU"]:.2f}')
    assert md[3].startswith('| copy reference mask (identity match) |')
    copy_paper, copy_standard = copy_scores_by_hand(config)
    assert 0 < copy_paper < 100
    assert md[3].startswith('| copy reference mask (identity match) | '
                            f'{copy_paper:.2f} | {copy_standard:.2f} |')
    table = json.loads((table_dir / 'labelprop_table.json').read_text())
    assert table['table']['CoordGAN']['synthetic parts'] == metrics


def test_test_tool_rejects_wrong_checkpoints_and_configs(benchmark):
    tmp, config, _, stage1 = benchmark
    proc = run_tool('test.py', config, stage1, '--work-dir',
                    str(tmp / 'w1'))
    assert proc.returncode != 0
    # Said at start-up, naming the file and both stages.
    assert f'{stage1} is a CoordGAN stage-1 checkpoint' in proc.stderr
    assert 'needs an encoder-stage checkpoint' in proc.stderr
    assert 'Traceback' not in proc.stderr
    proc = run_tool('test.py', config, '--work-dir', str(tmp / 'w2'))
    assert proc.returncode != 0
    assert 'no trained weights' in proc.stderr
    proc = run_tool('test.py', config, str(tmp / 'missing.pth'))
    assert proc.returncode != 0 and 'missing.pth' in proc.stderr
    proc = run_tool('test.py', 'configs/coordgan_synthetic.py')
    assert proc.returncode != 0
    assert 'no test_dataloader' in proc.stderr


def _tiny_stage1(tmp_path, **generator):
    """A tiny synthetic stage-1 config file and a checkpoint of a model whose generator takes ``generator`` overrides."""
    from mmengine import Config
    from mmengine.runner.checkpoint import save_checkpoint

    from coordgan.registry import MODELS
    from helpers import SYNTHETIC_CONFIG, tiny_model_cfg
    cfg = Config.fromfile(osp.join(ROOT, SYNTHETIC_CONFIG))
    cfg.model = tiny_model_cfg()
    cfg.train_dataloader.dataset.img_size = 16
    config = tmp_path / 'tiny.py'
    cfg.dump(str(config))
    trained = tiny_model_cfg()
    trained['generator'].update(generator)
    ckpt = tmp_path / 'tiny.pth'
    save_checkpoint(dict(state_dict=MODELS.build(trained).state_dict()),
                    str(ckpt))
    return str(config), str(ckpt)


def test_structure_spread_tool_prints_every_diagnostic(tmp_path):
    config, ckpt = _tiny_stage1(tmp_path)
    proc = run_tool('analysis_tools/structure_spread.py', config, ckpt,
                    '--num', '8', '--shift-px', '2')
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout
    for text in ('generator C^w spread over 8 structure codes',
                 'edge distance of a texture swap',
                 'C^w moved by 2 px', 'same-texture pairs carried',
                 'ratio generator / true'):
        assert text in lines, lines


def test_structure_spread_tool_takes_the_training_overrides(tmp_path):
    # Trained with --cfg-options model.generator.noise_inputs=False.
    config, ckpt = _tiny_stage1(tmp_path, noise_inputs=False)
    proc = run_tool('analysis_tools/structure_spread.py', config, ckpt,
                    '--num', '4')
    assert proc.returncode != 0 and 'noise' in proc.stderr
    proc = run_tool('analysis_tools/structure_spread.py', config, ckpt,
                    '--num', '4', '--cfg-options',
                    'model.generator.noise_inputs=False')
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'ratio generator / true' in proc.stdout
