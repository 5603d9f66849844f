"""The structure branch's health: a spread scalar, the collapse warning, and the warp loss pulling C^w to the true match."""
import types

import pytest
import torch
import torch.nn.functional as F

from coordgan.engine.hooks import StructureHealthHook
from coordgan.models.losses import WarpLoss
from coordgan.ops import canonical_grid, coordinate_spread
from helpers import fake_batch, optim_wrappers, tiny_model


def test_coordinate_spread_equals_a_looped_definition():
    maps = torch.randn(5, 2, 3, 4, dtype=torch.float64)
    total = 0.0
    for y in range(3):
        for x in range(4):
            pts = [maps[b, :, y, x] for b in range(5)]
            mean = sum(pts) / 5
            total += (sum(float(((p - mean)**2).sum()) for p in pts) / 5)**0.5
    assert float(coordinate_spread(maps)) == pytest.approx(total / 12)
    same = canonical_grid(8).expand(4, -1, -1, -1)
    assert float(coordinate_spread(same)) == 0
    with pytest.raises(ValueError, match=r'\(B, 2, H, W\)'):
        coordinate_spread(torch.zeros(2, 3, 4, 4))


def test_generator_step_logs_the_spread_and_sees_a_collapse():
    model = tiny_model()
    wrappers = optim_wrappers(model)
    real = model.data_preprocessor(fake_batch(), True)['inputs']
    gen = model.step_generator(real.device)
    log = model.generator_step(4, real.device, 0, wrappers['generator'], gen)
    assert float(log['structure_spread_px']) > 0.01
    # A warper whose output ignores w_s gives every code the same map.
    last = [m for m in model.generator.warper.modules()
            if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))][-1]
    with torch.no_grad():
        last.weight.zero_()
    for p in model.generator.warper.parameters():
        p.requires_grad_(False)
    log = model.generator_step(4, real.device, 1, wrappers['generator'], gen)
    assert float(log['structure_spread_px']) < 1e-5


def test_health_hook_warns_only_after_the_warm_ups_and_when_collapsed():
    hook = StructureHealthHook(check_after=20, interval=10, window=5,
                               min_spread_px=0.5, num_codes=None)
    runner = types.SimpleNamespace(iter=0)

    def feed(values, start):
        for i, v in enumerate(values):
            runner.iter = start + i
            hook.after_train_iter(runner, i, None,
                                  dict(structure_spread_px=torch.tensor(v)))

    feed([0.0] * 19, 0)  # collapsed, but still warming up
    assert hook.num_warnings == 0
    feed([0.0] * 11, 19)  # checks at iterations 20 and 30
    assert hook.num_warnings == 2
    feed([2.0] * 10, 30)  # healthy again (check at 40): the window forgets
    assert hook.num_warnings == 2
    feed([0.1] * 10, 40)  # collapsed again (check at 50)
    assert hook.num_warnings == 3
    with pytest.raises(ValueError, match='interval'):
        StructureHealthHook(interval=0)
    with pytest.raises(ValueError, match='num_codes'):
        StructureHealthHook(num_codes=1)


def test_health_hook_measures_the_ema_generator_on_fixed_codes():
    """The default check: C^w of 64 fixed codes of G_ema, a looped spread, in grid pixels; a collapsed warper warns."""
    model = tiny_model()
    model.update_ema(4)  # the first update copies G
    hook = StructureHealthHook(check_after=10, interval=10, min_spread_px=0.5,
                               num_codes=8, seed=3)
    runner = types.SimpleNamespace(iter=9, model=model)
    # Batch values that would warn are not what the check reads.
    hook.after_train_iter(runner, 0, None,
                          dict(structure_spread_px=torch.tensor(0.0)))
    gen = model.generator_ema.module
    rng = torch.Generator().manual_seed(3)
    z_s, _ = gen.sample_codes(8, torch.device('cpu'), rng)
    with torch.no_grad():
        maps = gen.warp(gen.map_structure(z_s))
    # coordinate_spread is checked against a looped definition above.
    expected = float(coordinate_spread(maps)) * (gen.grid_size - 1) / 2
    assert hook.spreads == [(10, pytest.approx(expected, rel=1e-5))]
    assert expected > 0.5 and hook.num_warnings == 0
    # A warper whose output ignores w_s: every code gets the same map.
    last = [m for m in gen.warper.modules()
            if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))][-1]
    with torch.no_grad():
        last.weight.zero_()
    runner.iter = 19
    hook.after_train_iter(runner, 1, None, None)
    assert hook.spreads[-1][1] < 1e-5 and hook.num_warnings == 1


