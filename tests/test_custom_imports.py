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
