import os.path as osp

import numpy as np
import pytest
import torch
import torchvision

from coordgan.models.losses import (LPIPS, ChamferLoss, EdgeDistance,
                                    GANLoss, R1Regularization,
                                    TextureSwapLoss, WarpLoss, check_ramp,
                                    ramp_factor)
from coordgan.models.losses.perceptual import (TORCHVISION_FILES,
                                             MissingBackboneError)
from coordgan.ops import canonical_grid


def l1(a, b):
    """A stand-in perceptual distance: per-sample mean absolute difference."""
    return (a - b).abs().flatten(1).mean(1)


# ---------------------------------------------------------------- ramps
def test_reference_code_ramps():
    gan = dict(type='linear', length=10000, floor=0.5)
    assert [ramp_factor(gan, i) for i in (0, 5000, 7500, 10000, 20000)] == [
        0.5, 0.5, 0.75, 1.0, 1.0]
    warm = dict(type='linear', length=20000)
    assert [ramp_factor(warm, i) for i in (0, 10000, 20000, 30000)] == [
        0.0, 0.5, 1.0, 1.0]
    step = dict(type='step', start=10000)
    assert [ramp_factor(step, i) for i in (0, 9999, 10000)] == [0.0, 0.0, 1.0]
    assert ramp_factor(None, 0) == 1.0
    assert GANLoss(2.0, ramp=gan).weight_at(7500) == 1.5


@pytest.mark.parametrize('ramp,match', [
    (dict(type='cosine'), 'ramp type'),
    (dict(type='linear', length=0), 'length'),
    (dict(type='linear', length=5, floor=2), 'floor'),
    (dict(type='step'), 'start'),
])
def test_bad_ramps_are_named(ramp, match):
    with pytest.raises(ValueError, match=match):
        check_ramp(ramp)


# ------------------------------------------------------------ GAN losses
def test_logistic_losses_equal_their_definitions():
    real, fake = torch.randn(7, 1), torch.randn(7, 1)
    sig = torch.sigmoid
    loss = GANLoss()
    torch.testing.assert_close(loss.generator_loss(fake),
                               (-torch.log(sig(fake))).mean())
    torch.testing.assert_close(
        loss.discriminator_loss(real, fake),
        (-torch.log(sig(real))).mean() + (-torch.log(1 - sig(fake))).mean())


def test_r1_equals_analytic_gradient_norm():
    # D(x) = sum(w * x^2) per sample -> dD/dx = 2 w x.
    w = torch.randn(3, 4, 4)
    x = torch.randn(5, 3, 4, 4, requires_grad=True)
    y = torch.randn(5, 6, requires_grad=True)
    logits = (w * x**2).flatten(1).sum(1) + (y**3).sum(1)
    r1 = R1Regularization(gamma=10.0, interval=16)
    penalty = r1(logits, [x, y])
    expected = ((2 * w * x)**2).flatten(1).sum(1).mean() + (
        (3 * y**2)**2).sum(1).mean()
    torch.testing.assert_close(penalty, expected)
    # The penalty is differentiable (create_graph) and lazily scaled.
    penalty.backward()
    assert x.grad is not None
    assert r1.weight_at(0) == 10.0 / 2 * 16
    assert [r1.is_due(i) for i in (0, 1, 16, 32)] == [True, False, True, True]
    late = R1Regularization(gamma=1.0, interval=16, start=10000)
    assert not late.is_due(9984) and late.is_due(10000)


# ---------------------------------------------------------------- Chamfer
def brute_chamfer(a, b, squared):
    total = 0.0
    for ai, bi in zip(a, b):
        d = np.array([[np.sum((p - q)**2) for q in bi] for p in ai])
        d = d if squared else np.sqrt(d)
        total += d.min(1).mean() + d.min(0).mean()
    return total / len(a)


