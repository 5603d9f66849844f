"""GAN Factorization (SeFa): directions against brute-force references, perturbations that move w_t only, the config under the Runner."""
import copy
import os.path as osp

import numpy as np
import pytest
import torch

from coordgan.engine.runner import sample_codes, swap_triplets
from coordgan.engine.runner.generation_loop import sefa_triplets
from coordgan.evaluation import SwapLPIPSMetric, sefa_directions
from coordgan.evaluation.sefa import perturb_w_plus, sefa_plan
from helpers import tiny_model, tiny_model_cfg

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
RANDOM_LPIPS = dict(type='LPIPS', net='vgg', random_backbone=True)


@pytest.fixture(scope='module')
def generator():
    torch.manual_seed(4)
    return tiny_model().eval().generator_ema.module


def raw_affines(generator, convs_only=None):
    """Style-affine weights (C, D) of every modulated layer, read by attribute name, times 1/sqrt(D)."""
    syn = generator.synthesis
    if convs_only is not None:
        layers = [syn.convs[i].conv for i in convs_only]
    else:
        layers = [syn.conv1.conv, syn.to_rgb1.conv]
        layers += [c.conv for c in syn.convs] + [t.conv for t in syn.to_rgbs]
    mats = []
    for layer in layers:
        w = layer.modulation.weight.detach().double().numpy()
        mats.append(w / np.sqrt(w.shape[1]))  # EqualLinear, lr_mul 1
    return mats


def brute_force_gram(mats, normalize):
    """A^T A as a sum of outer products of A's rows, one by one."""
    dim = mats[0].shape[1]
    gram = np.zeros((dim, dim))
    for mat in mats:
        for row in mat:
            if normalize:
                row = row / np.sqrt(np.sum(row**2))
            gram += np.outer(row, row)
    return gram


def assert_same_up_to_sign(a, b, atol):
    for u, v in zip(a, b):
        sign = np.sign(u @ v)
        np.testing.assert_allclose(u, sign * v, atol=atol)


@pytest.mark.parametrize('normalize', [True, False])
@pytest.mark.parametrize('layers', ['all', (-2, -1)])
def test_directions_are_eigenvectors_of_brute_force_gram(generator, normalize,
                                                        layers):
    num = 4
    result = sefa_directions(generator, num=num, layers=layers,
                             normalize=normalize)
    d = result.directions.double().numpy()
    assert d.shape == (num, generator.style_dim)
    np.testing.assert_allclose(d @ d.T, np.eye(num), atol=1e-6)
    num_convs = len(generator.synthesis.convs)
    convs_only = None if layers == 'all' else [num_convs - 2, num_convs - 1]
    gram = brute_force_gram(raw_affines(generator, convs_only), normalize)
    values, vectors = np.linalg.eigh(gram)
    order = np.argsort(values)[::-1][:num]
    # Distinct eigenvalues, else eigenvectors are not unique.
    assert np.min(-np.diff(values[order])) > 1e-3 * values[order[0]]
    np.testing.assert_allclose(result.eigenvalues.double().numpy(),
                               values[order], rtol=1e-5)
    assert_same_up_to_sign(d, vectors[:, order].T, atol=1e-5)
    for v, lam in zip(d, values[order]):
        np.testing.assert_allclose(gram @ v, lam * v, rtol=0,
                                   atol=1e-5 * values[order[0]])
    if layers == 'all':
        assert result.slots == tuple(range(generator.num_latents))
    else:
        # convs[k] reads W+ slot k + 1.
        assert result.slots == (num_convs - 1, num_convs)


def test_top_direction_maximises_the_modulation_change(generator):
    mats = raw_affines(generator)
    a = np.concatenate([m / np.linalg.norm(m, axis=1, keepdims=True)
                        for m in mats])
    top = sefa_directions(generator, num=1).directions[0].double().numpy()
    best = np.linalg.norm(a @ top)
    rng = np.random.default_rng(0)
    units = rng.standard_normal((2000, a.shape[1]))
    units /= np.linalg.norm(units, axis=1, keepdims=True)
    assert np.linalg.norm(units @ a.T, axis=1).max() <= best * (1 + 1e-9)
    # ... and SVD's top right singular vector is the same direction.
    _, s, vt = np.linalg.svd(a)
    assert_same_up_to_sign(top[None], vt[:1], atol=1e-5)
    assert best == pytest.approx(s[0], rel=1e-6)


def test_directions_have_a_fixed_sign_and_checked_arguments(generator):
    d = sefa_directions(generator, num=3).directions
    peak = d.abs().argmax(dim=1)
    assert (d[torch.arange(3), peak] > 0).all()
    with pytest.raises(ValueError, match='num'):
        sefa_directions(generator, num=generator.style_dim + 1)
    with pytest.raises(ValueError, match='out of range'):
        sefa_directions(generator, layers=(99, ))
    with pytest.raises(ValueError, match="'all'"):
        sefa_directions(generator, layers='last')
    with pytest.raises(TypeError, match='CoordGAN generator'):
        sefa_directions(torch.nn.Linear(2, 2))


