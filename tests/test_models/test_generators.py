import pytest
import torch

from coordgan.models import CoordGANGenerator, GeneratorOutput
from coordgan.ops import pair_swap
from coordgan.registry import GENERATORS

# Real grid (128) and output sizes, narrow widths: shapes are what is tested.
NARROW = dict(z_dim=16, style_dim=16, channels=8, num_blocks=5,
              mapping_layers=2, warper=dict(type='MLPWarper',
                                            hidden_channels=(16, 16)),
              upsample_channels=(8, 4))


def narrow(**kwargs):
    return GENERATORS.build(dict(type='CoordGANGenerator', **NARROW, **kwargs))


@pytest.mark.parametrize('size', [128, 512])
def test_shapes_and_ranges(size):
    g = narrow(out_size=size)
    z_s, z_t = g.sample_codes(2)
    with torch.no_grad():
        out = g(z_s, z_t)
    assert isinstance(out, GeneratorOutput)
    image, corr_map, aux = out  # unpacks like a tuple
    assert aux is None  # no backward warper
    assert image.shape == (2, 3, size, size)
    assert corr_map.shape == (2, 2, 128, 128)
    assert corr_map.min() >= -1 and corr_map.max() <= 1
    assert g.num_latents == {128: 12, 512: 16}[size]


def test_w_plus_has_twelve_slots_and_broadcast_equals_repeat():
    g = narrow()
    z_s, z_t = g.sample_codes(3)
    w_s, w_t = g.map_structure(z_s), g.map_texture(z_t)
    noise = [torch.randn(3, 1, 128, 128) for _ in range(11)]
    a = g.synthesize(w_s, w_t, noise)
    b = g.synthesize(w_s, w_t[:, None].repeat(1, 12, 1), noise)
    torch.testing.assert_close(a.image, b.image)
    with pytest.raises(ValueError, match='w_t must be'):
        g.synthesize(w_s, w_t[:, None].repeat(1, 11, 1))


def test_every_w_plus_slot_is_used():
    g = GENERATORS.build(dict(type='CoordGANGenerator', out_size=32,
                              grid_size=16, z_dim=8, style_dim=8, channels=8,
                              num_blocks=2, mapping_layers=1,
                              upsample_channels=(8,)))
    w_s = torch.randn(1, 8)
    w_plus = torch.randn(1, g.num_latents, 8, requires_grad=True)
    g.synthesize(w_s, w_plus).image.sum().backward()
    assert (w_plus.grad.abs().sum(dim=2) > 0).all()


def test_texture_code_does_not_change_the_correspondence_map():
    g = narrow()
    z_s, z_t = g.sample_codes(2)
    _, other_t = g.sample_codes(2)
    with torch.no_grad():
        a, b = g(z_s, z_t), g(z_s, other_t)
    assert torch.equal(a.corr_map, b.corr_map)
    assert not torch.allclose(a.image, b.image)


def test_swaps_recombine_codes_of_each_pair():
    g = narrow(out_size=128)
    z_s, z_t = g.sample_codes(4)
    noise = [torch.zeros(4, 1, 128, 128)] * 11
    with torch.no_grad():
        tex = g.texture_swap(z_s, z_t)
        struc = g.structure_swap(z_s, z_t)
        direct_tex = g.synthesize(g.map_structure(z_s),
                                  g.map_texture(pair_swap(z_t)), noise)
        direct_struc = g(pair_swap(z_s), z_t)
        base = g(z_s, z_t)
    assert torch.equal(tex.corr_map, base.corr_map)
    assert torch.equal(struc.corr_map, pair_swap(base.corr_map))
    assert torch.equal(struc.corr_map, direct_struc.corr_map)
    # Structure swap = texture swap with each pair flipped (REFERENCE.md 5).
    torch.testing.assert_close(
        g.synthesize(g.map_structure(pair_swap(z_s)), g.map_texture(z_t),
                     noise).image, pair_swap(direct_tex.image))


def test_structure_modulation_switch():
    concat = narrow(structure_modulation='concat')
    fourier = narrow(structure_modulation='fourier')
    assert concat.synthesis.convs[0].conv.weight.shape[1] == 8 + 2
    assert fourier.synthesis.convs[0].conv.weight.shape[1] == 8
    with pytest.raises(ValueError, match='structure_modulation'):
        narrow(structure_modulation='every-layer')