@pytest.mark.parametrize('squared', [True, False])
def test_chamfer_loss_equals_brute_force(squared):
    corr = torch.rand(2, 2, 5, 5, dtype=torch.float64) * 2 - 1
    grid = canonical_grid(5, dtype=torch.float64)
    loss = ChamferLoss(squared=squared)(corr, grid)
    a = corr.flatten(2).transpose(1, 2).numpy()
    b = grid.expand(2, -1, -1, -1).flatten(2).transpose(1, 2).numpy()
    assert float(loss) == pytest.approx(brute_chamfer(a, b, squared),
                                        rel=1e-10)
    assert float(ChamferLoss()(grid.expand(2, -1, -1, -1), grid)) == 0
    assert ChamferLoss().loss_weight == 200


def brute_align(points, grid_points, rotate, scale):
    """Each map's best (rotation, scale) onto its paired grid points, by search over angles."""
    out = []
    g = grid_points - grid_points.mean(0)
    angles = np.linspace(-np.pi, np.pi, 72001) if rotate else np.zeros(1)
    cos, sin = np.cos(angles)[:, None], np.sin(angles)[:, None]
    for c in points:
        c = c - c.mean(0)
        # every candidate rotation at once: (angles, points)
        rx = cos * c[:, 0] - sin * c[:, 1]
        ry = sin * c[:, 0] + cos * c[:, 1]
        # for a fixed rotation the best scale is a 1-D least squares
        s = (np.maximum((rx * g[:, 0] + ry * g[:, 1]).sum(1), 0) /
             (rx**2 + ry**2).sum(1) if scale else np.ones(len(angles)))
        err = ((s[:, None] * rx - g[:, 0])**2 +
               (s[:, None] * ry - g[:, 1])**2).sum(1)
        k = err.argmin()
        out.append((s[k], np.stack([rx[k], ry[k]], 1)))
    # sizes relative to the batch's geometric mean
    common = np.exp(np.mean([np.log(s) for s, _ in out]))
    return np.stack([s / common * r + grid_points.mean(0) for s, r in out])


@pytest.mark.parametrize('align,rotate,scale',
                         [('translation', False, False),
                          ('rigid', True, False),
                          ('similarity', True, True)])
def test_chamfer_alignment_matches_search(align, rotate, scale):
    torch.manual_seed(0)
    grid = canonical_grid(6, dtype=torch.float64)
    corr = torch.rand(3, 2, 6, 6, dtype=torch.float64) * 1.6 - 0.5
    loss = ChamferLoss(align=align)
    aligned = loss.aligned(corr, grid).flatten(2).transpose(1, 2).numpy()
    points = corr.flatten(2).transpose(1, 2).numpy()
    gp = grid.flatten(2).transpose(1, 2)[0].numpy()
    expected = brute_align(points, gp, rotate, scale)
    # the angle search steps by 9e-5 rad
    np.testing.assert_allclose(aligned, expected, atol=2e-4)
    b = np.broadcast_to(gp, expected.shape)
    assert float(loss(corr, grid)) == pytest.approx(
        brute_chamfer(expected, b, True), rel=1e-3)


def test_chamfer_alignment_forgives_only_its_moves():
    grid = canonical_grid(8, dtype=torch.float64)
    a = 0.3
    rot = torch.tensor([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]],
                       dtype=torch.float64)
    shift = torch.tensor([0.2, -0.1], dtype=torch.float64).view(1, 2, 1, 1)
    shifted = grid + shift
    turned = torch.einsum('ij,bjhw->bihw', rot, grid) + shift
    scaled = 1.3 * turned
    cost = {al: [float(ChamferLoss(align=al)(m, grid))
                 for m in (shifted, turned, scaled)]
            for al in ChamferLoss.ALIGNMENTS}
    # a move the alignment takes out costs nothing, one it keeps is paid
    assert cost['none'][0] > 1e-3
    assert cost['translation'][0] < 1e-12 < 1e-3 < cost['translation'][1]
    assert max(cost['rigid'][:2]) < 1e-12 and cost['rigid'][2] > 1e-3
    # alone in its batch a map keeps its size: scaled is paid
    assert max(cost['similarity'][:2]) < 1e-12 < 1e-3 < cost['similarity'][2]
    # two maps whose sizes differ by 1.3 both ways from the grid's are
    # forgiven their sizes
    pair = torch.cat([turned * 1.3, turned / 1.3])
    assert float(ChamferLoss(align='similarity')(pair, grid)) < 1e-12
    assert float(ChamferLoss(align='rigid')(pair, grid)) > 1e-3
    # maps that all shrink together pay under every alignment
    assert min(float(ChamferLoss(align=al)(0.5 * pair, grid))
               for al in ChamferLoss.ALIGNMENTS) > 1e-2
    # a map collapsed onto a line still pays under every alignment
    line = grid.clone()
    line[:, 1] = 0
    assert min(float(ChamferLoss(align=al)(line, grid))
               for al in ChamferLoss.ALIGNMENTS) > 1e-2


