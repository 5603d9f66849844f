import pytest
import torch.nn as nn
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import DefaultScope

import coordgan.models  # noqa: F401  registers every network
from coordgan.models import (BaseCorrespondence, BaseDiscriminator,
                             BaseEncoder, BaseGenerator, BaseWarper)
from coordgan.registry import (DISCRIMINATORS, ENCODERS, FEATURE_EXTRACTORS,
                               GENERATORS, MODELS, PLUGIN_KINDS, WARPERS,
                               UnknownScopeError,
                               UnknownTypeError, check_scope,
                               init_default_scope)
from tiny_configs import TINY_KWARGS, tiny

BASES = {WARPERS: BaseWarper, GENERATORS: BaseGenerator,
         DISCRIMINATORS: BaseDiscriminator, ENCODERS: BaseEncoder,
         FEATURE_EXTRACTORS: BaseCorrespondence}


def all_registered():
    for kind, registry in PLUGIN_KINDS.items():
        for name in registry.registered_names():
            yield kind, registry, name


def test_every_registered_network_has_tiny_sizes():
    names = {name for _, _, name in all_registered()}
    assert names == set(TINY_KWARGS), (
        'add tiny sizes for new types in tests/tiny_configs.py')


@pytest.mark.parametrize('kind,registry,name', list(all_registered()))
def test_every_registered_name_builds_from_a_dict(kind, registry, name):
    module = registry.build(tiny(dict(type=name)))
    assert isinstance(module, nn.Module)
    assert isinstance(module, BASES.get(registry, nn.Module))
    # The Runner builds from mmengine's root registry under our scope.
    with DefaultScope.overwrite_default_scope('coordgan'):
        assert type(MMENGINE_MODELS.build(tiny(dict(type=name)))) is type(
            module)


def test_kind_registries_are_children_of_mmengines():
    assert MODELS.parent is MMENGINE_MODELS
    for registry in PLUGIN_KINDS.values():
        assert registry.parent is MODELS


def test_unknown_type_names_kind_registered_names_and_closest_match():
    with pytest.raises(UnknownTypeError) as info:
        WARPERS.build(dict(type='MLPWarpr'))
    msg = str(info.value)
    assert "Unknown warper type 'MLPWarpr'" in msg
    assert 'coordgan::warper' in msg
    assert 'Registered warper types: MLPWarper' in msg
    assert "Did you mean 'MLPWarper'?" in msg
    assert 'custom_imports' in msg
    # Only the members of the kind are listed.
    assert 'StyleGAN2Discriminator' not in msg


def test_unknown_type_through_the_root_registry():
    with DefaultScope.overwrite_default_scope('coordgan'):
        with pytest.raises(KeyError, match="Did you mean 'CoordGANGenerator'"):
            MMENGINE_MODELS.build(dict(type='CoordGanGeneratr'))


def test_unknown_default_scope_is_an_error():
    with pytest.raises(UnknownScopeError, match="Did you mean 'coordgan'"):
        check_scope('coordgn')
    with pytest.raises(UnknownScopeError, match='coordgn'):
        init_default_scope('coordgn')
    with DefaultScope.overwrite_default_scope('coordgn'):
        with pytest.raises(UnknownScopeError, match='known scopes'):
            WARPERS.build(dict(type='MLPWarper', style_dim=4,
                               hidden_channels=(4,)))
    check_scope('coordgan')
    check_scope('mmengine')