def test_warp_loss_alone_moves_a_collapsed_map_toward_the_true_match():
    # img2 is img1 moved k px right, so pixel x of img2 shows canonical point
    # C1(x - k). C2 starts as C1 (collapsed: the identity match, k px off);
    # gradient steps on the warp loss alone (L1 in place of LPIPS) must pull
    # it toward the truth.
    torch.manual_seed(0)
    size, k = 16, 2
    img1 = F.interpolate(torch.rand(1, 3, 4, 4), size=(size, size),
                         mode='bilinear', align_corners=False)
    img2 = torch.roll(img1, k, dims=3)
    grid = canonical_grid(size)
    step = 2 / (size - 1)
    truth = grid.clone()
    truth[:, 0] -= k * step
    c2 = grid.clone().requires_grad_(True)
    loss_fn = WarpLoss(tau=0.01)
    opt = torch.optim.Adam([c2], lr=0.01)
    inner = (slice(None), slice(None), slice(2, size - 2),
             slice(k + 2, size - 2))

    def error_px():
        return float((c2.detach() - truth)[inner].abs().mean()) / step

    before = error_px()
    for _ in range(60):
        loss = loss_fn(torch.cat([img1, img2]), torch.cat([grid, c2]),
                       lambda a, b: (a - b).abs().mean(dim=(1, 2, 3)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert before == pytest.approx(1.0)  # x error k px, y error 0: mean 1
    assert error_px() < 0.7 * before


def test_spread_of_a_generator_and_of_the_data():
    from coordgan.datasets import SyntheticPartsDataset
    from coordgan.evaluation.structure import dataset_spread, generator_spread
    gen = tiny_model().generator_ema.module
    assert generator_spread(gen, num=8, batch_size=3) > 0
    last = [m for m in gen.warper.modules()
            if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))][-1]
    with torch.no_grad():
        last.weight.zero_()
    assert generator_spread(gen, num=8, batch_size=3) < 1e-6
    data = SyntheticPartsDataset(num_samples=6, img_size=16)
    maps = torch.stack([
        torch.as_tensor(data.get_data_info(i)['gt_coords']).permute(2, 0, 1)
        for i in range(6)])
    assert dataset_spread(data, num=6) == pytest.approx(
        float(coordinate_spread(maps)))
    assert dataset_spread(data, num=6, size=8) > 0
    from coordgan.evaluation.structure import dataset_true_maps
    coords, fg = dataset_true_maps(data, num=4, foreground=True)
    assert torch.equal(coords, maps[:4])
    assert torch.equal(fg, torch.stack([
        torch.as_tensor(data.get_data_info(i)['gt_seg_map'] != 0)
        for i in range(4)]))
    small, small_fg = dataset_true_maps(data, num=4, size=8, foreground=True)
    assert small.shape == (4, 2, 8, 8) and small_fg.shape == (4, 8, 8)
    # nearest resizing keeps every other pixel of the 16 px masks
    assert torch.equal(small_fg, fg[:, ::2, ::2]) or torch.equal(
        small_fg, fg[:, 1::2, 1::2])
    class NoCoords(list):
        def get_data_info(self, i):
            return {}

    with pytest.raises(KeyError, match='gt_coords'):
        dataset_spread(NoCoords([0]), num=1)

    class NoLabels(list):
        def get_data_info(self, i):
            return dict(gt_coords=torch.zeros(4, 4, 2))

    with pytest.raises(KeyError, match='item 0 has no gt_seg_map'):
        dataset_true_maps(NoLabels([0]), num=1, foreground=True)


class _StubGenerator(torch.nn.Module):
    """A generator whose picture is a known function of C^w (or not)."""

    grid_size = out_size = 16
    z_dim = 4
    num_latents = 1

    def __init__(self, follows_frame=True, pose_from='structure'):
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))
        self.follows_frame = follows_frame
        self.pose_from = pose_from

    def sample_codes(self, num, device=None, generator=None):
        return (torch.randn(num, 4, generator=generator),
                torch.randn(num, 4, generator=generator))

    def make_noise(self, num, device=None, generator=None):
        return []

    def map_structure(self, z):
        return z

    def map_texture(self, z):
        return z

    def warp(self, w_s):
        from coordgan.ops import canonical_grid
        grid = canonical_grid(16).expand(w_s.shape[0], -1, -1, -1).clone()
        if self.pose_from == 'structure':
            grid[:, 0] += 0.3 * w_s[:, :1, None]
        return grid

    def synthesis(self, corr, w_t, noise):
        w_t = w_t.reshape(w_t.shape[0], -1)
        if self.pose_from == 'texture':
            corr = corr.clone()
            corr[:, 0] += 0.3 * w_t[:, :1, None]
        if not self.follows_frame:
            from coordgan.ops import canonical_grid
            corr = canonical_grid(16).expand_as(corr)
        # a disc of radius 0.5 around the canonical origin, coloured by w_t
        inside = (corr.pow(2).sum(1, keepdim=True) < 0.25).float()
        colour = torch.tanh(w_t[:, 1:4])[:, :, None, None]
        return inside * colour - (1 - inside) * colour.flip(1)

    def synthesize(self, w_s, w_t, noise=None):
        from coordgan.models.generators.base import GeneratorOutput
        corr = self.warp(w_s)
        return GeneratorOutput(self.synthesis(corr, w_t, noise), corr)