def test_chamfer_translation_alignment_has_no_shift_gradient():
    corr = (torch.rand(2, 2, 6, 6, dtype=torch.float64) * 2 - 1
            ).requires_grad_()
    ChamferLoss(align='translation')(corr, canonical_grid(
        6, dtype=torch.float64)).backward()
    # a shift of the whole map does not change the loss
    assert corr.grad.sum(dim=(2, 3)).abs().max() < 1e-12
    assert corr.grad.abs().max() > 1e-4
    with pytest.raises(ValueError, match='align must be one of'):
        ChamferLoss(align='affine')


# ------------------------------------------------------------------- warp
def brute_warp(query, ref, img, tau, squared):
    """x_q(i) = sum_k softmax_k(-d(q_i, r_k) / tau) img(k), with explicit loops."""
    c, h, w = img.shape
    q = query.reshape(2, -1).T
    r = ref.reshape(2, -1).T
    v = img.reshape(c, -1).T
    out = np.zeros((q.shape[0], c))
    for i, qi in enumerate(q):
        d = np.array([np.sum((qi - rk)**2) for rk in r])
        d = d if squared else np.sqrt(d)
        logits = -d / tau
        a = np.exp(logits - logits.max())
        out[i] = (a / a.sum()) @ v
    return out.T.reshape(c, h, w)


@pytest.mark.parametrize('squared', [False, True])
def test_warp_affinity_equals_brute_force(squared):
    maps = torch.rand(4, 2, 6, 6, dtype=torch.float64) * 2 - 1
    imgs = torch.rand(4, 3, 6, 6, dtype=torch.float64)
    loss = WarpLoss(tau=0.05, squared=squared, tau_grid=None)
    warped = loss.warp_partners(imgs, maps)
    for k in range(4):
        partner = k ^ 1
        expected = brute_warp(maps[k].numpy(), maps[partner].numpy(),
                              imgs[partner].numpy(), 0.05, squared)
        np.testing.assert_allclose(warped[k].numpy(), expected, atol=1e-10)


def test_warp_tau_keeps_its_ratio_to_the_grid_spacing():
    # tau is given for the paper's 128-point map (spacing 2 / 127); on a
    # 6-point map (spacing 2 / 5) the same ratio is tau * 127 / 5.
    maps = torch.rand(2, 2, 6, 6, dtype=torch.float64) * 2 - 1
    imgs = torch.rand(2, 3, 6, 6, dtype=torch.float64)
    warped = WarpLoss(tau=0.002).warp_partners(imgs, maps)
    expected = brute_warp(maps[0].numpy(), maps[1].numpy(), imgs[1].numpy(),
                          0.002 * 127 / 5, False)
    np.testing.assert_allclose(warped[0].numpy(), expected, atol=1e-10)
    assert WarpLoss(tau=0.01).tau_for(128) == 0.01
    assert WarpLoss(tau=0.01, tau_grid=64).tau_for(32) == pytest.approx(
        0.01 * 63 / 31)


def test_warp_loss_compares_to_a_detached_target():
    maps = (torch.rand(2, 2, 4, 4) * 2 - 1).requires_grad_()
    imgs = torch.rand(2, 3, 4, 4, requires_grad=True)
    loss = WarpLoss()(imgs, maps, l1)
    loss.backward()
    # The gradient into the images comes only through the warped partner.
    maps2 = maps.detach().requires_grad_()
    imgs2 = imgs.detach().requires_grad_()
    warped = WarpLoss().warp_partners(imgs2, maps2)
    l1(warped, imgs2.detach()).mean().backward()
    torch.testing.assert_close(imgs.grad, imgs2.grad)
    torch.testing.assert_close(maps.grad, maps2.grad)
    assert maps.grad.abs().sum() > 0


