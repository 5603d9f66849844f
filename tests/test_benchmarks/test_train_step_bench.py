"""benchmarks/train_step.py at a tiny width: variants, the timed step, the phase ranges, the CLI."""
import importlib.util
import json
import os.path as osp
import subprocess
import sys

import pytest
import torch

from helpers import SYNTHETIC_CONFIG

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.join(ROOT, 'benchmarks', 'train_step.py')
TINY = ['--config', SYNTHETIC_CONFIG, '--width', '0.0625', '--device', 'cpu']


def load_script():
    spec = importlib.util.spec_from_file_location('bench_train_step', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = load_script()


def test_flags_name_the_variants_and_bad_tokens_are_refused():
    args = bench.parse_args(['--amp', 'bf16', '--compile', '--warp', 'dense'])
    assert bench.variants_from_flags(args) == [
        'fp32', 'bf16', 'bf16+compile', 'fp32+dense', 'bf16+dense',
        'bf16+compile+dense']
    args = bench.parse_args(['--variants', 'compile+fp16', 'channels-last'])
    assert bench.variants_from_flags(args) == ['fp16+compile',
                                               'fp32+channels-last']
    args = bench.parse_args(['--fused-modconv'])
    assert bench.variants_from_flags(args) == ['fp32', 'fp32+fused-modconv']
    with pytest.raises(ValueError, match='tokens are one of'):
        bench.parse_variant('bf16+fp16')
    with pytest.raises(ValueError, match='tokens are one of'):
        bench.parse_variant('fp32+sparse')


def test_model_config_scales_widths_and_selects_the_dense_losses():
    args = bench.parse_args(TINY)
    _, plain = bench.model_config(args, bench.parse_variant('fp32'))
    _, dense = bench.model_config(
        args, bench.parse_variant('fp32+dense+dense-chamfer'))
    assert plain['generator']['channels'] == 4  # 64 / 16
    assert plain['generator']['warper']['hidden_channels'] == (8, 8)
    assert plain['discriminator']['channel_scale'] == pytest.approx(1 / 128)
    assert plain['perceptual']['random_backbone'] is True
    assert plain['losses']['warp'].get('implementation',
                                       'chunked') == 'chunked'
    assert dense['losses']['warp']['implementation'] == 'dense'
    assert dense['losses']['chamfer']['implementation'] == 'dense'
    _, fused = bench.model_config(args,
                                  bench.parse_variant('fp32+fused-modconv'))
    assert 'fused_modconv' not in plain['generator']  # the default form
    assert fused['generator']['fused_modconv'] is True


def test_measure_times_steps_and_profiles_every_phase():
    args = bench.parse_args(TINY + ['--repeats', '1', '--warmup', '1',
                                    '--breakdown-iters', '2'])
    result = bench.measure(args, bench.parse_variant('fp32'))
    assert result['r1_interval'] == 16
    assert len(result['times_s']) == 1 and result['s_per_it'] > 0
    assert 'r1_step_s' in result and result['peak_mib'] > 0
    calls = {row['phase']: row['calls'] for row in result['breakdown']}
    # Two profiled iterations, the first with the lazy R1 of both Ds.
    for phase in ('discriminator_step', 'generator_step', 'g_update',
                  'generator_forward', 'loss_warp', 'loss_chamfer',
                  'loss_gan_d', 'ema'):
        assert calls[phase] == 2, phase
    assert calls['loss_r1'] == calls['loss_patch_r1'] == 1
    assert calls['regularizer_update'] == 1


def test_cli_writes_json_and_a_table(tmp_path):
    out = tmp_path / 'report.json'
    proc = subprocess.run(
        [sys.executable, SCRIPT, *TINY, '--repeats', '1', '--warmup', '1',
         '--json', str(out)], cwd=ROOT, capture_output=True, text=True,
        timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text())
    fp32 = report['variants']['fp32']
    assert 'error' not in fp32, fp32
    assert fp32['batch'] == 4  # the synthetic config's batch_size
    assert len(fp32['times_s']) == 1
    assert '| fp32 ' in proc.stdout


def test_bf16_on_the_cpu_autocasts_the_steps_but_not_r1():
    args = bench.parse_args(TINY)
    model, wrappers = bench.build(args, bench.parse_variant('bf16'),
                                  torch.device('cpu'))
    seen = []
    model.discriminator.register_forward_hook(
        lambda m, inputs, out: seen.append((inputs[0].is_leaf and
                                            inputs[0].requires_grad,
                                            out.dtype)))
    model.iteration.fill_(16)  # R1 due
    model.train_step(bench.make_batch(model, 2), wrappers)
    assert (False, torch.bfloat16) in seen  # D and G steps
    assert (True, torch.float32) in seen  # R1
    with pytest.raises(RuntimeError, match='fp16 with loss scaling needs'):
        bench.build(args, bench.parse_variant('fp16'), torch.device('cpu'))


def test_batch_search_doubles_then_bisects_and_stops_on_errors(monkeypatch):
    tried = []

    def fake_child(args, spec, mode, batch=None, env=None):
        tried.append(batch)
        if batch == 40:
            return dict(error='exit 1: ImportError')
        return dict(fits=batch <= 22, peak_mib=float(batch), error=None)

    monkeypatch.setattr(bench, 'run_child', fake_child)
    args = bench.parse_args(TINY + ['--max-batch-budget-gib', '1'])
    result = bench.search_max_batch(args, 'fp32')
    assert tried == [2, 4, 8, 16, 32, 24, 20, 22]
    assert (result['max_batch'], result['first_failing'],
            result['stopped']) == (22, 24, 'bracket')
    tried.clear()
    args = bench.parse_args(TINY + ['--max-batch-budget-gib', '1',
                                    '--batch-start', '10', '--batch-step',
                                    '8', '--max-batch-cap', '64'])
    result = bench.search_max_batch(args, 'fp32')
    assert tried == [10, 20, 40]
    assert (result['max_batch'], result['stopped']) == (20, 'error')


def test_batch_search_resolves_a_small_maximum_below_the_start(monkeypatch):
    tried = []

    def fake_child(args, spec, mode, batch=None, env=None):
        tried.append(batch)
        return dict(fits=batch <= 6, peak_mib=float(batch), error=None)

    monkeypatch.setattr(bench, 'run_child', fake_child)
    args = bench.parse_args(TINY + ['--max-batch-budget-gib', '1',
                                    '--batch-start', '16', '--batch-step',
                                    '8'])
    result = bench.search_max_batch(args, 'fp32+dense')
    assert tried == [16, 8, 4, 6]
    assert (result['max_batch'], result['first_failing']) == (6, 8)
