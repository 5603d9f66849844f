"""ResNet-50 feature baselines (Table 1): checkpoint formats, layer3 features, propagation rules."""
import argparse
import copy
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision

from coordgan.models.baselines import (MoCoFeatures, ResNet50Features, VFSFeatures,
                                       mmaction_to_torchvision)
from coordgan.ops import topk_propagation, topk_similarity
from coordgan.registry import FEATURE_EXTRACTORS

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
SIZE = 64
FILE_NAMES = {
    'torchvision': 'resnet50-0676ba61.pth',
    'moco': 'moco_v2_800ep_pretrain.pth.tar',
    'vfs': 'r50_nc_sgd_cos_100e_r5_1xNx2_k400-d7ce3ad0.pth',
    'vfs_training': 'r50_nc_sgd_cos_100e_r5_1xNx2_k400-d7ce3ad0.pth',
}
EXTRACTOR = {'torchvision': ResNet50Features, 'moco': MoCoFeatures,
             'vfs': VFSFeatures, 'vfs_training': VFSFeatures}
DISPLAY = {'torchvision': 'ResNet50 (ImageNet)', 'moco': 'MoCo v2 (ImageNet)',
           'vfs': 'VFS (Kinetics)', 'vfs_training': 'VFS (Kinetics)'}


# --------------------------------------------------------------------------- files
@pytest.fixture(scope='module')
def random_net():
    """A seeded torchvision ResNet-50 whose batch norms all differ, so a misplaced BN key shows."""
    gen = torch.Generator().manual_seed(7)
    net = torchvision.models.resnet50(weights=None)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                n = module.num_features
                module.weight.copy_(torch.rand(n, generator=gen) + 0.5)
                module.bias.copy_(torch.randn(n, generator=gen) * 0.1)
                module.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
                module.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
                module.num_batches_tracked.fill_(1234)
    return net.eval()


def to_mmaction(key):
    """torchvision ResNet key -> mmaction ConvModule key, written out independently of the package."""
    parts = key.split('.')
    if parts[0] == 'conv1':
        return 'conv1.conv.' + parts[1]
    if parts[0] == 'bn1':
        return 'conv1.bn.' + parts[1]
    layer, block, module = parts[:3]
    if module == 'downsample':
        return f"{layer}.{block}.downsample.{'conv' if parts[3] == '0' else 'bn'}.{parts[4]}"
    if module.startswith('conv'):
        return f'{layer}.{block}.{module}.conv.{parts[3]}'
    return f"{layer}.{block}.conv{module[2:]}.bn.{parts[3]}"  # bnN -> convN.bn


def checkpoint_object(fmt, net):
    """The content of each released (or training) file, built from ``net``'s torchvision state dict."""
    state = net.state_dict()
    if fmt == 'torchvision':
        return state
    if fmt == 'moco':
        body = {'module.encoder_q.' + k: v for k, v in state.items() if not k.startswith('fc.')}
        body.update({
            'module.encoder_q.fc.0.weight': torch.randn(2048, 2048),
            'module.encoder_q.fc.0.bias': torch.randn(2048),
            'module.encoder_q.fc.2.weight': torch.randn(128, 2048),
            'module.encoder_q.fc.2.bias': torch.randn(128),
            'module.encoder_k.conv1.weight': torch.randn(64, 3, 7, 7),
            'module.queue': torch.randn(128, 16),
            'module.queue_ptr': torch.zeros(1, dtype=torch.long),
        })
        optimizer = {'state': {}, 'param_groups': [
            {'lr': 0.03, 'momentum': 0.9, 'weight_decay': 1e-4, 'params': [0, 1]}]}
        return {'epoch': 800, 'arch': 'resnet50', 'state_dict': body, 'optimizer': optimizer}
    if fmt == 'vfs':  # tools/convert_weights/convert_to_pretrained.py output
        return {'state_dict': {k: v for k, v in state.items() if not k.startswith('fc.')},
                'meta': {}}
    assert fmt == 'vfs_training'
    body = {'backbone.' + to_mmaction(k): v for k, v in state.items() if not k.startswith('fc.')}
    body['img_head.projection_fcs.0.fc.weight'] = torch.randn(16, 2048)
    body['img_head.predictor_fcs.0.fc.weight'] = torch.randn(16, 16)
    return {'meta': {'epoch': 100}, 'state_dict': body}