def test_generator_is_ema_friendly():
    # An EMA copy only averages parameters and copies buffers. Two generators
    # built with different seeds must become the same function once one
    # takes the other's parameters and buffers that way: nothing random may
    # live outside them.
    torch.manual_seed(1)
    g = narrow()
    torch.manual_seed(2)
    other = narrow()
    z_s, z_t = g.sample_codes(2)
    noise = [torch.zeros(2, 1, 128, 128)] * 11

    def render(net):
        with torch.no_grad():
            return net.synthesize(net.map_structure(z_s),
                                  net.map_texture(z_t), noise)

    assert not torch.allclose(render(g).image, render(other).image)
    with torch.no_grad():
        for p_other, p in zip(other.parameters(), g.parameters()):
            p_other.lerp_(p, 1.0)  # an EMA step with decay 0
        for b_other, b in zip(other.buffers(), g.buffers()):
            b_other.copy_(b)
    torch.testing.assert_close(render(other).image, render(g).image,
                               rtol=0, atol=0)
    torch.testing.assert_close(render(other).corr_map, render(g).corr_map,
                               rtol=0, atol=0)
    assert 'grid' in dict(g.named_buffers())
    assert 'grid' not in g.state_dict()  # derived from grid_size


def test_invalid_sizes_are_clear_errors():
    with pytest.raises(ValueError, match='grid_size \\* 2\\*\\*k'):
        CoordGANGenerator(out_size=192)
    with pytest.raises(ValueError, match='upsample_channels'):
        CoordGANGenerator(out_size=1024, upsample_channels=(128, 64),
                          channels=8, style_dim=8, z_dim=8)


def test_warper_rejects_bad_shapes():
    g = narrow()
    with pytest.raises(ValueError, match='w_s must be'):
        g.warper(torch.randn(2, 5), g.grid)
    with pytest.raises(ValueError, match='grid must be'):
        g.warper(torch.randn(2, 16), torch.randn(3, 2, 8, 8))


def test_fourier_scale_widens_the_frequency_range():
    from coordgan.models.layers import FourierFeatures
    torch.manual_seed(0)
    paper = FourierFeatures(2, 4096).proj.weight
    torch.manual_seed(0)
    wide = FourierFeatures(2, 4096, scale=4.0).proj.weight
    bound = (9 / 2)**0.5
    assert paper.abs().max() <= bound and paper.abs().max() > 0.99 * bound
    torch.testing.assert_close(wide, 4 * paper)
    gen = narrow(out_size=16, grid_size=16, fourier_scale=4.0)
    assert gen.synthesis.fourier.proj.weight.abs().max() > 2 * bound
    with pytest.raises(ValueError, match='scale'):
        FourierFeatures(2, 4, scale=0)


def test_without_noise_inputs_the_picture_is_a_function_of_the_codes():
    gen = narrow(out_size=16, grid_size=16, noise_inputs=False).eval()
    assert not any('noise' in name for name, _ in gen.named_parameters())
    z_s, z_t = torch.randn(2, gen.z_dim), torch.randn(2, gen.z_dim)
    torch.testing.assert_close(gen(z_s, z_t).image, gen(z_s, z_t).image,
                               rtol=0, atol=0)
    with_noise = narrow(out_size=16, grid_size=16).eval()
    for conv in with_noise.synthesis.convs:
        conv.noise.weight.data.fill_(1.0)
    assert not torch.equal(with_noise(z_s, z_t).image,
                           with_noise(z_s, z_t).image)



def test_warp_reads_the_warper_on_a_finer_grid():
    """warp(w_s, size): the warper at the resampled pixel centres; its own grid when size is the grid's."""
    from coordgan.ops import resampled_grid
    torch.manual_seed(0)
    gen = narrow(grid_size=16, out_size=64).eval()
    w_s = gen.map_structure(torch.randn(2, 16))
    assert torch.equal(gen.warp(w_s, 16), gen.warp(w_s))
    fine = gen.warp(w_s, 32)
    assert fine.shape == (2, 2, 32, 32)
    grid = resampled_grid(16, 32)
    # Position by position: the warper is applied to each fine point alone.
    for i, j in [(0, 0), (7, 20), (31, 31)]:
        point = grid[:, :, i:i + 1, j:j + 1]
        torch.testing.assert_close(fine[:, :, i, j],
                                   gen.warper(w_s, point)[:, :, 0, 0])


def test_fused_modconv_switch_reaches_every_conv_and_keeps_the_function():
    """fused_modconv picks the grouped-conv form in every modulated conv; same weights, same picture."""
    from coordgan.models.layers import ModulatedConv2d
    torch.manual_seed(0)
    shared = narrow(grid_size=16, out_size=64)
    fused = narrow(grid_size=16, out_size=64, fused_modconv=True)
    fused.load_state_dict(shared.state_dict())  # same parameters either way
    for gen, flag in ((shared, False), (fused, True)):
        convs = [m for m in gen.modules() if isinstance(m, ModulatedConv2d)]
        # conv1, 5 blocks x 2, 2 upsampling blocks x 2; 1 + 5 + 2 ToRGBs.
        assert len(convs) == 15 + 8
        assert {m.fused for m in convs} == {flag}
    z_s, z_t = torch.randn(2, 16), torch.randn(2, 16)
    noise = shared.make_noise(2)
    a, b = shared(z_s, z_t, noise), fused(z_s, z_t, noise)
    torch.testing.assert_close(a.image, b.image, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(a.corr_map, b.corr_map, rtol=0, atol=0)
