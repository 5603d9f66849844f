import os.path as osp

import pytest
import torch
from mmengine import Config

from coordgan.registry import DISCRIMINATORS

MODEL_CONFIG = osp.join(osp.dirname(__file__), '..', '..', 'configs',
                        '_base_', 'models', 'coordgan_128.py')


@pytest.mark.parametrize('size', [128, 256, 512])
def test_image_discriminator_shapes(size):
    d = DISCRIMINATORS.build(dict(type='StyleGAN2Discriminator', in_size=size,
                                  channel_scale=1 / 64))
    assert d(torch.randn(4, 3, size, size)).shape == (4, 1)
    with pytest.raises(ValueError, match='expects'):
        d(torch.randn(4, 3, size // 2, size // 2))


def test_image_discriminator_uses_the_batch_statistics():
    d = DISCRIMINATORS.build(dict(type='StyleGAN2Discriminator', in_size=16,
                                  channel_scale=1 / 32))
    x = torch.randn(4, 3, 16, 16)
    alone = d(x[:1])
    together = d(x)[:1]
    assert not torch.allclose(alone, together)  # minibatch-stddev feature


def test_patch_discriminator_crops_and_logits():
    d = DISCRIMINATORS.build(dict(type='PatchCooccurrenceDiscriminator'))
    img = torch.randn(2, 3, 128, 128)
    ref = d.sample_crops(img, d.num_ref_crops)
    target = d.sample_crops(img, d.num_target_crops)
    assert ref.shape == (2, 8, 3, 32, 32)
    assert d.extract_features(ref).shape == (2, 8, 1024)
    assert d(target, ref).shape == (2, 8)
    with pytest.raises(ValueError, match='same number'):
        d(target, ref[:1])


def test_patch_discriminator_references_are_averaged():
    d = DISCRIMINATORS.build(dict(type='PatchCooccurrenceDiscriminator',
                                  crop_size=16, channels=(8, 8, 8),
                                  hidden_dim=8))
    target = torch.randn(1, 3, 3, 16, 16)
    ref = torch.randn(1, 4, 3, 16, 16)
    # Order of the references does not matter; only their mean feature.
    torch.testing.assert_close(d(target, ref), d(target, ref.flip(1)))
    with pytest.raises(ValueError, match='crop_size'):
        DISCRIMINATORS.build(dict(type='PatchCooccurrenceDiscriminator',
                                  crop_size=8))


@pytest.mark.parametrize('sampling', ['authors', 'affine'])
def test_patch_discriminator_samples_with_its_configured_sampler(sampling):
    from coordgan.ops import random_crops
    d = DISCRIMINATORS.build(dict(type='PatchCooccurrenceDiscriminator',
                                  crop_size=16, channels=(8, 8, 8),
                                  hidden_dim=8, sampling=sampling))
    img = torch.randn(2, 3, 64, 64)
    crops = d.sample_crops(img, 4, torch.Generator().manual_seed(5))
    expected = random_crops(img, 4, 16, (1 / 8, 1 / 4), flip=True,
                            generator=torch.Generator().manual_seed(5),
                            sampling=sampling)
    torch.testing.assert_close(crops, expected, rtol=0, atol=0)
    other = random_crops(img, 4, 16, (1 / 8, 1 / 4), flip=True,
                         generator=torch.Generator().manual_seed(5),
                         sampling={'authors': 'affine',
                                   'affine': 'authors'}[sampling])
    assert not torch.allclose(crops, other)


def test_patch_discriminator_defaults_to_the_authors_sampler():
    assert DISCRIMINATORS.build(
        dict(type='PatchCooccurrenceDiscriminator')).sampling == 'authors'
    cfg = Config.fromfile(MODEL_CONFIG)
    assert cfg.model.patch_discriminator.sampling == 'authors'
    with pytest.raises(ValueError, match="sampling must be one of"):
        DISCRIMINATORS.build(dict(type='PatchCooccurrenceDiscriminator',
                                  sampling='bilinear'))
