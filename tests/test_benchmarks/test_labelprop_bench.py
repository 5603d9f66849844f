"""benchmarks/labelprop.py on the synthetic config: the sweeps, one measured setting, the CLI."""
import importlib.util
import json
import os.path as osp
import subprocess
import sys

import pytest
import torch

from coordgan.models.correspondence import base as correspondence_base
from coordgan.ops.distances import default_chunk_size

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.join(ROOT, 'benchmarks', 'labelprop.py')
CONFIG = 'configs/labelprop/coordgan_synthetic.py'


def load_script():
    spec = importlib.util.spec_from_file_location('bench_labelprop', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = load_script()


def test_sweeps_share_no_setting_and_chunk_sizes_parse():
    args = bench.parse_args(['--batch-sizes', '1', '4', '--chunk-sizes',
                             'auto', '256', '--chunk-batch', '4'])
    assert args.chunk_sizes == [None, 256]
    # (4, auto) is already in the batch sweep.
    assert bench.settings(args) == [('batch', 1, None), ('batch', 4, None),
                                    ('chunk', 4, 256)]
    with pytest.raises(SystemExit):
        bench.parse_args(['--chunk-sizes', '0'])


def test_extractor_chunk_size_reaches_the_ops_and_changes_no_result(
        monkeypatch):
    model, num_classes = bench.build_model(CONFIG, torch.device('cpu'))
    assert num_classes == 8  # SyntheticPartsDataset's classes
    model.set_references(bench.reference_batch(num_classes))
    queries = bench.query_images(2, 'cpu')
    seen = []
    # With matches, BaseCorrespondence runs both in one pass.
    name = 'soft_correspondence_with_matches'
    op = getattr(correspondence_base, name)
    monkeypatch.setattr(correspondence_base, name,
                        lambda *a: seen.append((name, a[-1])) or op(*a))
    default = model.predict(queries, with_matches=True)
    model.extractor.chunk_size = 7
    seen.clear()
    chunked = model.predict(queries, with_matches=True)
    assert set(seen) == {('soft_correspondence_with_matches', 7)}
    for a, b in zip(default, chunked):
        assert torch.equal(a['pred_seg_maps'], b['pred_seg_maps'])
        torch.testing.assert_close(a['pred_matches'], b['pred_matches'])


def test_one_setting_is_measured():
    result = bench.measure(CONFIG, batch=2, chunk=None, device='cpu',
                           repeats=1, warmup=0)
    positions = result['positions']  # of the C^w the config reads
    assert positions >= 32 * 32
    assert result['chunk_rows'] == min(
        positions, default_chunk_size(2, positions, torch.float32, 'cpu'))
    assert result['queries_per_s'] > 0 and len(result['times_s']) == 1
    assert result['peak_mib'] >= result['base_mib'] > 0
    assert 'random weights' in result['extractor']


def test_cli_runs_each_setting_in_a_child_and_writes_json(tmp_path):
    out = tmp_path / 'labelprop.json'
    proc = subprocess.run(
        [sys.executable, SCRIPT, '--configs', CONFIG, '--batch-sizes', '2',
         '--chunk-sizes', '64', '--chunk-batch', '2', '--repeats', '1',
         '--warmup', '0', '--no-matches', '--json', str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    [(sweep, result)] = report['results']
    assert sweep == 'batch' and 'error' not in result, result
    assert (result['batch'], result['chunk_rows']) == (2, 64)
    assert result['matches'] is False
    assert 'queries/s' in proc.stdout and CONFIG in proc.stdout