@pytest.fixture(scope='module')
def checkpoint_files(random_net, tmp_path_factory):
    """fmt -> (torch home holding hub/checkpoints/<real file name>, path of that file)."""
    files = {}
    for fmt, name in FILE_NAMES.items():
        home = tmp_path_factory.mktemp(f'torch_home_{fmt}')
        folder = home / 'hub' / 'checkpoints'
        folder.mkdir(parents=True)
        torch.save(checkpoint_object(fmt, random_net), folder / name)
        files[fmt] = (str(home), str(folder / name))
    return files


@pytest.fixture
def torch_home(monkeypatch, tmp_path):
    """Point torch.hub.get_dir() at $TORCH_HOME/hub; returns a setter (default: an empty home)."""
    # A set_dir() from elsewhere would win over $TORCH_HOME.
    monkeypatch.setattr(torch.hub, '_hub_dir', None)

    def use(home):
        monkeypatch.setenv('TORCH_HOME', str(home))
        return home

    use(tmp_path / 'empty_torch_home')
    return use


# --------------------------------------------------------------------------- references
def images(n=2, size=48, seed=3):
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def reference_features(net, imgs, size=SIZE):
    """Resize, [-1, 1] -> ImageNet-normalised, conv1 .. layer3 of ``net`` itself, unit length over channels."""
    x = F.interpolate(imgs, size=(size, size), mode='bilinear', align_corners=False)
    x = ((x + 1) / 2 - MEAN) / STD
    with torch.no_grad():
        x = net.maxpool(net.relu(net.bn1(net.conv1(x))))
        x = net.layer3(net.layer2(net.layer1(x)))
    return x / x.norm(dim=1, keepdim=True)


def brute_force_propagation(query, ref, values, k, temperature):
    """Loops over batch and query rows in numpy: softmax(sim / T) over the k most similar refs."""
    q, r, v = (t.double().numpy() for t in (query, ref, values))
    out = np.zeros((q.shape[0], q.shape[1], v.shape[2]))
    for b in range(q.shape[0]):
        for i in range(q.shape[1]):
            sims = [float(np.dot(q[b, i], r[b, j])) for j in range(r.shape[1])]
            top = sorted(range(len(sims)), key=lambda j: -sims[j])[:k]
            weights = np.array([np.exp((sims[j] - sims[top[0]]) / temperature) for j in top])
            weights /= weights.sum()
            out[b, i] = sum(w * v[b, j] for w, j in zip(weights, top))
    return torch.from_numpy(out)


def unit_rows(*shape, seed=0):
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return x / x.norm(dim=-1, keepdim=True)


