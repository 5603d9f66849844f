"""Default-size parameter counts against REFERENCE.md's layer lists, counted by hand here.

Conventions (REFERENCE.md 1b): an equalised linear has in*out + out
parameters; a conv layer has in*out*k*k weights plus one bias per output
channel (held by the conv or by its activation), none for the bias-free skip;
a modulated conv has out*in*k*k weights plus its style affine
(style_dim*in + in); a styled conv adds the noise scalar and out biases; a
ToRGB adds a (1, 3, 1, 1) bias.
"""
import pytest

from coordgan.registry import DISCRIMINATORS, ENCODERS, GENERATORS


def count(module):
    return sum(p.numel() for p in module.parameters())


def linear(i, o):
    return i * o + o


def conv(i, o, k, bias=True):
    return i * o * k * k + (o if bias else 0)


def resblock(i, o):
    return conv(i, i, 3) + conv(i, o, 3) + conv(i, o, 1, bias=False)


def modconv(i, o, k, style=512):
    return o * i * k * k + linear(style, i)


def styled(i, o):
    return modconv(i, o, 3) + 1 + o


def to_rgb(i):
    return modconv(i, 3, 1) + 3


MAPPING = 8 * linear(512, 512)
WARPER = linear(514, 512) + linear(512, 512) + linear(512, 2)
FOURIER = 2 * 512 + 512
SYNTHESIS_128 = (styled(512, 512) + to_rgb(514) +
                 5 * (2 * styled(514, 512) + to_rgb(514)))
UPSAMPLING_512 = (styled(514, 128) + styled(128, 128) + to_rgb(128) +
                  styled(128, 64) + styled(64, 64) + to_rgb(64))


@pytest.fixture(scope='module')
def generator_512():
    return GENERATORS.build(dict(type='CoordGANGenerator', out_size=512))


def test_generator_128_sub_networks():
    g = GENERATORS.build(dict(type='CoordGANGenerator'))
    assert count(g.structure_mapping) == MAPPING == 2_101_248
    assert count(g.texture_mapping) == MAPPING
    assert count(g.warper) == WARPER
    assert count(g.synthesis.fourier) == FOURIER
    assert count(g.synthesis) == FOURIER + SYNTHESIS_128
    assert count(g) == 2 * MAPPING + WARPER + FOURIER + SYNTHESIS_128
    assert len(g.synthesis.convs) + 1 == 11  # modulated convs
    assert len(g.synthesis.to_rgbs) + 1 == 6


def test_generator_512_adds_two_upsampling_blocks(generator_512):
    assert count(generator_512.synthesis) == (FOURIER + SYNTHESIS_128 +
                                              UPSAMPLING_512)


def test_generator_without_structure_modulation():
    g = GENERATORS.build(
        dict(type='CoordGANGenerator', structure_modulation='fourier'))
    expected = (styled(512, 512) + to_rgb(512) +
                5 * (2 * styled(512, 512) + to_rgb(512)))
    assert count(g.synthesis) == FOURIER + expected


def image_discriminator(size):
    ch = {4: 512, 8: 512, 16: 512, 32: 512, 64: 512, 128: 256, 256: 128,
          512: 64}
    total = conv(3, ch[size], 1)
    res = size
    while res > 4:
        total += resblock(ch[res], ch[res // 2])
        res //= 2
    return total + conv(513, 512, 3) + linear(512 * 16, 512) + linear(512, 1)


@pytest.mark.parametrize('size', [128, 256, 512])
def test_image_discriminator(size):
    d = DISCRIMINATORS.build(dict(type='StyleGAN2Discriminator',
                                  in_size=size))
    assert count(d) == image_discriminator(size)


def test_patch_discriminator():
    d = DISCRIMINATORS.build(dict(type='PatchCooccurrenceDiscriminator'))
    features = (conv(3, 64, 3) + resblock(64, 128) + resblock(128, 256) +
                resblock(256, 256) + conv(256, 256, 3))
    assert count(d.encoder) == features
    assert d.feature_dim == 2 * 2 * 256
    assert count(d.classifier) == linear(2048, 1024) + linear(1024, 1)


def test_encoder():
    e = ENCODERS.build(dict(type='CoordGANEncoder'))
    trunk = (conv(3, 32, 1) + resblock(32, 64) + resblock(64, 128) +
             resblock(128, 256) + resblock(256, 512))
    structure = conv(512, 512, 1) + conv(512, 64, 1) + linear(4096, 512)
    texture = conv(512, 1024, 3) + conv(1024, 2048, 3) + 12 * linear(2048, 512)
    assert count(e.trunk) == trunk
    assert count(e.structure_head) == structure
    assert count(e.texture_trunk) + count(e.texture_heads) == texture
    assert count(e) == trunk + structure + texture