def test_perturbation_moves_only_the_selected_slots():
    w_plus = torch.randn(2, 6, 4)
    offsets = torch.randn(2, 4)
    out = perturb_w_plus(w_plus, offsets, (1, 4))
    for slot in range(6):
        expected = w_plus[:, slot] + (offsets if slot in (1, 4) else 0)
        torch.testing.assert_close(out[:, slot], expected)
    assert sefa_plan([0, 1, 2, 3, 4, 5], 3) == ([0, 1, 2, 0, 1, 2],
                                                 [1, 1, 1, -1, -1, -1])


def test_sefa_pairs_keep_the_correspondence_map(generator):
    z_s, z_s2, z_t, z_t2, noise = sample_codes(generator, [0, 1, 2], seed=0)
    sefa = sefa_directions(generator, num=2, layers=(-2, -1))
    offsets = 3.0 * sefa.directions[[0, 1, 0]]
    image, edited, struct = sefa_triplets(generator, z_s, z_s2, z_t, offsets,
                                          sefa.slots, noise)
    # Only w_t moves: C^w is bit for bit the same; the image is not.
    assert torch.equal(image.corr_map, edited.corr_map)
    assert (edited.image - image.image).abs().amax((1, 2, 3)).min() > 1e-4
    # Image and structure swap as the texture-swap loop draws them.
    ref_image, _, ref_struct = swap_triplets(generator, z_s, z_s2, z_t, z_t2,
                                             noise)
    torch.testing.assert_close(image.image, ref_image, rtol=0, atol=1e-5)
    torch.testing.assert_close(struct.image, ref_struct, rtol=0, atol=1e-5)
    # No offset: the pair is one image.
    image, edited, _ = sefa_triplets(generator, z_s, z_s2, z_t,
                                     torch.zeros_like(offsets), sefa.slots,
                                     noise)
    torch.testing.assert_close(image.image, edited.image, rtol=0, atol=1e-5)


def sefa_runner_cfg(tmp_path, num_samples):
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(ROOT, 'configs/eval_sefa_synthetic.py'))
    cfg.model = tiny_model_cfg()
    cfg.work_dir = str(tmp_path / 'work')
    cfg.test_dataloader.dataset.num_samples = num_samples
    cfg.test_dataloader.batch_size = 2
    cfg.test_evaluator[0].lpips = copy.deepcopy(RANDOM_LPIPS)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.log_level = 'WARNING'
    cfg.visualizer = None
    return cfg


def test_sefa_config_runs_under_the_runner(tmp_path):
    """configs/eval_sefa_synthetic.py on a tiny model: the Runner's number equals the pairs scored by hand."""
    from coordgan.apis import build_runner
    from coordgan.registry import init_default_scope
    init_default_scope('coordgan')
    num = 5
    cfg = sefa_runner_cfg(tmp_path, num)
    runner = build_runner(cfg)
    metrics = runner.test()
    assert metrics['GANFactorization/num_pairs'] == num
    value = metrics['GANFactorization/lpips_texture']
    assert value > 0
    # The same pairs by hand: direction i mod 5, + then -, last two convs.
    generator = runner.model.generator_ema.module
    sefa = cfg.test_cfg.sefa
    found = sefa_directions(generator, num=sefa.num_directions,
                            layers=sefa.layers)
    indices = list(range(num))
    which, signs = sefa_plan(indices, sefa.num_directions)
    offsets = sefa.distance * torch.tensor(signs)[:, None].float() * (
        found.directions[which])
    z_s, z_s2, z_t, _, noise = sample_codes(generator, indices,
                                            cfg.test_cfg.seed)
    image, edited, struct = sefa_triplets(generator, z_s, z_s2, z_t, offsets,
                                          found.slots, noise)
    metric = SwapLPIPSMetric(lpips=RANDOM_LPIPS, swaps=('texture', ))
    metric.process(None, [dict(image=i, texture_swap=t)
                          for i, t in zip(image.image, edited.image)])
    expected = metric.evaluate(num)['swap/lpips_texture']
    assert value == pytest.approx(expected, rel=1e-4, abs=1e-6)
    # Not the codes' texture swap: the loop's sefa mode made the pairs.
    codes_cfg = sefa_runner_cfg(tmp_path / 'codes', num)
    codes_cfg.test_cfg.pop('sefa')
    codes = build_runner(codes_cfg)
    codes.model.load_state_dict(runner.model.state_dict())
    other = codes.test()['GANFactorization/lpips_texture']
    assert abs(other - value) > 1e-4


def test_loop_rejects_unknown_sefa_keys(tmp_path):
    from coordgan.apis import build_runner
    from coordgan.registry import init_default_scope
    init_default_scope('coordgan')
    cfg = sefa_runner_cfg(tmp_path, 2)
    cfg.test_cfg.sefa.alpha = 2.0
    with pytest.raises(ValueError, match='distance'):
        build_runner(cfg).test()