# --------------------------------------------------------------------------- weights
@pytest.mark.parametrize('fmt', list(FILE_NAMES))
def test_each_format_loads_layer3_of_the_original_net(fmt, random_net, checkpoint_files,
                                                      torch_home):
    home, path = checkpoint_files[fmt]
    imgs = images()
    expected = reference_features(random_net, imgs)
    cls = EXTRACTOR[fmt]
    # 1) a path in the config, with an empty hub cache
    from_path = cls(checkpoint=path, input_size=SIZE)
    assert from_path.display_name == DISPLAY[fmt]
    assert not from_path.random_weights
    torch.testing.assert_close(from_path.describe(imgs), expected, rtol=1e-4, atol=1e-5)
    # 2) the real file name under $TORCH_HOME/hub/checkpoints, no path in the config
    torch_home(home)
    cached = FEATURE_EXTRACTORS.build(dict(type=cls.__name__, input_size=SIZE))
    assert cached.weights_source == path
    torch.testing.assert_close(cached.describe(imgs), expected, rtol=1e-4, atol=1e-5)
    assert expected.shape == (2, 1024, SIZE // 16, SIZE // 16)


def test_out_stride_8_is_layer3_with_stride_1(random_net, checkpoint_files):
    net = copy.deepcopy(random_net)
    net.layer3[0].conv2.stride = (1, 1)
    net.layer3[0].downsample[0].stride = (1, 1)
    imgs = images()
    extractor = ResNet50Features(checkpoint=checkpoint_files['torchvision'][1],
                                 input_size=SIZE, out_stride=8)
    out = extractor.describe(imgs)
    assert out.shape == (2, 1024, SIZE // 8, SIZE // 8)
    torch.testing.assert_close(out, reference_features(net, imgs), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('out_stride,cells', [(8, 16), (16, 8)])
def test_feature_grid_at_128(out_stride, cells):
    extractor = VFSFeatures(random_weights=True, out_stride=out_stride)
    assert extractor.input_size == 128
    out = extractor.describe(images(1, 100))
    assert out.shape == (1, 1024, cells, cells)
    torch.testing.assert_close(out.norm(dim=1), torch.ones(1, cells, cells))


@pytest.mark.parametrize('cls', [ResNet50Features, MoCoFeatures, VFSFeatures])
def test_missing_weights_name_both_places(cls, torch_home):
    cache = os.path.join(torch.hub.get_dir(), 'checkpoints', cls.default_checkpoint)
    with pytest.raises(FileNotFoundError) as info:
        cls(input_size=32)
    msg = str(info.value)
    assert cache in msg and 'checkpoint=' in msg and 'random_weights=True' in msg
    with pytest.raises(FileNotFoundError) as info:
        cls(checkpoint='/no/such/weights.pth', input_size=32)
    assert '/no/such/weights.pth' in str(info.value) and cache in str(info.value)


def test_moco_file_given_to_resnet50_lists_keys_and_path(checkpoint_files):
    path = checkpoint_files['moco'][1]
    with pytest.raises(ValueError) as info:
        ResNet50Features(checkpoint=path, input_size=32)
    msg = str(info.value)
    assert path in msg
    assert 'missing' in msg and 'conv1.weight' in msg
    assert 'unexpected' in msg and 'state_dict' in msg
    assert 'MoCoFeatures' in msg  # the hint names the extractor that reads it


def test_torchvision_file_given_to_moco_and_vfs_is_refused(checkpoint_files):
    path = checkpoint_files['torchvision'][1]
    for cls in (MoCoFeatures, VFSFeatures):
        with pytest.raises(ValueError) as info:
            cls(checkpoint=path, input_size=32)
        msg = str(info.value)
        assert path in msg and 'conv1.weight' in msg and 'unexpected' in msg
        assert 'ResNet50Features' in msg


def test_truncated_and_misshapen_files_are_refused(random_net, tmp_path):
    state = random_net.state_dict()
    truncated = {k: v for k, v in state.items() if not k.startswith('layer3.5.')}
    path = tmp_path / 'truncated.pth'
    torch.save(truncated, path)
    with pytest.raises(ValueError) as info:
        ResNet50Features(checkpoint=str(path), input_size=32)
    assert str(path) in str(info.value) and 'layer3.5.conv1.weight' in str(info.value)

    vfs = {'state_dict': {'backbone.' + to_mmaction(k): v for k, v in state.items()
                          if not k.startswith(('fc.', 'layer2.1.'))}}
    path = tmp_path / 'vfs_truncated.pth'
    torch.save(vfs, path)
    with pytest.raises(ValueError, match=r'layer2\.1\.bn2\.weight'):
        VFSFeatures(checkpoint=str(path), input_size=32)

    misshapen = dict(state, **{'layer1.0.conv1.weight': torch.zeros(3)})
    path = tmp_path / 'misshapen.pth'
    torch.save(misshapen, path)
    with pytest.raises(ValueError, match=r'layer1\.0\.conv1\.weight \(3,\)'):
        ResNet50Features(checkpoint=str(path), input_size=32)


def test_file_needing_full_unpickling_is_refused(tmp_path):
    path = tmp_path / 'pickled.pth'
    torch.save({'state_dict': argparse.Namespace(lr=0.1)}, path)
    with pytest.raises(ValueError, match='unpickling') as info:
        ResNet50Features(checkpoint=str(path), input_size=32)
    assert str(path) in str(info.value)


def test_mmaction_names_map_to_torchvision():
    assert mmaction_to_torchvision('conv1.conv.weight') == 'conv1.weight'
    assert mmaction_to_torchvision('conv1.bn.running_var') == 'bn1.running_var'
    assert mmaction_to_torchvision('layer1.0.conv3.bn.bias') == 'layer1.0.bn3.bias'
    assert mmaction_to_torchvision('layer3.5.conv2.conv.weight') == 'layer3.5.conv2.weight'
    assert mmaction_to_torchvision('layer2.0.downsample.conv.weight') == 'layer2.0.downsample.0.weight'
    assert (mmaction_to_torchvision('layer2.0.downsample.bn.num_batches_tracked')
            == 'layer2.0.downsample.1.num_batches_tracked')
    assert mmaction_to_torchvision('img_head.fc.weight') is None


# --------------------------------------------------------------------------- random weights
@pytest.mark.parametrize('cls,name', [(ResNet50Features, 'ResNet50 (random weights)'),
                                      (MoCoFeatures, 'MoCo v2 (random weights)'),
                                      (VFSFeatures, 'VFS (random weights)')])
def test_random_weights_are_seeded_and_leave_the_global_rng(cls, name, torch_home):
    rng_before = torch.get_rng_state()
    first = cls(random_weights=True, input_size=32)
    assert torch.equal(torch.get_rng_state(), rng_before)
    torch.manual_seed(123)  # a different global state must not change the weights
    second = cls(random_weights=True, input_size=32)
    assert first.display_name == name and first.random_weights
    for (key, a), b in zip(first.state_dict().items(), second.state_dict().values()):
        assert torch.equal(a, b), key
    imgs = images(1, 32)
    assert torch.equal(first.describe(imgs), second.describe(imgs))


def test_bad_arguments_name_the_choices(tmp_path):
    with pytest.raises(ValueError, match=r"\('nearest', 'topk'\)"):
        ResNet50Features(random_weights=True, propagation='top-k')
    with pytest.raises(ValueError, match=r'\(8, 16\)'):
        ResNet50Features(random_weights=True, out_stride=4)
    with pytest.raises(ValueError, match='contradict'):
        ResNet50Features(random_weights=True, checkpoint=str(tmp_path / 'x.pth'))


def test_stays_frozen_in_eval_mode():
    extractor = MoCoFeatures(random_weights=True, input_size=32)
    extractor.train()
    assert not any(m.training for m in extractor.modules())
    assert not any(p.requires_grad for p in extractor.parameters())


# --------------------------------------------------------------------------- ops
@pytest.mark.parametrize('chunk_size', [1, 4, None])
@pytest.mark.parametrize('k,temperature', [(3, 0.07), (3, 0.5), (1, 0.07), (50, 0.2)])
def test_topk_propagation_matches_brute_force(k, temperature, chunk_size):
    query, ref = unit_rows(2, 9, 5, seed=1), unit_rows(2, 11, 5, seed=2)
    values = torch.rand(2, 11, 4, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    out = topk_propagation(query, ref, values, topk=k, temperature=temperature,
                           chunk_size=chunk_size)
    assert out.shape == (2, 9, 4) and out.dtype == torch.float64
    torch.testing.assert_close(out, brute_force_propagation(query, ref, values, k, temperature))


def test_nearest_is_a_copy_of_the_best_match_and_float32_works():
    query, ref = unit_rows(1, 20, 8, seed=4).float(), unit_rows(1, 30, 8, seed=5).float()
    values = torch.randn(1, 30, 3, generator=torch.Generator().manual_seed(6))
    best = (query @ ref.transpose(1, 2)).argmax(-1)
    out = topk_propagation(query, ref, values, topk=1, chunk_size=7)
    torch.testing.assert_close(out, values[0, best[0]].unsqueeze(0))
    sims, indices = topk_similarity(query, ref, 3, chunk_size=7)
    assert torch.equal(indices[..., 0], best)
    assert (sims[..., :-1] >= sims[..., 1:]).all()


def test_ops_reject_bad_shapes():
    q, r = torch.randn(1, 4, 3), torch.randn(1, 5, 3)
    with pytest.raises(ValueError, match='values'):
        topk_propagation(q, r, torch.randn(1, 4, 2))
    with pytest.raises(ValueError, match='ref'):
        topk_propagation(q, torch.randn(1, 5, 2), torch.randn(1, 5, 2))
    with pytest.raises(ValueError, match='topk'):
        topk_similarity(q, r, 0)
    with pytest.raises(ValueError, match='temperature'):
        topk_propagation(q, r, torch.randn(1, 5, 2), temperature=0)


# --------------------------------------------------------------------------- propagate / match
def descriptor_maps(seed):
    gen = torch.Generator().manual_seed(seed)
    query = torch.randn(2, 6, 3, 4, generator=gen)  # unnormalised: the extractor normalises
    ref = torch.randn(2, 6, 2, 5, generator=gen)
    labels = torch.rand(2, 3, 8, 20, generator=gen)  # 4 x 4 label pixels per ref cell
    return query, ref, labels


def flat_unit(x):
    x = x.flatten(2).transpose(1, 2).double()
    return x / x.norm(dim=-1, keepdim=True)


@pytest.mark.parametrize('propagation,k', [('nearest', 1), ('topk', 3)])
def test_propagate_area_averages_labels_then_applies_the_rule(propagation, k):
    extractor = ResNet50Features(random_weights=True, input_size=32, propagation=propagation,
                                 topk=k, temperature=0.3)
    query, ref, labels = descriptor_maps(8)
    out = extractor.propagate(query, ref, labels)
    assert out.shape == (2, 3, 3, 4)
    cells = labels.reshape(2, 3, 2, 4, 5, 4).mean(dim=(3, 5))  # block means per ref cell
    expected = brute_force_propagation(flat_unit(query), flat_unit(ref),
                                       cells.flatten(2).transpose(1, 2).double(), k, 0.3)
    torch.testing.assert_close(out.double(), expected.transpose(1, 2).reshape(2, 3, 3, 4),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('propagation', ['nearest', 'topk'])
def test_match_returns_best_cell_and_documented_confidence(propagation):
    extractor = VFSFeatures(random_weights=True, input_size=32, propagation=propagation,
                            topk=4, temperature=0.2)
    query, ref, _ = descriptor_maps(9)
    pos, confidence = extractor.match(query, ref)
    assert pos.shape == (2, 3, 4, 2) and confidence.shape == (2, 3, 4)
    q, r = flat_unit(query), flat_unit(ref)
    for b in range(2):
        for i in range(12):
            sims = [float(q[b, i] @ r[b, j]) for j in range(10)]
            order = sorted(range(10), key=lambda j: -sims[j])
            y, x = divmod(i, 4)
            assert pos[b, y, x].tolist() == [order[0] % 5, order[0] // 5]
            if propagation == 'nearest':
                want = (1 + sims[order[0]]) / 2
            else:
                top = np.array([sims[j] for j in order[:4]])
                want = 1 / np.exp((top - top[0]) / 0.2).sum()
            assert confidence[b, y, x].item() == pytest.approx(want, rel=1e-5)
    assert ((confidence >= 0) & (confidence <= 1)).all()


def test_random_stand_ins_differ_between_methods():
    # Three rows of the same random network would look like a bug in a table.
    nets = [cls(random_weights=True, input_size=32)
            for cls in (ResNet50Features, MoCoFeatures, VFSFeatures)]
    weights = [n.backbone.conv1.weight for n in nets]
    assert not torch.equal(weights[0], weights[1])
    assert not torch.equal(weights[1], weights[2])
    assert len({n.weights_source for n in nets}) == 3
