
import pytest
import torch

from coordgan.engine import lazy_regularization_correction
from coordgan.registry import MODELS
from helpers import (changed, fake_batch, optim_wrappers, snapshot,
                     tiny_model, tiny_model_cfg)


def test_d_step_changes_d_only_and_g_step_changes_g_only():
    model = tiny_model()
    wrappers = optim_wrappers(model)
    real = model.data_preprocessor(fake_batch(), True)['inputs']
    nets = dict(g=model.generator, d=model.discriminator,
                patch_d=model.patch_discriminator, ema=model.generator_ema,
                lpips=model.perceptual)
    before = {k: snapshot(v) for k, v in nets.items()}

    gen = model.step_generator(real.device)
    log = model.discriminator_step(real, 0, wrappers['discriminator'], gen)
    assert {'loss_gan_d', 'loss_structure_swap_d', 'loss_r1',
            'loss_patch_r1'} <= set(log)
    assert changed(before['d'], model.discriminator)
    assert changed(before['patch_d'], model.patch_discriminator)
    for name in ('g', 'ema', 'lpips'):
        assert not changed(before[name], nets[name]), name

    before = {k: snapshot(v) for k, v in nets.items()}
    log = model.generator_step(4, real.device, 0, wrappers['generator'], gen)
    assert {'loss_gan', 'loss_structure_swap', 'loss_texture_swap',
            'loss_chamfer', 'loss_warp'} <= set(log)
    assert changed(before['g'], model.generator)
    for name in ('d', 'patch_d', 'ema', 'lpips'):
        assert not changed(before[name], nets[name]), name
    # Nothing leaks into the discriminators' gradients from the G step.
    assert all(p.grad is None or not p.grad.any()
               for p in model.discriminator.parameters())
    assert all(p.requires_grad for p in model.discriminator.parameters())


def test_lpips_is_in_no_optimizer_and_never_changes():
    model = tiny_model()
    wrappers = optim_wrappers(model)
    optimized = {id(p) for w in wrappers.values()
                 for group in w.optimizer.param_groups for p in group['params']}
    assert not any(id(p) in optimized for p in model.perceptual.parameters())
    assert not any(id(p) in optimized
                   for p in model.generator_ema.parameters())
    before = snapshot(model.perceptual)
    model.train()
    for _ in range(2):
        model.train_step(fake_batch(), wrappers)
    assert not changed(before, model.perceptual)
    assert not model.perceptual.training


def test_ema_moves_toward_g_by_the_half_life_rule():
    model = tiny_model()
    with torch.no_grad():
        for p in model.generator.parameters():
            p.add_(1.0)
    # mmengine's EMA: the first update copies G.
    model.update_ema(images_per_step=16)
    for new, g in zip(model.generator_ema.module.parameters(),
                      model.generator.parameters()):
        assert torch.equal(new, g)
    with torch.no_grad():
        for p in model.generator.parameters():
            p.add_(1.0)
    ema_before = [p.clone() for p in model.generator_ema.module.parameters()]
    model.update_ema(images_per_step=16)
    beta = 0.5**(16 / 5000)
    assert beta == pytest.approx(0.5**(32 / 10000))  # the reference decay
    for old, new, g in zip(ema_before, model.generator_ema.module.parameters(),
                           model.generator.parameters()):
        torch.testing.assert_close(new, beta * old + (1 - beta) * g)
        assert (new - g).abs().sum() < (old - g).abs().sum()


