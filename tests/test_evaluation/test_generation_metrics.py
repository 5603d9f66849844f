"""Swap LPIPS and FID: their invariants on weights the tests create, the cache, the test loop end to end."""
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import scipy.linalg
import torch
from PIL import Image

from coordgan.engine.runner import sample_codes, swap_triplets
from coordgan.evaluation import FIDMetric, SwapLPIPSMetric, frechet_distance
from coordgan.evaluation.arcface import MissingArcFaceWeightsError
from coordgan.evaluation.inception import (FID_WEIGHTS_FILE,
                                           MissingInceptionWeightsError,
                                           build_fid_inception_v3)
from coordgan.evaluation.metrics.fid import (feature_statistics,
                                             to_unit_range)
from coordgan.registry import DATASETS, METRICS
from helpers import tiny_model

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
RANDOM_LPIPS = dict(type='LPIPS', net='vgg', random_backbone=True)


def scipy_frechet(mu1, s1, mu2, s2):
    """pytorch-fid's formula with scipy.linalg.sqrtm, the reference."""
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    covmean = np.real(covmean)
    diff = mu1 - mu2
    return diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)


def random_covariance(rng, dim, rank=None):
    a = rng.standard_normal((dim, rank or 2 * dim))
    return a @ a.T / a.shape[1]


@pytest.mark.parametrize('dim,rank', [(2, None), (8, None), (32, None),
                                      (16, 20)])
def test_frechet_distance_equals_scipy_reference(dim, rank):
    rng = np.random.default_rng(dim)
    mu1, mu2 = rng.standard_normal(dim), rng.standard_normal(dim)
    s1 = random_covariance(rng, dim, rank)
    s2 = random_covariance(rng, dim, rank)
    expected = scipy_frechet(mu1, s1, mu2, s2)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(
        expected, rel=1e-6, abs=1e-8)
    # Symmetric, and zero for one Gaussian against itself.
    assert frechet_distance(mu2, s2, mu1, s1) == pytest.approx(
        expected, rel=1e-6)
    assert abs(frechet_distance(mu1, s1, mu1, s1)) < 1e-8


def test_frechet_distance_of_known_gaussians():
    # N(0, a I) vs N(m, b I): |m|^2 + D (sqrt(a) - sqrt(b))^2.
    dim, a, b = 5, 4.0, 1.0
    m = np.arange(dim, dtype=float)
    value = frechet_distance(np.zeros(dim), a * np.eye(dim), m,
                             b * np.eye(dim))
    assert value == pytest.approx(m @ m + dim * (2.0 - 1.0) ** 2)
    with pytest.raises(ValueError, match='different sizes'):
        frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))


# ---------------------------------------------------------------- LPIPS
def swap_samples(image, texture_swap, structure_swap):
    return [dict(image=i, texture_swap=t, structure_swap=s)
            for i, t, s in zip(image, texture_swap, structure_swap)]


def test_swap_lpips_is_zero_for_identical_images():
    metric = METRICS.build(dict(type='SwapLPIPSMetric', lpips=RANDOM_LPIPS))
    assert not metric.lpips.training
    x = torch.rand(4, 3, 32, 32) * 2 - 1
    y = torch.rand(4, 3, 32, 32) * 2 - 1
    metric.process(None, swap_samples(x, x.clone(), y))
    metric.process(None, swap_samples(x[:2], x[:2].clone(), y[:2]))
    out = metric.evaluate(6)
    assert out['swap/lpips_texture'] == pytest.approx(0.0, abs=1e-6)
    assert out['swap/lpips_structure'] > 1e-3
    assert out['swap/num_pairs'] == 6


def test_swap_lpips_checks_swaps():
    with pytest.raises(ValueError, match='texture'):
        SwapLPIPSMetric(lpips=RANDOM_LPIPS, swaps=('pose', ))


def test_identical_codes_give_zero_swap_distance():
    model = tiny_model().eval()
    generator = model.generator_ema.module
    z_s, z_s2, z_t, z_t2, noise = sample_codes(generator, [0, 1, 2], seed=0)
    # Texture code shared: the "texture swap" changes nothing.
    # Equal up to float rounding: the three images share one batched call,
    # and multi-threaded kernels may round batch rows differently.
    image, tex, struct = swap_triplets(generator, z_s, z_s2, z_t, z_t, noise)
    torch.testing.assert_close(image, tex, rtol=0, atol=1e-5)
    assert not torch.allclose(image, struct)
    image, tex, struct = swap_triplets(generator, z_s, z_s, z_t, z_t2, noise)
    torch.testing.assert_close(image, struct, rtol=0, atol=1e-5)
    assert not torch.allclose(image, tex)
    metric = SwapLPIPSMetric(lpips=RANDOM_LPIPS)
    metric.process(None, swap_samples(image, image.clone(), struct))
    out = metric.evaluate(3)
    assert out['swap/lpips_texture'] == pytest.approx(0.0, abs=1e-6)
    assert out['swap/lpips_structure'] == pytest.approx(0.0, abs=1e-6)


