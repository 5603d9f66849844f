import pytest
import torch
from mmengine.runner.checkpoint import save_checkpoint

from coordgan.registry import MODELS, OPTIM_WRAPPER_CONSTRUCTORS
from helpers import changed, fake_batch, snapshot, tiny_model_cfg
from tiny_configs import tiny_model


def inversion_cfg(**kwargs):
    cfg = dict(type='CoordGANInversion',
               encoder=dict(type='CoordGANEncoder'),
               generator=dict(type='CoordGANGenerator'),
               perceptual=dict(type='LPIPS'))
    cfg = tiny_model(cfg)
    cfg.update(kwargs)
    return cfg


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
