import os.path as osp

import pytest
import torch
from mmengine import Config

import layer_references as ref
from coordgan.registry import ENCODERS, GENERATORS

MODEL_CONFIG = osp.join(osp.dirname(__file__), '..', '..', 'configs',
                        '_base_', 'models', 'coordgan_128.py')

SMALL = dict(type='CoordGANEncoder', in_size=32, style_dim=16, num_latents=6,
             stem_channels=8, channels=(8, 8), structure_channels=4,
             texture_channels=(8, 8))


def test_encoder_codes_feed_the_generator():
    enc = ENCODERS.build(SMALL)
    gen = GENERATORS.build(dict(type='CoordGANGenerator', out_size=32,
                                grid_size=32, z_dim=16, style_dim=16,
                                channels=8, num_blocks=2, mapping_layers=2))
    assert gen.num_latents == enc.num_latents == 6
    codes = enc(torch.randn(2, 3, 32, 32))
    assert codes.w_s.shape == (2, 16)
    assert codes.w_plus.shape == (2, 6, 16)
    out = gen.synthesize(*codes)
    assert out.image.shape == (2, 3, 32, 32)


def test_default_encoder_at_128():
    enc = ENCODERS.build(dict(type='CoordGANEncoder'))
    assert enc.padding_convention == 'authors'
    w_s, w_plus = enc(torch.randn(1, 3, 128, 128))
    assert w_s.shape == (1, 512) and w_plus.shape == (1, 12, 512)
    with pytest.raises(ValueError, match='expects'):
        enc(torch.randn(1, 3, 64, 64))
    with pytest.raises(ValueError, match='divisible'):
        ENCODERS.build(dict(type='CoordGANEncoder', in_size=100))
    with pytest.raises(ValueError, match='padding_convention'):
        ENCODERS.build(dict(type='CoordGANEncoder', padding_convention='x'))


def test_smallest_feature_map_per_convention():
    # The top-left zero pad needs texture-conv inputs >= 2 pixels: a 4x4
    # trunk output (2 texture convs) works, 2x2 does not.
    small = dict(SMALL, in_size=16)
    w_s, w_plus = ENCODERS.build(small)(torch.randn(1, 3, 16, 16))
    assert w_plus.shape == (1, 6, 16)
    with pytest.raises(ValueError, match='too small.*at least 4x4'):
        ENCODERS.build(dict(SMALL, in_size=8))
    # The reflection-padded blur keeps its bound (8x8 for two convs).
    with pytest.raises(ValueError, match='too small.*at least 8x8'):
        ENCODERS.build(dict(small, padding_convention='reflect'))
    with pytest.raises(ValueError, match='too small'):
        ENCODERS.build(dict(type='CoordGANEncoder', in_size=32))


def reference_encoder(enc, img):
    """The authors' encoder (REFERENCE.md 7) in plain torch ops with ``enc``'s weights."""
    p = dict(enc.named_parameters())
    h = ref.act(ref.equal_conv(img, p['trunk.0.0.weight']),
                p['trunk.0.1.bias'])
    for i in range(1, len(enc.trunk)):
        h = ref.res_block(h, **ref.res_block_of(enc.trunk[i]))
    s = ref.act(ref.equal_conv(h, p['structure_head.0.0.weight']),
                p['structure_head.0.1.bias'])
    # No activation follows, so this conv keeps its own bias.
    s = (ref.equal_conv(s, p['structure_head.1.0.weight']) +
         p['structure_head.1.0.bias'][None, :, None, None])
    s = s.flatten(1)
    w_s = (s @ (p['structure_head.3.weight'].T / s.shape[1]**0.5) +
           p['structure_head.3.bias'])
    t = h
    for i in range(len(enc.texture_trunk)):
        t = ref.texture_conv(t, p[f'texture_trunk.{i}.1.weight'],
                             p[f'texture_trunk.{i}.2.bias'])
    t = t.mean(dim=(2, 3))
    w_plus = torch.stack([
        t @ (head.weight.T / t.shape[1]**0.5) + head.bias
        for head in enc.texture_heads
    ], 1)
    return w_s, w_plus, h


def test_authors_encoder_matches_brute_force():
    enc = ref.randomize_(ENCODERS.build(SMALL).double())
    img = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    w_s, w_plus, feat = reference_encoder(enc, img)
    assert feat.shape == (2, 8, 8, 8)
    out = enc(img)
    torch.testing.assert_close(out.w_s, w_s, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(out.w_plus, w_plus, rtol=1e-12, atol=1e-12)


def test_texture_head_matches_brute_force():
    enc = ref.randomize_(ENCODERS.build(SMALL).double())
    feat = torch.randn(2, 8, 8, 8, dtype=torch.float64)
    expected = feat
    for layer in enc.texture_trunk:
        expected = ref.texture_conv(expected, layer[1].weight, layer[2].bias)
    assert expected.shape == (2, 8, 2, 2)
    torch.testing.assert_close(enc.texture_trunk(feat), expected,
                               rtol=1e-12, atol=1e-12)


def test_reflect_convention_is_the_earlier_network_with_the_same_weights():
    authors = ref.randomize_(ENCODERS.build(SMALL).double())
    legacy = ENCODERS.build(dict(SMALL, padding_convention='reflect')).double()
    # Same parameter names and shapes: checkpoints load into either.
    legacy.load_state_dict(authors.state_dict())
    img = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    # Skip path: the trunk blocks differ, through the skip only.
    x = torch.randn(2, 8, 16, 16, dtype=torch.float64)
    a_block, l_block = authors.trunk[1], legacy.trunk[1]
    torch.testing.assert_close(a_block.conv2(a_block.conv1(x)),
                               l_block.conv2(l_block.conv1(x)))
    assert not torch.allclose(a_block.skip(x), l_block.skip(x))
    torch.testing.assert_close(
        l_block(x),
        ref.res_block(x, **ref.res_block_of(l_block), skip_mode='reflect'))
    # Texture head: blurred with reflection vs unblurred with a top-left pad.
    feat = torch.randn(2, 8, 8, 8, dtype=torch.float64)
    assert not torch.allclose(authors.texture_trunk(feat),
                              legacy.texture_trunk(feat))
    assert not torch.allclose(authors(img).w_plus, legacy(img).w_plus)


def test_configured_encoder_is_the_authors():
    cfg = Config.fromfile(MODEL_CONFIG)
    assert cfg.encoder.padding_convention == 'authors'