def test_sample_codes_depend_on_index_only():
    generator = tiny_model().generator_ema.module
    whole = sample_codes(generator, [0, 1, 2, 3], seed=5)
    part = sample_codes(generator, [2, 3], seed=5)
    for a, b in zip(whole[:4], part[:4]):
        assert torch.equal(a[2:], b)
    for a, b in zip(whole[4], part[4]):
        assert torch.equal(a[2:], b)
    other_seed = sample_codes(generator, [2, 3], seed=6)
    assert not torch.equal(part[0], other_seed[0])
    with pytest.raises(ValueError, match='at least 2'):
        DATASETS.build(dict(type='GenerationIndexDataset', num_samples=1))


# ------------------------------------------------------------------ FID
@pytest.fixture(scope='module')
def inception_weights(tmp_path_factory):
    """Random weights saved as pytorch-fid's state dict, under the real file name."""
    path = tmp_path_factory.mktemp('weights') / FID_WEIGHTS_FILE
    torch.manual_seed(3)
    net = build_fid_inception_v3()
    # He init keeps the random features O(1) through 90-odd layers (the
    # default init shrinks them to ~1e-7, too close to round-off).
    for module in net.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity='relu')
    torch.save(net.state_dict(), path)
    return str(path)


def write_images(folder, images):
    """(N, 3, H, W) in [0, 1] -> PNG files in ``folder``."""
    os.makedirs(folder, exist_ok=True)
    for i, image in enumerate(images):
        array = (image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        Image.fromarray(array).save(osp.join(folder, f'{i:03d}.png'))


@pytest.fixture(scope='module')
def real_images():
    g = torch.Generator().manual_seed(0)
    base = torch.rand(1, 3, 8, 8, generator=g)
    noise = torch.rand(16, 3, 8, 8, generator=g)
    images = 0.5 * base + 0.5 * noise
    return torch.nn.functional.interpolate(images, size=32, mode='nearest')


@pytest.fixture(scope='module')
def fid_metric(inception_weights, real_images, tmp_path_factory):
    folder = tmp_path_factory.mktemp('real')
    write_images(str(folder), real_images)
    return METRICS.build(dict(
        type='FIDMetric', real_dir=str(folder),
        inception_weights=inception_weights,
        cache_dir=str(tmp_path_factory.mktemp('cache')), batch_size=8))


def fid_of(metric, images_unit):
    metric.results.clear()
    samples = [dict(image=x * 2 - 1) for x in images_unit]
    metric.process(None, samples[:10])
    metric.process(None, samples[10:])
    return metric.evaluate(len(samples))['FID/fid']


def test_fid_of_the_real_set_is_zero_and_grows_with_a_shift(
        fid_metric, real_images):
    assert not fid_metric.inception.training
    same = fid_of(fid_metric, real_images)
    small = fid_of(fid_metric, (real_images + 0.1).clamp(0, 1))
    large = fid_of(fid_metric, (real_images + 0.3).clamp(0, 1))
    assert abs(same) < 1e-6 * max(large, 1.0)
    assert 0 < small < large
    assert fid_metric.results == []


def test_fid_real_statistics_cache(fid_metric, real_images):
    fid_metric.real_statistics()
    mu, sigma, num = fid_metric.real_statistics()
    assert fid_metric.last_cache == 'hit' and num == len(real_images)
    cached = os.listdir(fid_metric.cache_dir)
    assert len(cached) == 1 and cached[0].startswith('fid_stats_')
    # Same statistics as computed from scratch (from the 8-bit files).
    feats = fid_metric._features(to_unit_range(real_images * 2 - 1))
    mu_ref, sigma_ref = feature_statistics(feats)
    np.testing.assert_allclose(mu, mu_ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sigma, sigma_ref, rtol=1e-4, atol=1e-6)
    # One file rewritten (new content, size and mtime): measured again.
    victim = osp.join(fid_metric.real_dir, '000.png')
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(victim)
    stat = os.stat(victim)
    os.utime(victim, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    mu2, _, _ = fid_metric.real_statistics()
    assert fid_metric.last_cache == 'miss'
    assert not np.allclose(mu, mu2, rtol=1e-3, atol=0)
    fid_metric.real_statistics()
    assert fid_metric.last_cache == 'hit'
    # Other options: another key.
    fid_metric.real_size = 16
    fid_metric.real_statistics()
    assert fid_metric.last_cache == 'miss'
    fid_metric.real_size = None
    assert len(os.listdir(fid_metric.cache_dir)) == 3


def test_fid_missing_weights_names_the_path(tmp_path):
    missing = str(tmp_path / 'nowhere' / FID_WEIGHTS_FILE)
    with pytest.raises(MissingInceptionWeightsError) as info:
        FIDMetric(real_dir=str(tmp_path), inception_weights=missing)
    assert missing in str(info.value)
    assert 'nothing is downloaded' in str(info.value)


def test_fid_rejects_a_wrong_weights_file(tmp_path):
    path = tmp_path / FID_WEIGHTS_FILE
    torch.save({'fc.weight': torch.zeros(2, 2)}, path)
    with pytest.raises(ValueError, match='not a pytorch-fid Inception'):
        FIDMetric(real_dir=str(tmp_path), inception_weights=str(path))


def test_fid_real_folder_errors(fid_metric, tmp_path):
    metric = FIDMetric.__new__(FIDMetric)
    metric.__dict__.update(fid_metric.__dict__)
    metric.real_dir = str(tmp_path / 'absent')
    with pytest.raises(FileNotFoundError, match='absent'):
        metric.real_statistics()
    write_images(str(tmp_path / 'mixed'), torch.rand(2, 3, 16, 16))
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(
        tmp_path / 'mixed' / 'small.png')
    metric.real_dir, metric.cache_dir = str(tmp_path / 'mixed'), None
    with pytest.raises(ValueError, match='set real_size'):
        metric.real_statistics()


# ----------------------------------------------------- end to end (Runner)
def stage1_checkpoint(config, path):
    from mmengine.config import Config

    from coordgan.registry import MODELS, init_default_scope
    init_default_scope('coordgan')
    model = MODELS.build(Config.fromfile(config).model)
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)


def run_test_tool(*args):
    return subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'test.py'), *args], cwd=ROOT,
        capture_output=True, text=True, timeout=600,
        env=dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1'))