def test_ema_half_life_halves_the_old_weight():
    # Start: EMA 0, G 1. After half_life / images_per_step updates toward a
    # constant G the EMA sits half-way: 0.5 exactly (up to float rounding).
    model = MODELS.build(dict(tiny_model_cfg(), ema_half_life_images=64))
    model.update_ema(8)  # first update: copy
    with torch.no_grad():
        for p in model.generator_ema.module.parameters():
            p.zero_()
        for p in model.generator.parameters():
            p.fill_(1.0)
    for _ in range(64 // 8):
        model.update_ema(8)
    for p in model.generator_ema.module.parameters():
        torch.testing.assert_close(p, torch.full_like(p, 0.5))


def test_ema_checkpoint_layout_is_the_generators_and_old_ones_load(tmp_path):
    model = tiny_model()
    state = model.state_dict()
    g_keys = {k[len('generator.'):] for k in state
              if k.startswith('generator.')}
    ema_keys = {k[len('generator_ema.'):] for k in state
                if k.startswith('generator_ema.')}
    # Key for key the trained generator's, plus mmengine's update counter.
    assert ema_keys == g_keys | {'steps'}
    assert not any(k.startswith('generator_ema.module.') for k in state)
    # A checkpoint written before HalfLifeEMA (no counter) keeps its EMA:
    # the next update averages instead of copying G over it.
    old = {k: v for k, v in state.items() if k != 'generator_ema.steps'}
    marked = next(k for k in old if k.startswith('generator_ema.') and
                  old[k].is_floating_point())
    old[marked] = torch.full_like(old[marked], 7.0)
    fresh = tiny_model()
    fresh.load_state_dict(old)
    assert int(fresh.generator_ema.steps) == 1
    fresh.update_ema(16)
    name = marked[len('generator_ema.'):]
    value = dict(fresh.generator_ema.module.named_parameters())[name]
    assert (value > 6.0).all()
    # mmengine's own nested layout loads too.
    nested = {('generator_ema.module.' + k[len('generator_ema.'):]
               if k.startswith('generator_ema.') and
               k != 'generator_ema.steps' else k): v
              for k, v in state.items()}
    other = tiny_model()
    other.load_state_dict(nested)
    for k, v in other.state_dict().items():
        assert torch.equal(v, state[k]), k


def test_train_step_counts_iterations_and_needs_pairs():
    model = tiny_model()
    wrappers = optim_wrappers(model)
    model.train_step(fake_batch(), wrappers)
    model.train_step(fake_batch(), wrappers)
    assert int(model.iteration) == 2
    assert 'iteration' in model.state_dict()
    with pytest.raises(ValueError, match='even'):
        model.train_step(fake_batch(num=3), wrappers)


def test_losses_can_be_switched_and_unknown_names_fail():
    model = tiny_model(warp=None, structure_swap=None, patch_r1=None)
    assert 'warp' not in model.losses
    log = model.train_step(fake_batch(), optim_wrappers(model))
    assert 'loss_warp' not in log and 'loss_structure_swap_d' not in log
    from coordgan.registry import MODELS
    from helpers import tiny_model_cfg
    cfg = tiny_model_cfg()
    cfg['losses']['wrap'] = dict(type='WrapLoss')
    with pytest.raises(KeyError, match='WrapLoss'):
        MODELS.build(cfg)
    # A registered module that is not a training loss (a distance).
    cfg = tiny_model_cfg()
    cfg['losses']['edges'] = dict(type='EdgeDistance')
    with pytest.raises(TypeError, match='losses.edges: EdgeDistance'):
        MODELS.build(cfg)
    cfg = tiny_model_cfg(gan=None, structure_swap=None)
    with pytest.raises(KeyError, match='none trains the discriminator'):
        MODELS.build(cfg)


def test_rng_state_is_part_of_the_checkpoint():
    model = tiny_model()
    wrappers = optim_wrappers(model)
    model.train_step(fake_batch(), wrappers)
    state = model.state_dict()
    copy = tiny_model()
    copy.load_state_dict(state)
    cpu = torch.device('cpu')
    a = model.generator.sample_codes(2, cpu, model.step_generator(cpu))
    b = copy.generator.sample_codes(2, cpu, copy.step_generator(cpu))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_lazy_regularization_correction():
    lr, betas = lazy_regularization_correction(0.002, (0.0, 0.99), 16)
    assert lr == pytest.approx(0.002 * 16 / 17)
    assert betas == (0.0, pytest.approx(0.99**(16 / 17)))
    lr, betas = lazy_regularization_correction(0.002, (0.0, 0.99), 4)
    assert lr == pytest.approx(0.0016) and betas[1] == pytest.approx(0.99**0.8)
    model = tiny_model(r1=dict(interval=16), patch_r1=dict(interval=16))
    wrappers = optim_wrappers(model)
    g = wrappers['generator'].optimizer.param_groups[0]
    d = wrappers['discriminator'].optimizer.param_groups[0]
    assert g['lr'] == pytest.approx(0.0016)
    assert d['betas'][1] == pytest.approx(0.99**(16 / 17))
    d_params = {id(p) for p in d['params']}
    assert all(id(p) in d_params
               for p in model.patch_discriminator.parameters())


def test_d_optimizer_correction_follows_the_r1_interval():
    # The interval is written once, in the R1 losses; the D optimizer's
    # correction follows it (the schedule config no longer repeats it).
    model = tiny_model(r1=dict(interval=2), patch_r1=dict(interval=2))
    d = optim_wrappers(model)['discriminator'].optimizer.param_groups[0]
    assert d['lr'] == pytest.approx(0.002 * 2 / 3)
    assert d['betas'][1] == pytest.approx(0.99**(2 / 3))
    # Two penalties on one optimizer must agree on it.
    with pytest.raises(ValueError, match='different intervals'):
        optim_wrappers(tiny_model(r1=dict(interval=16),
                                  patch_r1=dict(interval=8)))
    # A schedule that still names a different interval is refused.
    from mmengine.config import Config
    from coordgan.registry import OPTIM_WRAPPER_CONSTRUCTORS
    cfg = Config.fromfile(
        'configs/_base_/schedules/coordgan_300k.py').optim_wrapper.to_dict()
    cfg['discriminator']['reg_interval'] = 16
    constructor = OPTIM_WRAPPER_CONSTRUCTORS.build(
        dict(type=cfg.pop('constructor'), optim_wrapper_cfg=cfg))
    with pytest.raises(ValueError, match='reg_interval=16.*every 2'):
        constructor(model)
    # Without R1 nothing is corrected.
    model = tiny_model(r1=None, patch_r1=None)
    d = optim_wrappers(model)['discriminator'].optimizer.param_groups[0]
    assert d['lr'] == 0.002 and d['betas'] == (0.0, 0.99)


def test_sampling_from_the_ema_generator():
    model = tiny_model()
    out = model(4)
    assert out.image.shape == (4, 3, 16, 16)
    with pytest.raises(NotImplementedError, match='train_step'):
        model(mode='loss')


def _record_d_terms(model, monkeypatch):
    """Spy on the unweighted D-side logistic losses and on the loss D's optimizer receives."""
    terms, updates = {}, []
    from coordgan.models.losses import AdversarialLoss
    real_loss = AdversarialLoss.discriminator_loss

    def spy(self, real_logits, fake_logits):
        value = real_loss(self, real_logits, fake_logits)
        name = 'gan' if self is model.losses['gan'] else 'structure_swap'
        terms[name] = value.detach().clone()
        return value

    monkeypatch.setattr(AdversarialLoss, 'discriminator_loss', spy)
    return terms, updates


@pytest.mark.parametrize('weighting', ['as_generator', 'unit'])
def test_d_step_weights_each_term_like_the_reference(weighting, monkeypatch):
    # The configured (code) schedules: GAN 2 * clip(i / 10k, 0.5, 1), structure
    # swap 1 from 10k on; R1 and patch R1 off here to isolate the main terms.
    from coordgan.registry import MODELS
    from helpers import tiny_model_cfg
    cfg = tiny_model_cfg(r1=None, patch_r1=None)
    cfg['losses']['gan']['ramp'] = dict(type='linear', length=10000,
                                        floor=0.5)
    cfg['losses']['structure_swap']['ramp'] = dict(type='step', start=10000)
    cfg['d_loss_weighting'] = weighting
    model = MODELS.build(cfg)
    wrappers = optim_wrappers(model)
    terms, updates = _record_d_terms(model, monkeypatch)
    d_wrapper = wrappers['discriminator']
    real_update = d_wrapper.update_params
    monkeypatch.setattr(
        d_wrapper, 'update_params',
        lambda loss, **kw: (updates.append(loss.detach().clone()),
                            real_update(loss, **kw))[1])
    real = model.data_preprocessor(fake_batch(), True)['inputs']
    # iteration -> (image-D weight, patch-D weight) of the authors' code
    expected = {0: (1.0, 0.0), 6000: (1.2, 0.0), 9999: (1.9998, 0.0),
                10000: (2.0, 1.0), 250000: (2.0, 1.0)}
    for it, (w_d, w_patch) in expected.items():
        if weighting == 'unit':
            w_d, w_patch = 1.0, 1.0
        terms.clear()
        updates.clear()
        gen = model.step_generator(real.device)
        log = model.discriminator_step(real, it, d_wrapper, gen)
        torch.testing.assert_close(log['loss_gan_d'], w_d * terms['gan'])
        total = w_d * terms['gan']
        if w_patch:
            torch.testing.assert_close(log['loss_structure_swap_d'],
                                       w_patch * terms['structure_swap'])
            total = total + w_patch * terms['structure_swap']
        else:
            # A zero-weight term is not even computed (no patch-D forward).
            assert 'structure_swap' not in terms
            assert 'loss_structure_swap_d' not in log
        assert len(updates) == 1
        torch.testing.assert_close(updates[0], total)


def test_unknown_d_loss_weighting_fails():
    from coordgan.registry import MODELS
    from helpers import tiny_model_cfg
    cfg = tiny_model_cfg()
    cfg['d_loss_weighting'] = 'paper'
    with pytest.raises(ValueError, match='d_loss_weighting'):
        MODELS.build(cfg)