def test_frame_following_tells_a_frame_following_renderer_from_one_that_ignores_it():
    from coordgan.evaluation.structure import frame_following
    follows = frame_following(_StubGenerator(True), shift_px=3, num=8)
    assert follows['to_moved'] < 1e-6 < follows['to_unmoved']
    ignores = frame_following(_StubGenerator(False), shift_px=3, num=8)
    assert ignores['to_unmoved'] < 1e-6 < ignores['to_moved']
    with pytest.raises(ValueError, match='shift_px'):
        frame_following(_StubGenerator(), shift_px=8)


def test_swap_distances_say_which_code_carries_the_pose():
    from coordgan.evaluation.structure import swap_edge_distances
    by_structure = swap_edge_distances(_StubGenerator(), num=16)
    by_texture = swap_edge_distances(_StubGenerator(pose_from='texture'),
                                     num=16)
    # Colours change with every texture; edges move only with the pose.
    assert by_structure['structure'] > by_structure['texture']
    assert by_texture['texture'] > by_texture['structure']
    assert by_texture['structure'] < 0.05


def test_warp_consistency_tells_maps_that_explain_the_pictures():
    from coordgan.evaluation.structure import warp_consistency
    # The picture is drawn from C^w, which moves with w_s: carried through
    # the maps, one picture becomes the other.
    follows = warp_consistency(_StubGenerator(True), num=8, tau=0.002)
    assert follows['warped'] < 0.3 * follows['unwarped']
    # The maps move but the picture does not: same-texture pictures are
    # identical, and carrying them through the maps only breaks them.
    ignores = warp_consistency(_StubGenerator(False), num=8, tau=0.002)
    assert ignores['unwarped'] < 1e-3 < 0.1 < ignores['warped']


def test_match_displacements_on_hand_made_moves():
    from coordgan.evaluation.structure import match_displacements
    ys, xs = torch.meshgrid(torch.arange(8.), torch.arange(8.),
                            indexing='ij')
    pix = torch.stack([xs, ys])
    # The object moves 2 px right from image 0 to image 1: a query pixel's
    # true match is 2 px to its right (inside image 1's object).
    true = torch.stack([pix, pix - torch.tensor([2., 0.]).view(2, 1, 1)])
    fg = torch.zeros(2, 8, 8, dtype=torch.bool)
    fg[0, :, 1:5] = True
    fg[1, :, 3:7] = True
    exact = match_displacements(true, true, fg)
    assert exact['identity_px'] == pytest.approx(2)
    assert exact['slope'] == pytest.approx(1)
    assert exact['error_px'] == pytest.approx(0)
    same = match_displacements(torch.stack([pix, pix]), true, fg)
    assert same['slope'] == pytest.approx(0)
    assert same['error_px'] == pytest.approx(2)
    half = torch.stack([pix, pix - torch.tensor([1., 0.]).view(2, 1, 1)])
    halfway = match_displacements(half, true, fg)
    assert halfway['slope'] == pytest.approx(0.5)
    assert halfway['error_px'] == pytest.approx(1)
    with pytest.raises(ValueError, match='even number'):
        match_displacements(true[:1], true[:1], fg[:1])


def test_warper_reach_finds_codes_that_draw_the_true_maps():
    from coordgan.evaluation.structure import warper_reach
    gen = _StubGenerator()
    spacing = 2 / 15
    # The stub's maps are the grid moved by 0.3 * w_s[0] along x: moves
    # of 0 and 2 grid steps are within its reach.
    steps = [0, 2, 1, -1]
    true = canonical_grid(16).repeat(4, 1, 1, 1)
    true[:, 0] += torch.tensor(steps).view(4, 1, 1) * spacing
    # the object (canonical x within the middle half) moves left with it
    fg = torch.zeros(4, 16, 16, dtype=torch.bool)
    for i, k in enumerate(steps):
        fg[i, 4:12, 4 - k:12 - k] = True
    for space in ('w', 'z'):
        fitted = warper_reach(gen, true, fg, space=space, steps=300)
        assert fitted['fit'] < 1e-4
        assert fitted['slope'] == pytest.approx(1, abs=0.02)
        assert fitted['error_px'] < 0.05 * fitted['identity_px']
    # No fitting: every image gets the mean code's map, the identity match.
    unfitted = warper_reach(gen, true, fg, space='w', steps=0)
    assert unfitted['slope'] == pytest.approx(0, abs=0.02)
    assert unfitted['error_px'] == pytest.approx(unfitted['identity_px'],
                                                 rel=0.02)
    assert gen.anchor.requires_grad
    with pytest.raises(ValueError, match="space must be 'z' or 'w'"):
        warper_reach(gen, true, fg, space='x')