def test_warp_loss_resizes_large_images_to_the_map():
    maps = canonical_grid(8).expand(2, -1, -1, -1)
    imgs = torch.rand(2, 3, 32, 32)
    # Identical maps and a sharp tau: each image rebuilds its partner.
    warped = WarpLoss(tau=1e-4, tau_grid=None).warp_partners(imgs, maps)
    small = torch.nn.functional.interpolate(imgs, size=(8, 8),
                                            mode='bilinear',
                                            align_corners=False)
    torch.testing.assert_close(warped, small.flip(0), atol=1e-4, rtol=0)
    assert WarpLoss()(imgs, maps, l1).shape == ()
    with pytest.raises(ValueError, match='tau'):
        WarpLoss(tau=0)


def test_texture_swap_loss_reaches_both_images():
    a = torch.rand(2, 3, 4, 4, requires_grad=True)
    b = torch.rand(2, 3, 4, 4, requires_grad=True)
    loss = TextureSwapLoss(5.0, ramp=dict(type='linear', length=20000))
    loss(a, b, l1).backward()
    assert a.grad.abs().sum() > 0 and b.grad.abs().sum() > 0
    assert loss.weight_at(10000) == 2.5


# ------------------------------------------------------------------ LPIPS
def test_lpips_is_frozen_and_stays_in_eval_mode():
    lp = LPIPS(random_backbone=True)
    assert not any(p.requires_grad for p in lp.parameters())
    lp.train()
    assert not lp.training and not any(m.training for m in lp.modules())
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    d = lp(x, x.flip(0))
    assert d.shape == (2, )
    assert torch.equal(lp(x, x.flip(0)), d)  # no dropout
    assert float(lp(x, x).abs().max()) == 0


