"""ArcFace identity distance: IR-SE50 in pSp's file format, its invariants, the metric under the Runner."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

from coordgan.engine.runner import sample_codes, swap_triplets
from coordgan.evaluation import ArcFace, ArcFaceIdentityMetric
from coordgan.evaluation.arcface import (ARCFACE_WEIGHTS_FILE,
                                         MissingArcFaceWeightsError,
                                         face_crop, identity_distance)
from coordgan.registry import METRICS
from helpers import tiny_model

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))


# ------------------------------------------------- pSp's file, by hand
# Written from the description of pSp's Backbone(112, 50, 'ir_se')
# (models/encoders/model_irse.py, helpers.py), not from the library's
# modules: stages of (in, out, units) with stride 2 on each first unit;
# a unit is res_layer = [BN(in), conv3x3(in->out), PReLU(out),
# conv3x3(out->out, stride), BN(out), SE(out, 16): fc1, fc2 1x1 convs
# without bias] and shortcut_layer = [conv1x1(in->out), BN(out)] when the
# width changes (else a parameter-free max pool); input_layer = [conv3x3
# (3->64), BN, PReLU]; output_layer = [BN2d(512), Dropout, Flatten,
# Linear(512*7*7, 512), BN1d(512)].
STAGES = [(64, 64, 3), (64, 128, 4), (128, 256, 14), (256, 512, 3)]


def bn(prefix, c):
    return {f'{prefix}.weight': (c, ), f'{prefix}.bias': (c, ),
            f'{prefix}.running_mean': (c, ), f'{prefix}.running_var': (c, ),
            f'{prefix}.num_batches_tracked': ()}


def psp_shapes():
    """Key -> shape of pSp's model_ir_se50.pth state dict."""
    shapes = {'input_layer.0.weight': (64, 3, 3, 3)}
    shapes.update(bn('input_layer.1', 64))
    shapes['input_layer.2.weight'] = (64, )
    n = 0
    for cin, cout, units in STAGES:
        for u in range(units):
            c_in = cin if u == 0 else cout
            p = f'body.{n}'
            if c_in != cout:
                shapes[f'{p}.shortcut_layer.0.weight'] = (cout, c_in, 1, 1)
                shapes.update(bn(f'{p}.shortcut_layer.1', cout))
            shapes.update(bn(f'{p}.res_layer.0', c_in))
            shapes[f'{p}.res_layer.1.weight'] = (cout, c_in, 3, 3)
            shapes[f'{p}.res_layer.2.weight'] = (cout, )
            shapes[f'{p}.res_layer.3.weight'] = (cout, cout, 3, 3)
            shapes.update(bn(f'{p}.res_layer.4', cout))
            shapes[f'{p}.res_layer.5.fc1.weight'] = (cout // 16, cout, 1, 1)
            shapes[f'{p}.res_layer.5.fc2.weight'] = (cout, cout // 16, 1, 1)
            n += 1
    shapes.update(bn('output_layer.0', 512))
    shapes['output_layer.3.weight'] = (512, 512 * 7 * 7)
    shapes['output_layer.3.bias'] = (512, )
    shapes.update(bn('output_layer.4', 512))
    return shapes


def irse50_parameter_count():
    """Learnable parameters of IR-SE50, summed per layer from the architecture."""
    total = 3 * 64 * 9 + 2 * 64 + 64  # input conv, BN, PReLU
    for cin, cout, units in STAGES:
        for u in range(units):
            c_in = cin if u == 0 else cout
            total += 2 * c_in + c_in * cout * 9 + cout + cout * cout * 9
            total += 2 * cout + 2 * cout * (cout // 16)  # BN, SE
            if c_in != cout:
                total += c_in * cout + 2 * cout
    total += 2 * 512 + 512 * 49 * 512 + 512 + 2 * 512
    return total


def random_psp_state(seed=0, with_counters=True):
    """Random tensors under pSp's keys; He-scaled so embeddings stay finite and distinct."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in psp_shapes().items():
        if key.endswith('num_batches_tracked'):
            if with_counters:
                state[key] = torch.tensor(0)
        elif key.endswith('running_var'):
            state[key] = 0.5 + torch.rand(shape, generator=g)
        elif key.endswith('running_mean') or key.endswith('bias'):
            state[key] = 0.1 * torch.randn(shape, generator=g)
        elif len(shape) == 1:  # BN scale, PReLU slope
            state[key] = 0.25 + 0.5 * torch.rand(shape, generator=g)
        else:
            fan_in = torch.Size(shape[1:]).numel()
            state[key] = torch.randn(shape, generator=g) * (1 / fan_in)**0.5
    return state


@pytest.fixture(scope='module')
def arcface_weights(tmp_path_factory):
    path = tmp_path_factory.mktemp('weights') / ARCFACE_WEIGHTS_FILE
    torch.save(random_psp_state(), path)
    return str(path)


@pytest.fixture(scope='module')
def arcface(arcface_weights):
    return ArcFace(arcface_weights)


def test_irse50_parameter_count_derived_by_hand():
    # Stage by stage: 1,920 + 223,680 + 1,124,992 + 16,385,792 +
    # 13,213,696 + 12,847,616.
    assert irse50_parameter_count() == 43_797_696
    params = {k: s for k, s in psp_shapes().items()
              if not any(k.endswith(b) for b in (
                  'running_mean', 'running_var', 'num_batches_tracked'))}
    assert sum(torch.Size(s).numel() for s in params.values()) == 43_797_696


def test_psp_file_loads_with_strict_keys(arcface, arcface_weights):
    net = arcface.net
    state = net.state_dict()
    expected = psp_shapes()
    assert list(state) == list(expected)
    assert {k: tuple(v.shape) for k, v in state.items()} == expected
    assert sum(p.numel() for p in net.parameters()) == 43_797_696
    saved = torch.load(arcface_weights, weights_only=True)
    for key in ('input_layer.0.weight', 'body.3.shortcut_layer.0.weight',
                'body.23.res_layer.5.fc2.weight', 'output_layer.3.weight'):
        assert torch.equal(state[key], saved[key])
    assert not arcface.training and not arcface.train().training
    assert not any(p.requires_grad for p in arcface.parameters())


def test_file_without_batch_counters_loads(tmp_path):
    """Files saved by older PyTorch have no num_batches_tracked entries."""
    path = tmp_path / ARCFACE_WEIGHTS_FILE
    torch.save(random_psp_state(1, with_counters=False), path)
    ArcFace(str(path))


def test_wrong_file_is_rejected(tmp_path):
    state = random_psp_state()
    key = 'body.0.res_layer.1.weight'
    state[key.replace('body.0', 'body.99')] = state.pop(key)
    path = tmp_path / ARCFACE_WEIGHTS_FILE
    torch.save(state, path)
    with pytest.raises(ValueError, match='not an IR-SE50 state dict'):
        ArcFace(str(path))


def test_missing_weights_name_the_path_and_the_file(tmp_path):
    missing = str(tmp_path / 'nowhere' / ARCFACE_WEIGHTS_FILE)
    with pytest.raises(MissingArcFaceWeightsError) as info:
        METRICS.build(dict(type='ArcFaceIdentityMetric',
                           arcface_weights=missing))
    assert missing in str(info.value)
    assert 'model_ir_se50.pth' in str(info.value)
    assert 'nothing is downloaded' in str(info.value)
    assert issubclass(MissingArcFaceWeightsError, FileNotFoundError)


def test_face_crop_is_psps():
    x = torch.randn(2, 3, 256, 256)
    crop = face_crop(x)
    assert crop.shape == (2, 3, 112, 112)
    # 188 -> 112 adaptive pooling: window of output pixel (i, j) starts
    # at floor(i * 188 / 112); check a few entries by hand.
    for i, j in [(0, 0), (5, 17), (111, 111)]:
        r0, r1 = (i * 188) // 112, -(-(i + 1) * 188 // 112)
        c0, c1 = (j * 188) // 112, -(-(j + 1) * 188 // 112)
        window = x[:, :, 35 + r0:35 + r1, 32 + c0:32 + c1]
        torch.testing.assert_close(crop[:, :, i, j], window.mean((2, 3)))
    # Other sizes are pooled to 256 first, as pSp's AdaptiveAvgPool2d((256,
    # 256)): a 128-px image reads as its pixels repeated 2 x 2.
    small = torch.randn(2, 3, 128, 128)
    repeated = small.repeat_interleave(2, 2).repeat_interleave(2, 3)
    torch.testing.assert_close(face_crop(small), face_crop(repeated))


def test_arcface_of_an_image_and_itself_is_zero(arcface):
    x = torch.rand(3, 3, 64, 64) * 2 - 1
    y = torch.rand(3, 3, 64, 64) * 2 - 1
    emb_x, emb_y = arcface(x), arcface(y)
    assert emb_x.shape == (3, 512)
    torch.testing.assert_close(emb_x.norm(dim=1), torch.ones(3))
    assert torch.isfinite(emb_x).all()
    assert identity_distance(emb_x, arcface(x.clone())).abs().max() < 1e-5
    assert (identity_distance(emb_x, emb_y) > 1e-4).all()


def swap_samples(image, texture_swap, structure_swap):
    return [dict(image=i, texture_swap=t, structure_swap=s)
            for i, t, s in zip(image, texture_swap, structure_swap)]


def test_identical_codes_give_zero_identity_distance(arcface_weights):
    generator = tiny_model().eval().generator_ema.module
    z_s, z_s2, z_t, _, noise = sample_codes(generator, [0, 1], seed=0)
    # Texture code shared: the texture swap is the same image.
    image, tex, struct = swap_triplets(generator, z_s, z_s2, z_t, z_t, noise)
    metric = METRICS.build(dict(type='ArcFaceIdentityMetric',
                                arcface_weights=arcface_weights))
    metric.process(None, swap_samples(image, tex, struct))
    out = metric.evaluate(2)
    assert out['ArcFace/texture'] == pytest.approx(0.0, abs=1e-5)
    assert out['ArcFace/structure'] > 1e-4
    assert out['ArcFace/num_pairs'] == 2


def test_metric_checks_swaps(arcface_weights):
    with pytest.raises(ValueError, match='texture'):
        ArcFaceIdentityMetric(arcface_weights=arcface_weights,
                              swaps=('pose', ))


def test_metric_runs_under_the_runner(tmp_path, arcface_weights):
    """tools/test.py on the synthetic stage-1 config with the ArcFace metric added."""
    from mmengine.config import Config

    from coordgan.registry import MODELS, init_default_scope
    config = osp.join(ROOT, 'configs/eval_swap_synthetic.py')
    init_default_scope('coordgan')
    model = MODELS.build(Config.fromfile(config).model)
    ckpt = str(tmp_path / 'iter_1.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    test_config = tmp_path / 'eval_swap_arcface.py'
    test_config.write_text(
        f'_base_ = [{config!r}]\n'
        'test_evaluator = [\n'
        "    dict(type='ArcFaceIdentityMetric', swaps=('texture', ), "
        f'arcface_weights={arcface_weights!r}),\n]\n')
    out = tmp_path / 'metrics.json'
    result = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'test.py'), str(test_config),
         ckpt, '--work-dir', str(tmp_path / 'work'), '--out', str(out),
         '--cfg-options', 'test_dataloader.dataset.num_samples=3',
         'test_dataloader.batch_size=2'],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env=dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1'))
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'ArcFace/texture' in result.stdout
    metrics = json.loads(out.read_text())['metrics']
    assert metrics['ArcFace/num_pairs'] == 3
    assert 0 < metrics['ArcFace/texture'] <= 2
