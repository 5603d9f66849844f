import pytest
import torch
from mmengine.runner.checkpoint import save_checkpoint

from coordgan.registry import MODELS, OPTIM_WRAPPER_CONSTRUCTORS
from helpers import (changed, fake_batch, inversion_cfg, snapshot,
                     tiny_model_cfg)


@pytest.fixture(scope='module')
def stage1(tmp_path_factory):
    model = MODELS.build(tiny_model_cfg())
    with torch.no_grad():
        for p in model.generator_ema.parameters():
            p.add_(torch.randn_like(p))
    path = tmp_path_factory.mktemp('s1') / 'stage1.pth'
    save_checkpoint(dict(state_dict=model.state_dict(), meta=dict(iter=7)),
                    str(path))
    return model, str(path)


def encoder_wrapper(model):
    return OPTIM_WRAPPER_CONSTRUCTORS.build(dict(
        type='GANOptimWrapperConstructor',
        optim_wrapper_cfg=dict(encoder=dict(
            modules=['encoder'],
            optimizer=dict(type='Adam', lr=0.0016, betas=(0., 0.992))))))(model)


def record_synthesize(inv):
    """From now on every ``inv.generator.synthesize`` call appends its (w_s, W+) (detached copies) to the returned list."""
    calls = []
    synthesize = inv.generator.synthesize

    def recording(w_s, w_plus, *args, **kwargs):
        calls.append((w_s.detach().clone(), w_plus.detach().clone()))
        return synthesize(w_s, w_plus, *args, **kwargs)

    inv.generator.synthesize = recording
    return calls


def test_generator_comes_from_the_stage1_ema(stage1):
    model, path = stage1
    inv = MODELS.build(inversion_cfg(generator_checkpoint=path))
    for key, value in model.generator_ema.module.state_dict().items():
        assert torch.equal(inv.generator.state_dict()[key], value), key
    assert not any(p.requires_grad for p in inv.generator.parameters())


def test_stage1_checkpoint_as_load_from(stage1):
    model, _ = stage1
    inv = MODELS.build(inversion_cfg())
    inv.load_state_dict(model.state_dict(), strict=False)
    for key, value in model.generator_ema.module.state_dict().items():
        assert torch.equal(inv.generator.state_dict()[key], value), key


def test_wrong_checkpoints_are_clear_errors(stage1, tmp_path):
    _, path = stage1
    other = tmp_path / 'other.pth'
    save_checkpoint(dict(state_dict={'backbone.w': torch.zeros(1)}),
                    str(other))
    with pytest.raises(ValueError, match='not a CoordGAN stage-1'):
        MODELS.build(inversion_cfg(generator_checkpoint=str(other)))
    bigger = inversion_cfg(generator_checkpoint=path)
    bigger['generator']['channels'] = 24
    with pytest.raises(ValueError, match='has shape'):
        MODELS.build(bigger)
    bad = inversion_cfg()
    bad['encoder']['num_latents'] = 3
    with pytest.raises(ValueError, match='num_latents'):
        MODELS.build(bad)
    with pytest.raises(TypeError, match='losses.rec: GANLoss is not a loss '
                       'of the encoder step'):
        MODELS.build(inversion_cfg(losses=dict(rec=dict(type='GANLoss'))))
    with pytest.raises(ValueError, match="norm must be one of"):
        MODELS.build(inversion_cfg(losses=dict(latent_code=dict(norm='L1'))))


@pytest.mark.parametrize('norm', ['l1', 'l2'])
def test_train_step_changes_the_encoder_only(stage1, norm):
    _, path = stage1
    inv = MODELS.build(inversion_cfg(
        generator_checkpoint=path,
        losses=dict(latent_code=dict(norm=norm), latent_coords=dict(norm=norm))))
    before = dict(enc=snapshot(inv.encoder), gen=snapshot(inv.generator),
                  lpips=snapshot(inv.perceptual))
    inv.train()
    log = inv.train_step(fake_batch(), encoder_wrapper(inv))
    assert {'loss_rec_l1', 'loss_rec_lpips', 'loss_texture_swap',
            'loss_latent_code', 'loss_latent_coords'} <= set(log)
    assert changed(before['enc'], inv.encoder)
    assert not changed(before['gen'], inv.generator)
    assert not changed(before['lpips'], inv.perceptual)
    assert not inv.generator.training
    out = inv(torch.rand(2, 3, 16, 16) * 2 - 1)
    assert out.image.shape == (2, 3, 16, 16)
    assert inv.correspondence_map(torch.rand(2, 3, 32, 32)).shape == (2, 2,
                                                                      16, 16)


