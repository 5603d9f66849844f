"""benchmarks/encoder_step.py: both forms built and timed alike, the stage-1 config refused, the CLI."""
import importlib.util
import json
import os.path as osp

import pytest

from helpers import SYNTHETIC_CONFIG

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.join(ROOT, 'benchmarks', 'encoder_step.py')


def load_script():
    spec = importlib.util.spec_from_file_location('bench_encoder_step',
                                                  SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = load_script()


def test_each_form_builds_its_modulated_convs():
    from coordgan.models.layers import ModulatedConv2d
    args = bench.parse_args([])
    for form, flag in (('shared', False), ('fused', True)):
        model, wrappers, batch_size = bench.build(args, form)
        flags = {m.fused for m in model.generator.modules()
                 if isinstance(m, ModulatedConv2d)}
        assert flags == {flag}
        assert list(wrappers.keys()) == ['encoder']
        assert batch_size == 4  # the config's
        assert not any(p.requires_grad for p in model.generator.parameters())


def test_run_times_both_forms_in_rounds_and_writes_json(tmp_path, capsys,
                                                        monkeypatch):
    from coordgan.models import CoordGANInversion
    forms = []  # the form of every train_step call, in order
    step = CoordGANInversion.train_step

    def recording(model, *args, **kwargs):
        forms.append(model.generator.synthesis.conv1.conv.fused)
        return step(model, *args, **kwargs)

    monkeypatch.setattr(CoordGANInversion, 'train_step', recording)
    out = tmp_path / 'enc.json'
    bench.main(['--rounds', '2', '--steps', '2', '--warmup', '1', '--batch',
                '2', '--json', str(out)])
    # Warm-up of each form, then rounds that alternate the forms, shared
    # first, each round --steps steps of one form.
    assert forms == [False, True] + [False, False, True, True] * 2
    report = json.loads(out.read_text())
    assert report['batch'] == 2
    for form in ('shared', 'fused'):
        assert len(report['rounds_s'][form]) == 2
        assert all(t > 0 for t in report['rounds_s'][form])
    printed = capsys.readouterr().out
    assert 'fused / shared' in printed and 'encoder step' in printed


def test_a_stage1_config_is_refused_with_the_other_script():
    args = bench.parse_args(['--config', SYNTHETIC_CONFIG])
    with pytest.raises(ValueError, match='train_step.py --fused-modconv'):
        bench.build(args, 'shared')
    with pytest.raises(SystemExit):
        bench.parse_args(['--rounds', '0'])
