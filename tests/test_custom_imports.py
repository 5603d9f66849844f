"""A warper defined outside the package plugs in through ``custom_imports`` (docs/adding_a_warper.md)."""
import os.path as osp
import shutil
import sys

import pytest
import torch
from mmengine import Config

from coordgan.registry import GENERATORS, WARPERS
from tiny_configs import tiny

EXAMPLES = osp.join(osp.dirname(__file__), '..', 'docs', 'examples')


@pytest.fixture
def user_project(tmp_path, monkeypatch):
    """A copy of the docs' example project somewhere only sys.path knows about."""
    shutil.copytree(osp.join(EXAMPLES, 'my_project'), tmp_path / 'my_project')
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop('my_project.affine_warper', None)
    sys.modules.pop('my_project', None)
    WARPERS.module_dict.pop('AffineWarper', None)


def test_config_with_custom_imports_builds_the_users_warper(user_project):
    assert 'AffineWarper' not in WARPERS.module_dict
    cfg = Config.fromfile(osp.join(EXAMPLES, 'coordgan_affine-warper.py'))
    assert cfg.model.generator.warper == dict(type='AffineWarper')
    assert 'AffineWarper' in WARPERS.module_dict  # imported by fromfile

    gen = GENERATORS.build(tiny(cfg.model.generator))
    assert type(gen.warper).__name__ == 'AffineWarper'
    assert type(gen.warper).__module__ == 'my_project.affine_warper'
    z_s, z_t = gen.sample_codes(2)
    out = gen(z_s, z_t)
    assert out.corr_map.shape == (2, 2, 16, 16)
    # Initialised at the identity: tanh of the canonical grid.
    torch.testing.assert_close(out.corr_map,
                               torch.tanh(gen.grid).expand(2, -1, -1, -1))


def test_without_the_import_the_error_names_the_kind(user_project):
    with pytest.raises(KeyError, match='Unknown warper type .AffineWarper.'):
        WARPERS.build(dict(type='AffineWarper'))


@pytest.fixture
def user_loss(user_project):
    yield user_project
    sys.modules.pop('my_project.smoothness_loss', None)
    from coordgan.registry import LOSSES
    LOSSES.module_dict.pop('CorrSmoothnessLoss', None)


def test_a_users_loss_trains_through_custom_imports(user_loss):
    """One file + one config entry: the G step runs the new term, no model edit."""
    from coordgan.registry import LOSSES, MODELS
    from helpers import fake_batch, optim_wrappers, tiny_model_cfg
    assert 'CorrSmoothnessLoss' not in LOSSES.module_dict
    cfg = Config.fromfile(osp.join(EXAMPLES, 'coordgan_smoothness-loss.py'))
    assert 'CorrSmoothnessLoss' in LOSSES.module_dict  # imported by fromfile

    def build(with_user_loss):
        model_cfg = tiny_model_cfg()
        if with_user_loss:
            model_cfg['losses']['smoothness'] = cfg.model.losses.smoothness
        torch.manual_seed(0)
        return MODELS.build(model_cfg)

    model, plain = build(True), build(False)
    assert type(model.losses['smoothness']).__module__ == \
        'my_project.smoothness_loss'
    plain.load_state_dict(model.state_dict(), strict=False)
    # The term as logged equals its definition computed here on the G step's
    # correspondence maps (same codes: same random stream, same weights).
    seen = {}
    real_forward = model.generator.forward

    def spy(*args, **kwargs):
        out = real_forward(*args, **kwargs)
        if torch.is_grad_enabled():
            seen['corr'] = out.corr_map.detach()[:4]
        return out

    model.generator.forward = spy
    log = model.train_step(fake_batch(), optim_wrappers(model))
    corr = seen['corr']
    expected = 10.0 * (
        ((corr[..., :, 1:] - corr[..., :, :-1])**2).mean() +
        ((corr[..., 1:, :] - corr[..., :-1, :])**2).mean())
    torch.testing.assert_close(log['loss_smoothness'], expected)
    # ... and it changes what G learns.
    plain.train_step(fake_batch(), optim_wrappers(plain))
    warper = dict(model.generator.warper.named_parameters())
    assert any(not torch.equal(p, warper[name])
               for name, p in plain.generator.warper.named_parameters())