@pytest.mark.parametrize('sample_texture', ['prior', 'encoded'])
def test_latent_samples_take_their_texture_as_configured(stage1,
                                                         sample_texture):
    _, path = stage1
    inv = MODELS.build(inversion_cfg(generator_checkpoint=path,
                                     sample_texture=sample_texture))
    calls = record_synthesize(inv)
    inv.train()
    inv.train_step(fake_batch(), encoder_wrapper(inv))
    # reconstruction, texture swap, then the latent-consistency sample
    (rec_ws, rec_wplus), _, (sample_ws, sample_wplus) = calls
    assert not torch.allclose(sample_ws, rec_ws)
    assert torch.equal(sample_wplus, rec_wplus) == (sample_texture ==
                                                    'encoded')
    with pytest.raises(ValueError, match='sample_texture must be one of'):
        MODELS.build(inversion_cfg(sample_texture='real'))


def test_structure_noise_moves_sample_codes_by_the_code_spread(stage1):
    _, path = stage1

    def sample_codes(noise):
        inv = MODELS.build(inversion_cfg(generator_checkpoint=path,
                                         sample_structure_noise=noise))
        inv._rng = torch.Generator().manual_seed(5)  # same codes either way
        calls = record_synthesize(inv)
        inv.train()
        inv.train_step(fake_batch(num=16), encoder_wrapper(inv))
        return inv, calls[2][0]  # rec, swap, then the latent sample's w_s

    inv, plain = sample_codes(0.0)
    _, noisy = sample_codes(0.5)
    # The reference spread: the mapping net's codes of many fresh z.
    with torch.no_grad():
        z = torch.randn(20000, inv.generator.z_dim,
                        generator=torch.Generator().manual_seed(9))
        spread = inv.generator.structure_mapping(z).std(dim=0)
    step = (noisy - plain) / spread
    assert step.abs().min() > 0  # every code moved
    assert 0.4 < step.std().item() < 0.6
    assert abs(step.mean().item()) < 0.15
    with pytest.raises(ValueError, match='sample_structure_noise'):
        MODELS.build(inversion_cfg(sample_structure_noise=-1.0))


def test_texture_swap_distance_replaces_lpips_in_that_term_only(stage1):
    _, path = stage1
    inv = MODELS.build(inversion_cfg(
        generator_checkpoint=path,
        losses=dict(texture_swap=dict(distance=dict(type='EdgeDistance')))))
    calls = []

    class Spy(torch.nn.Module):

        def __init__(self, name, inner):
            super().__init__()
            self.name, self.inner = name, inner

        def forward(self, x, y):
            calls.append(self.name)
            return self.inner(x, y)

    term = inv.losses['texture_swap']
    term.distance = Spy('edge', term.distance)
    inv.perceptual = Spy('lpips', inv.perceptual)
    inv.train()
    log = inv.train_step(fake_batch(), encoder_wrapper(inv))
    assert calls == ['lpips', 'edge']  # reconstruction, then texture swap
    assert torch.isfinite(log['loss_texture_swap'])
    # Without the option the checkpoint keys are those of older runs.
    keys = set(MODELS.build(inversion_cfg()).state_dict())
    assert keys == set(MODELS.build(inversion_cfg(losses=dict(
        texture_swap=dict(distance=dict(type='EdgeDistance'))))).state_dict())


def pixel_centres(size):
    """(1, 2, size, size): (x, y) of every pixel centre in the [-1, 1] frame, by hand."""
    lin = [(2 * i + 1) / size - 1 for i in range(size)]
    xs = torch.tensor([[lin[j] for j in range(size)] for _ in range(size)])
    ys = torch.tensor([[lin[i]] * size for i in range(size)])
    return torch.stack([xs, ys])[None]


def apply_affine(theta, points):
    """theta (2, 3), points (..., 2) -> theta @ [p, 1], one point at a time."""
    flat = points.reshape(-1, 2).tolist()
    out = [[theta[0][0] * x + theta[0][1] * y + theta[0][2],
            theta[1][0] * x + theta[1][1] * y + theta[1][2]] for x, y in flat]
    return torch.tensor(out).reshape(points.shape)


def test_equivariance_loss_reads_the_map_where_the_image_came_from():
    from coordgan.models.losses import EquivarianceLoss
    loss = EquivarianceLoss()
    size = 8
    grid = pixel_centres(size)
    # A shift by exactly two pixels along x: T(p) = p + (0.5, 0).
    theta = torch.tensor([[[1., 0., 0.5], [0., 1., 0.]]])
    moved_right = grid + torch.tensor([0.5, 0.])[None, :, None, None]
    assert loss(moved_right, grid, theta).item() < 1e-6
    # The unmoved map is off by 0.5 in x, 0 in y, on the 6 columns whose
    # source stays inside the picture: mean over points and channels 0.25.
    assert loss(grid, grid, theta).item() == pytest.approx(0.25, abs=1e-6)
    # Points carried outside do not count, however wrong they are there.
    wild = moved_right.clone()
    wild[..., -2:] += 100.0
    assert loss(wild, grid, theta).item() < 1e-6
    # A quarter turn about the centre: T(p) = R p, on a grid it maps onto.
    quarter = [[0., -1., 0.], [1., 0., 0.]]
    expected = apply_affine(quarter, grid[0].permute(1, 2, 0))
    assert loss(expected.permute(2, 0, 1)[None], grid,
                torch.tensor([quarter])).item() < 1e-5


