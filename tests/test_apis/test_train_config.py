import pytest
from mmengine import Config

from coordgan.apis import prepare_train_config
from coordgan.registry import UnknownScopeError


def cfg():
    return Config.fromfile('configs/coordgan_synthetic.py')


def test_amp_switches_every_optimizer_wrapper():
    out = prepare_train_config(cfg(), work_dir='w', amp=True)
    for name in ('generator', 'discriminator'):
        assert out.optim_wrapper[name]['type'] == 'AmpOptimWrapper'
        assert out.optim_wrapper[name]['loss_scale'] == 'dynamic'
    assert out.work_dir == 'w'


def test_resume_modes():
    auto = prepare_train_config(cfg(), 'w', resume='auto')
    assert auto.resume is True and auto.load_from is None
    path = prepare_train_config(cfg(), 'w', resume='w/iter_10.pth')
    assert path.resume is True and path.load_from == 'w/iter_10.pth'
    none = prepare_train_config(cfg(), 'w')
    assert none.resume is False


def test_unknown_default_scope_stops_before_training():
    bad = cfg()
    bad.default_scope = 'coordgn'
    with pytest.raises(UnknownScopeError, match="Did you mean 'coordgan'"):
        prepare_train_config(bad, 'w')