def test_test_tool_prints_generation_metrics(tmp_path, inception_weights,
                                             real_images):
    """tools/test.py CONFIG CKPT on a stage-1 checkpoint: swap LPIPS and FID in one table."""
    config = 'configs/eval_swap_synthetic.py'
    ckpt = str(tmp_path / 'iter_1.pth')
    stage1_checkpoint(config, ckpt)
    write_images(str(tmp_path / 'real'), real_images[:8])
    # The synthetic config with an FID metric added (on a tiny real folder).
    test_config = tmp_path / 'eval_swap_fid.py'
    test_config.write_text(
        f"_base_ = [{osp.join(ROOT, config)!r}]\n"
        "test_evaluator = [\n"
        "    dict(type='SwapLPIPSMetric', lpips=dict(type='LPIPS', "
        "allow_random_backbone=True)),\n"
        f"    dict(type='FIDMetric', real_dir={str(tmp_path / 'real')!r}, "
        f"inception_weights={inception_weights!r}, "
        f"cache_dir={str(tmp_path / 'cache')!r}),\n]\n")
    out = tmp_path / 'metrics.json'
    result = run_test_tool(
        str(test_config), ckpt, '--work-dir', str(tmp_path / 'work'),
        '--out', str(out), '--cfg-options',
        'test_dataloader.dataset.num_samples=6',
        'test_dataloader.batch_size=4')
    assert result.returncode == 0, result.stderr[-3000:]
    for key in ('swap/lpips_texture', 'swap/lpips_structure', 'FID/fid'):
        assert key in result.stdout
    metrics = json.loads(out.read_text())['metrics']
    assert metrics['swap/num_pairs'] == 6 and metrics['FID/num_fake'] == 6
    assert metrics['FID/num_real'] == 8
    assert metrics['swap/lpips_texture'] > 0
    assert metrics['FID/fid'] > 0


def test_paper_config_builds_its_metrics_or_names_missing_weights():
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(ROOT, 'configs/eval_swap_celeba.py'))
    assert cfg.test_dataloader.dataset.num_samples == 5000
    assert cfg.test_cfg.type == 'GenerationTestLoop'
    fid = [m for m in cfg.test_evaluator if m['type'] == 'FIDMetric'][0]
    with pytest.raises(MissingInceptionWeightsError,
                       match=fid['inception_weights']):
        METRICS.build(fid)


def test_missing_weights_stop_tools_test_before_building(tmp_path):
    """prepare_test_config (tools/test.py) names the missing VGG or Inception file."""
    from mmengine.config import Config

    from coordgan.apis import prepare_test_config
    from coordgan.models.losses.perceptual import MissingBackboneError
    path = osp.join(ROOT, 'configs/eval_swap_celeba.py')
    cfg = Config.fromfile(path)
    cfg.test_evaluator[0].lpips.backbone_weights = str(tmp_path / 'vgg.pth')
    with pytest.raises(FileNotFoundError, match='vgg.pth'):
        prepare_test_config(cfg, path, work_dir=str(tmp_path))
    cfg = Config.fromfile(path)
    cfg.test_evaluator[0].lpips.allow_random_backbone = True
    with pytest.raises(MissingInceptionWeightsError,
                       match=cfg.test_evaluator[1].inception_weights):
        prepare_test_config(cfg, path, work_dir=str(tmp_path))
    assert issubclass(MissingBackboneError, FileNotFoundError)
    # With the Inception file in place, the missing IR-SE50 is named next.
    inception = tmp_path / 'inception.pth'
    inception.write_bytes(b'')
    cfg.test_evaluator[1].inception_weights = str(inception)
    arcface = [m for m in cfg.test_evaluator
               if m.type == 'ArcFaceIdentityMetric'][0]
    arcface.arcface_weights = str(tmp_path / 'model_ir_se50.pth')
    with pytest.raises(MissingArcFaceWeightsError, match='model_ir_se50'):
        prepare_test_config(cfg, path, work_dir=str(tmp_path))