def test_equivariance_loss_penalises_maps_shrunk_toward_a_fixed_map():
    from coordgan.models.losses import EquivarianceLoss, StepOutputs
    size, num = 16, 6
    loss = EquivarianceLoss(max_rotation=0.3, max_scale=1.2, max_shift=0.2)
    grid = pixel_centres(size)
    # A picture whose first two channels are its own pixel positions: a
    # bilinear, border-padded read of it at q is q clamped to the outermost
    # pixel centres.
    real = torch.cat([grid, torch.zeros(1, 1, size, size)], 1).expand(
        num, -1, -1, -1).contiguous()
    edge = 1 - 1 / size

    def step(encoder_map):
        return StepOutputs(real=real, rng=torch.Generator().manual_seed(3),
                           real_corr_map_enc=encoder_map(real),
                           correspondence_map=encoder_map)

    def faithful(images):  # the map moves with the picture
        return images[:, :2]

    def shrunk(images):  # ... half as far, toward the fixed grid
        return 0.5 * images[:, :2] + 0.5 * grid

    assert loss.compute('encoder', step(faithful)).item() < 1e-5
    thetas = loss.sample_transforms(num, torch.device('cpu'),
                                    torch.Generator().manual_seed(3))
    points = grid[0].permute(1, 2, 0)
    total, count = 0.0, 0
    for theta in thetas.tolist():
        source = apply_affine(theta, points)
        inside = (source.abs() <= 1).all(-1)
        gap = 0.5 * (source.clamp(-edge, edge) - points).abs()
        total += gap[inside].sum().item()
        count += 2 * int(inside.sum())
    got = loss.compute('encoder', step(shrunk)).item()
    assert got > 0.01
    assert got == pytest.approx(total / count, rel=1e-4)


def test_equivariance_transforms_stay_in_their_ranges():
    from coordgan.models.losses import EquivarianceLoss
    loss = EquivarianceLoss(max_rotation=0.25, max_scale=1.15, max_shift=0.1)
    theta = loss.sample_transforms(4000, torch.device('cpu'),
                                   torch.Generator().manual_seed(0))
    a, b, c, d = theta[:, 0, 0], theta[:, 0, 1], theta[:, 1, 0], theta[:, 1, 1]
    assert torch.allclose(a, d) and torch.allclose(b, -c)  # similarities
    scale = (a * d - b * c).sqrt()
    angle = torch.atan2(c, a)
    shift = theta[:, :, 2]
    assert scale.min() >= 1 / 1.15 - 1e-6 and scale.max() <= 1.15 + 1e-6
    assert scale.min() < 1 / 1.14 and scale.max() > 1.14
    assert angle.abs().max() <= 0.25 + 1e-6 and angle.abs().max() > 0.24
    assert shift.abs().max() <= 0.1 + 1e-6 and shift.abs().max() > 0.099
    # The same generator state gives the same transforms (resumable runs).
    again = loss.sample_transforms(4000, torch.device('cpu'),
                                   torch.Generator().manual_seed(0))
    assert torch.equal(theta, again)
    for bad, match in [(dict(max_rotation=-0.1), 'max_rotation'),
                       (dict(max_scale=0.9), 'max_scale'),
                       (dict(max_shift=1.5), 'max_shift')]:
        with pytest.raises(ValueError, match=match):
            EquivarianceLoss(**bad)


def test_equivariance_term_alone_trains_the_encoder(stage1):
    _, path = stage1
    inv = MODELS.build(inversion_cfg(
        generator_checkpoint=path,
        losses=dict(rec_l1=None, rec_lpips=None, texture_swap=None,
                    latent_code=None, latent_coords=None,
                    equivariance=dict(type='EquivarianceLoss',
                                      loss_weight=3.0))))
    before = dict(enc=snapshot(inv.encoder), gen=snapshot(inv.generator))
    inv.train()
    log = inv.train_step(fake_batch(), encoder_wrapper(inv))
    assert set(k for k in log if k.startswith('loss_')) == {
        'loss_equivariance'}
    assert log['loss_equivariance'] > 0
    assert changed(before['enc'], inv.encoder)
    assert not changed(before['gen'], inv.generator)