def test_missing_backbone_is_an_error_naming_the_file_and_the_switch(
        tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    wanted = tmp_path / 'hub' / 'checkpoints' / 'vgg16-397923af.pth'
    with pytest.raises(MissingBackboneError) as info:
        LPIPS()
    msg = str(info.value)
    assert f'the ImageNet vgg weights are not at {wanted}' in msg
    assert 'allow_random_backbone=True' in msg
    assert 'model.perceptual.allow_random_backbone=True' in msg
    with pytest.raises(MissingBackboneError, match='vgg16-397923af.pth'):
        LPIPS.preflight(dict(type='LPIPS'))
    LPIPS.preflight(dict(type='LPIPS', allow_random_backbone=True))


def test_allowed_stand_in_warns_and_is_seeded(tmp_path, monkeypatch):
    from coordgan.models.losses import perceptual
    logged = []
    monkeypatch.setattr(perceptual, 'print_log',
                        lambda msg, **kw: logged.append((msg, kw)))
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    a = LPIPS(allow_random_backbone=True)
    b = LPIPS(allow_random_backbone=True)
    assert a.backbone_source.startswith('seeded random stand-in')
    msg, kw = logged[0]
    assert msg.startswith('LPIPS backbone: seeded random stand-in (no weights '
                          'at ')
    assert 'vgg16-397923af.pth' in msg
    assert kw['level'] == 30  # WARNING
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    # Requested outright: said too, as information.
    logged.clear()
    LPIPS(random_backbone=True)
    assert logged[0][0] == ('LPIPS backbone: seeded random stand-in '
                            '(random_backbone=True)')


def test_backbone_loads_from_torchvision_cache_file(tmp_path, monkeypatch):
    """Random VGG16 weights saved under the real torchvision file name load into LPIPS."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    cache = tmp_path / 'hub' / 'checkpoints'
    cache.mkdir(parents=True)
    torch.manual_seed(3)
    vgg = torchvision.models.vgg16()
    path = cache / TORCHVISION_FILES['vgg']
    torch.save(vgg.state_dict(), path)

    from coordgan.models.losses import perceptual
    logged = []
    monkeypatch.setattr(perceptual, 'print_log',
                        lambda msg, **kw: logged.append(msg))
    lp = LPIPS()
    assert lp.backbone_source == str(path)
    assert logged == [f'LPIPS backbone: ImageNet vgg weights from {path}']
    LPIPS.preflight(dict(type='LPIPS'))  # the paper configs start
    # LPIPS keeps torchvision's layer numbers inside its slices.
    assert torch.equal(getattr(lp.model.net.slice1, '0').weight,
                       vgg.features[0].weight)
    assert torch.equal(getattr(lp.model.net.slice5, '28').weight,
                       vgg.features[28].weight)
    # An explicit path works the same; a wrong file is a clear error.
    other = tmp_path / 'my_vgg.pth'
    torch.save(vgg.state_dict(), other)
    assert LPIPS(backbone_weights=str(other)).backbone_source == str(other)
    torch.save({'fc.weight': torch.zeros(1)}, tmp_path / 'bad.pth')
    with pytest.raises(ValueError, match='not a torchvision vgg'):
        LPIPS(backbone_weights=str(tmp_path / 'bad.pth'))
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        LPIPS(backbone_weights=str(tmp_path / 'nope.pth'))


def test_linear_weights_load_from_a_given_file(tmp_path):
    import lpips
    shipped = osp.join(osp.dirname(lpips.__file__), 'weights', 'v0.1',
                       'vgg.pth')
    state = torch.load(shipped, map_location='cpu')
    state = {k: torch.full_like(v, 0.5) for k, v in state.items()}
    path = tmp_path / 'lin.pth'
    torch.save(state, path)
    lp = LPIPS(random_backbone=True, linear_weights=str(path))
    assert float(lp.model.lin0.model[1].weight.mean()) == 0.5
    with pytest.raises(FileNotFoundError, match='linear_weights'):
        LPIPS(linear_weights=str(tmp_path / 'missing.pth'))


def _brute_force_edges(img):
    """Sobel magnitude over channels with replicate padding, mean 1; loops."""
    c, h, w = img.shape
    sx = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]
    out = np.zeros((h, w))
    for i in range(h):
        for j in range(w):
            total = 1e-6
            for ch in range(c):
                gx = gy = 0.0
                for di in range(3):
                    for dj in range(3):
                        v = img[ch, min(max(i + di - 1, 0), h - 1),
                                min(max(j + dj - 1, 0), w - 1)]
                        gx += sx[di][dj] / 8 * v
                        gy += sx[dj][di] / 8 * v
                total += gx * gx + gy * gy
            out[i, j] = np.sqrt(total)
    return out / out.mean()


def test_edge_distance_equals_brute_force():
    gen = torch.Generator().manual_seed(3)
    x = torch.rand(2, 3, 7, 6, generator=gen, dtype=torch.float64) * 2 - 1
    y = torch.rand(2, 3, 7, 6, generator=gen, dtype=torch.float64) * 2 - 1
    ref = [np.abs(_brute_force_edges(x[k].numpy()) -
                  _brute_force_edges(y[k].numpy())).mean() for k in range(2)]
    out = EdgeDistance(scales=1)(x, y)
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-10)


def test_edge_distance_ignores_colours_and_sees_a_moved_shape():
    img = torch.full((1, 3, 24, 24), -0.6)
    img[..., 6:14, 8:16] = torch.tensor([0.9, -0.2, 0.3])[:, None, None]
    recoloured = img * 0.4 + 0.3  # other colours and contrast, same edges
    moved = torch.roll(img, 2, dims=-1)
    dist = EdgeDistance()
    assert dist(img, recoloured).item() < 0.05  # eps: flat areas only
    assert dist(img, moved).item() > 0.5
    # Random-VGG LPIPS ranks the two the other way round.
    lp = LPIPS(random_backbone=True)
    assert lp(img, recoloured).item() > lp(img, moved).item()


def test_texture_swap_loss_can_use_its_own_distance():
    loss = TextureSwapLoss(5.0, distance=dict(type='EdgeDistance'))
    img = torch.zeros(2, 3, 8, 8)
    img[..., 2:5, 2:5] = 1.0
    shared = lambda x, y: torch.full((x.shape[0], ), 7.0)  # noqa: E731
    assert loss(img, img * 0.5, shared).item() < 0.01
    assert TextureSwapLoss(5.0)(img, img, shared).item() == 7.0
    with pytest.raises(ValueError, match='scales'):
        TextureSwapLoss(distance=dict(type='EdgeDistance', scales=0))


def test_warp_loss_can_use_its_own_distance():
    def shared(x, y):
        raise AssertionError('the shared perceptual must not be used')

    grid = canonical_grid(6).expand(2, -1, -1, -1)
    img = torch.zeros(2, 3, 6, 6)
    img[:, :, 1:4, 2:5] = torch.tensor([1.0, -1.0, 0.5])[:, None, None]
    loss = WarpLoss(distance=dict(type='EdgeDistance'), tau_grid=None)
    # Same structure, other colours: identity maps warp edges onto edges.
    recoloured = torch.stack([img[0], img[1] * 0.3])
    assert loss(recoloured, grid, shared).item() < 0.01
    # A map that is off by two pixels for the second image is not.
    moved = torch.stack([img[0], torch.roll(img[1], 2, dims=-1) * 0.3])
    assert loss(moved, grid, shared).item() > 0.2


def test_step_outputs_name_what_is_missing():
    from coordgan.models.losses import StepOutputs
    step = StepOutputs(fake=1, grid=2)
    assert step.fake == 1 and step['grid'] == 2
    with pytest.raises(AttributeError, match=r"no 'real'; it has \['fake', 'grid'\]"):
        step.real


def test_cycle_loss_is_mean_absolute_distance_to_the_grid():
    from coordgan.models.losses import CycleLoss
    from coordgan.ops import canonical_grid
    grid = canonical_grid(5)
    cycle = torch.randn(3, 2, 5, 5)
    expected = sum(abs(float(cycle[b, c, i, j]) - float(grid[0, c, i, j]))
                   for b in range(3) for c in range(2) for i in range(5)
                   for j in range(5)) / (3 * 2 * 5 * 5)
    assert float(CycleLoss()(cycle, grid)) == pytest.approx(expected, rel=1e-5)


def test_coordgan_b_generator_and_cycle_loss_train():
    from coordgan.registry import GENERATORS, MODELS
    from helpers import fake_batch, optim_wrappers, snapshot, changed, \
        tiny_model_cfg
    from tiny_configs import tiny
    gen = GENERATORS.build(tiny(dict(
        type='CoordGANGenerator', backward_warper=dict(type='MLPWarper'))))
    z_s, z_t = gen.sample_codes(2)
    out = gen(z_s, z_t)
    # The backward map reads C^w as its coordinates, with the same w_s.
    w_s = gen.map_structure(z_s)
    torch.testing.assert_close(out.aux['cycle'],
                               gen.backward_warper(w_s, out.corr_map))
    assert out.select(slice(1, 2)).aux['cycle'].shape == (1, 2, 16, 16)

    cfg = tiny_model_cfg()
    cfg['losses']['cycle'] = dict(type='CycleLoss', loss_weight=1.0)
    with pytest.raises(ValueError, match='backward_warper'):
        MODELS.build(cfg)
    cfg['generator']['backward_warper'] = dict(type='MLPWarper',
                                               hidden_channels=(16, 16))
    model = MODELS.build(cfg)
    before = snapshot(model.generator.backward_warper)
    log = model.train_step(fake_batch(), optim_wrappers(model))
    assert log['loss_cycle'] > 0
    assert changed(before, model.generator.backward_warper)
    assert hasattr(model.generator_ema.module, 'backward_warper')


@pytest.mark.parametrize('squared', [False, True])
def test_dense_and_chunked_correspondence_losses_agree(squared):
    # The dense option keeps the authors' (N, N) formulation; it must give
    # the chunked default's loss and gradients, here on 8x8 maps with
    # chunks of 5 query rows (several chunks, a ragged last one).
    rng = torch.Generator().manual_seed(3)
    maps = torch.rand(4, 2, 8, 8, generator=rng,
                      dtype=torch.float64) * 2 - 1
    imgs = torch.rand(4, 3, 16, 16, generator=rng, dtype=torch.float64)
    grid = canonical_grid(8).double()
    results = {}
    for implementation in ('chunked', 'dense'):
        m = maps.clone().requires_grad_()
        x = imgs.clone().requires_grad_()
        warp = WarpLoss(tau=0.05, squared=squared, chunk_size=5,
                        implementation=implementation)
        cham = ChamferLoss(squared=squared, implementation=implementation)
        value = warp(x, m, l1) + 0.7 * cham(m, grid)
        value.backward()
        results[implementation] = (value.detach(), m.grad, x.grad)
    for chunked, dense in zip(results['chunked'], results['dense']):
        torch.testing.assert_close(chunked, dense, rtol=1e-9, atol=1e-12)
    assert results['dense'][1].abs().sum() > 0
    assert results['dense'][2].abs().sum() > 0
    for cls in (WarpLoss, ChamferLoss):
        with pytest.raises(ValueError, match=r"\('chunked', 'dense'\)"):
            cls(implementation='sparse')


def test_structure_diversity_is_inverse_mean_distance_of_paired_maps():
    from coordgan.models.losses import StructureDiversityLoss
    # Pairs (0, 1) and (2, 3): map 1 is map 0 moved by (0.3, 0.4) (distance
    # 0.5 at every point), map 3 is map 2 moved by (0.06, 0.08) (0.1); maps
    # 0 and 2 are far apart, which must not count (they are not a pair).
    base = torch.randn(1, 2, 6, 6, generator=torch.Generator().manual_seed(0))
    maps = torch.cat([base, base + torch.tensor([0.3, 0.4])[:, None, None],
                      base + 5, base + 5 +
                      torch.tensor([0.06, 0.08])[:, None, None]])
    loss = StructureDiversityLoss(eps=0.01)
    assert float(loss(maps)) == pytest.approx(1 / (0.01 + 0.3), rel=1e-4)
    same = torch.cat([base, base, base + 5, base + 5])
    assert float(loss(same)) == pytest.approx(1 / 0.01, rel=1e-3)
    with pytest.raises(ValueError, match='eps must be > 0, got 0'):
        StructureDiversityLoss(eps=0)


def test_structure_diversity_pushes_paired_maps_apart():
    from coordgan.models.losses import StructureDiversityLoss
    grid = canonical_grid(8)
    maps = (grid + 0.01 * torch.randn(4, 2, 8, 8,
                                      generator=torch.Generator()
                                      .manual_seed(0))).requires_grad_()
    before = float((maps[0] - maps[1]).detach().norm(dim=0).mean())
    opt = torch.optim.SGD([maps], lr=1e-4)
    for _ in range(20):
        opt.zero_grad()
        StructureDiversityLoss()(maps).backward()
        opt.step()
    after = float((maps[0] - maps[1]).detach().norm(dim=0).mean())
    assert after > 2 * before


def test_structure_diversity_plugs_into_coordgan_and_reaches_the_warper():
    from coordgan.registry import MODELS
    from helpers import fake_batch, optim_wrappers, tiny_model_cfg
    cfg = tiny_model_cfg()
    # Only the new term on the generator side: its gradient alone must
    # reach the warper.
    cfg['losses'] = dict(gan=cfg['losses']['gan'],
                         diversity=dict(type='StructureDiversityLoss'))
    model = MODELS.build(cfg)
    warper = model.generator.warper
    before = [p.detach().clone() for p in warper.parameters()]
    model.losses['gan'].loss_weight = 0.0
    log = model.train_step(fake_batch(), optim_wrappers(model))
    assert 'loss_diversity' in log  # the name the docs give
    assert any(not torch.equal(a, b)
               for a, b in zip(before, warper.parameters()))
