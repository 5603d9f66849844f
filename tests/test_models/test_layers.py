import math

import pytest
import torch
import torch.nn.functional as F

import layer_references as ref

from coordgan.models.layers import (ConvLayer, EqualConv2d, EqualLinear,
                                    FourierFeatures, MappingNetwork,
                                    NoiseInjection, ResBlock, StyledConv,
                                    ToRGB)


def test_equal_linear_runtime_scale_and_lr_mul():
    layer = EqualLinear(4, 3, bias_init=1.0, lr_mul=0.01)
    x = torch.randn(2, 4)
    expected = F.linear(x, layer.weight * 0.01 / 2, layer.bias * 0.01)
    torch.testing.assert_close(layer(x), expected)
    # Stored weights are N(0, 1) / lr_mul so the effective init is N(0, 1/in).
    big = EqualLinear(512, 512, lr_mul=0.01)
    assert 90 < big.weight.std() < 110


def test_linear_with_activation():
    layer = EqualLinear(4, 3, activation=True)
    layer.bias.data.normal_()
    x = torch.randn(2, 4)
    pre = F.linear(x, layer.weight / 2) + layer.bias
    torch.testing.assert_close(layer(x), F.leaky_relu(pre, 0.2) * math.sqrt(2))


def test_conv_layer_bias_lives_in_the_activation():
    act = ConvLayer(3, 5, 3)
    assert act[0].bias is None and act[1].bias.shape == (5,)
    plain = ConvLayer(3, 5, 1, activate=False, bias=False)
    assert plain[0].bias is None and len(plain) == 1
    x = torch.randn(1, 3, 8, 8)
    assert ConvLayer(3, 5, 3, downsample=True)(x).shape == (1, 5, 4, 4)
    reflect = ConvLayer(3, 5, 3, padding_mode='reflect')
    assert isinstance(reflect[0], torch.nn.ReflectionPad2d)
    assert reflect(x).shape == (1, 5, 8, 8)


def test_equal_conv_scale():
    conv = EqualConv2d(3, 2, 3, padding=1)
    x = torch.randn(1, 3, 5, 5)
    torch.testing.assert_close(
        conv(x), F.conv2d(x, conv.weight / math.sqrt(3 * 3 * 3), conv.bias,
                         padding=1))


def test_resblock_halves_resolution():
    block = ResBlock(4, 6)
    assert block(torch.randn(2, 4, 16, 16)).shape == (2, 6, 8, 8)
    enc_block = ResBlock(4, 6, blur_kernel=(1, 2, 1), padding_mode='reflect')
    assert enc_block(torch.randn(2, 4, 16, 16)).shape == (2, 6, 8, 8)


@pytest.mark.parametrize('skip_mode', ['zeros', 'reflect'])
def test_encoder_resblock_matches_brute_force(skip_mode):
    block = ResBlock(3, 5, blur_kernel=(1, 2, 1), padding_mode='reflect',
                     skip_padding_mode=skip_mode)
    block = ref.randomize_(block.double())
    x = torch.randn(2, 3, 8, 6, dtype=torch.float64)  # not square on purpose
    expected = ref.res_block(x, **ref.res_block_of(block), skip_mode=skip_mode)
    assert expected.shape == (2, 5, 4, 3)
    torch.testing.assert_close(block(x), expected, rtol=1e-12, atol=1e-12)


def test_authors_resblock_pads_the_skip_with_zeros():
    # The default skip pad is the authors' zeros; the 'reflect' skip differs
    # from it only through the skip path (same weights, same main path).
    torch.manual_seed(1)
    authors = ResBlock(3, 5, (1, 2, 1), padding_mode='reflect').double()
    ref.randomize_(authors)
    legacy = ResBlock(3, 5, (1, 2, 1), padding_mode='reflect',
                      skip_padding_mode='reflect').double()
    legacy.load_state_dict(authors.state_dict())
    x = torch.randn(1, 3, 8, 8, dtype=torch.float64)
    torch.testing.assert_close(authors.conv2(authors.conv1(x)),
                               legacy.conv2(legacy.conv1(x)))
    diff = (authors.skip(x) - legacy.skip(x)).abs()
    # Only the top row and left column of the skip see the pad.
    assert diff[..., 0, :].min() > 0 and diff[..., :, 0].min() > 0
    torch.testing.assert_close(diff[..., 1:, 1:],
                               torch.zeros_like(diff[..., 1:, 1:]))


def test_conv_layer_strided_without_blur_and_one_sided_pad():
    layer = ref.randomize_(ConvLayer(3, 4, 3, downsample=True,
                                     blur_kernel=None,
                                     padding=(1, 0, 1, 0)).double())
    assert isinstance(layer[0], torch.nn.ZeroPad2d)
    x = torch.randn(2, 3, 6, 6, dtype=torch.float64)
    torch.testing.assert_close(
        layer(x), ref.texture_conv(x, layer[1].weight, layer[2].bias),
        rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match='downsampling blur'):
        ConvLayer(3, 4, 3, downsample=True, padding=1)
    with pytest.raises(ValueError, match='left, right'):
        ConvLayer(3, 4, 3, padding=(1, 0))
    with pytest.raises(ValueError, match='padding_mode'):
        ConvLayer(3, 4, 3, padding_mode='circular')


def test_noise_injection_starts_off_and_adds_fresh_noise():
    noise = NoiseInjection()
    x = torch.randn(2, 3, 4, 4)
    torch.testing.assert_close(noise(x), x)
    noise.weight.data.fill_(1.0)
    fixed = torch.ones(2, 1, 4, 4)
    torch.testing.assert_close(noise(x, fixed), x + 1)
    assert not torch.equal(noise(x), noise(x))


def test_styled_conv_and_to_rgb_shapes():
    w = torch.randn(2, 8)
    x = torch.randn(2, 4, 8, 8)
    assert StyledConv(4, 6, 3, 8)(x, w).shape == (2, 6, 8, 8)
    assert StyledConv(4, 6, 3, 8, upsample=True)(x, w).shape == (2, 6, 16, 16)
    rgb = ToRGB(4, 8)
    skip = torch.randn(2, 3, 8, 8)
    torch.testing.assert_close(rgb(x, w, skip), rgb(x, w) + skip)
    up = ToRGB(4, 8, upsample=True)
    assert up(torch.randn(2, 4, 16, 16), w, skip).shape == (2, 3, 16, 16)


def test_mapping_and_fourier_features():
    mapping = MappingNetwork(16, 8, num_layers=3)
    assert len(mapping) == 4
    assert mapping(torch.randn(5, 16)).shape == (5, 8)
    # PixelNorm makes the output invariant to the scale of z.
    z = torch.randn(2, 16)
    torch.testing.assert_close(mapping(z), mapping(3 * z))
    ff = FourierFeatures(2, 32)
    bound = math.sqrt(9 / 2)
    assert ff.proj.weight.abs().max() <= bound
    out = ff(torch.rand(1, 2, 4, 4))
    assert out.shape == (1, 32, 4, 4) and out.abs().max() <= 1
