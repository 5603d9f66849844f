import pytest
import torch

from coordgan.registry import ENCODERS, GENERATORS


def test_encoder_codes_feed_the_generator():
    enc = ENCODERS.build(dict(type='CoordGANEncoder', in_size=32, style_dim=16,
                              num_latents=6, stem_channels=8,
                              channels=(8, 8), structure_channels=4,
                              texture_channels=(8, 8)))
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
    w_s, w_plus = enc(torch.randn(1, 3, 128, 128))
    assert w_s.shape == (1, 512) and w_plus.shape == (1, 12, 512)
    with pytest.raises(ValueError, match='expects'):
        enc(torch.randn(1, 3, 64, 64))
    with pytest.raises(ValueError, match='divisible'):
        ENCODERS.build(dict(type='CoordGANEncoder', in_size=100))
    with pytest.raises(ValueError, match='too small'):
        ENCODERS.build(dict(type='CoordGANEncoder', in_size=64))
