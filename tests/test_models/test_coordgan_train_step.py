"""One CoordGAN iteration through ``train_step`` (REFERENCE.md section 5), watched from outside.

A labelled generator paints constant images whose pixel values name their
codes (channel 0 the structure code, channel 1 the texture code), and spy
discriminators record what they are shown: which image, with or without a
gradient back to G. Their logits are fixed functions of the pixels, so
every loss of the step can be written out by hand here, and the loss each
optimizer receives says which images were scored as real and which as fake.
Nothing here calls a private method of the model. Last, one real bf16 AMP
step on CUDA (skipped without a GPU).
"""
import math

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine import Config

from coordgan.models import BaseGenerator, GeneratorOutput
from coordgan.models.discriminators import PatchCooccurrenceDiscriminator
from coordgan.registry import (DISCRIMINATORS, GENERATORS, LOSSES, MODELS,
                               OPTIM_WRAPPER_CONSTRUCTORS)
from helpers import (MODEL_CONFIG, changed, fake_batch, optim_wrappers,
                     snapshot, tiny_model)

SIZE = 16  # image side and correspondence-grid side
NUM = 4  # images per batch: two pairs
# The image D's logit of x: sum_c IMAGE_W[c] * mean(x_c) / 3.
IMAGE_W = (1.5, -2.0, 0.7)
# The patch D's logit of a target crop t with references r_1..r_n, read at
# the crops' centre pixels:
#     TARGET_W . t + CROSS * t_0 * t_1 + REF_W . mean_j r_j.
# The product term matters: a logit linear in t would score a batch of
# structure-swapped crops as a whole like the unswapped ones (the pairs'
# structure values only trade places), and the D loss could not tell which
# of the two was scored "real".
TARGET_W = (2.0, -1.0, 0.5)
CROSS = 3.0
REF_W = (-1.0, 1.5, 0.3)
MARKER = -0.5  # channel 2 of every generated image
CORR_SCALE = 0.8  # C^w = 0.8 * canonical grid
NUM_TARGET_CROPS, NUM_REF_CROPS, CROP = 3, 2, 8
TOL = 1e-4  # pixel values of crops of constant images (bilinear rounding)


# --------------------------------------------------------------- test nets
class LabelledGenerator(BaseGenerator):
    """Constant images: (gain * S(z_s), gain * T(z_t), gain * MARKER), C^w = scale * grid."""

    events = None  # set by the test on model.generator only

    def __init__(self):
        super().__init__()
        self.z_dim = self.style_dim = 3
        self.num_latents = 1
        self.out_size = self.grid_size = SIZE
        self.gain = nn.Parameter(torch.ones(()))
        self.scale = nn.Parameter(torch.tensor(CORR_SCALE))
        lin = torch.linspace(-1, 1, SIZE)
        y, x = torch.meshgrid(lin, lin, indexing='ij')
        self.register_buffer('grid', torch.stack([x, y])[None],
                             persistent=False)

    def map_structure(self, z_s):
        return z_s

    def map_texture(self, z_t):
        return z_t

    def warp(self, w_s):
        return (self.scale * self.grid).expand(w_s.shape[0], -1, -1, -1)

    def synthesize(self, w_s, w_t, noise=None):
        if w_t.dim() == 3:
            w_t = w_t[:, 0]
        values = torch.stack([
            0.5 + 0.4 * torch.tanh(w_s[:, 0]),
            0.5 + 0.4 * torch.tanh(w_t[:, 0]),
            torch.full_like(w_s[:, 0], MARKER)
        ], 1) * self.gain
        image = values[:, :, None, None].expand(-1, -1, SIZE, SIZE)
        if self.events is not None:
            self.events.append(('G', dict(values=values.detach().double(),
                                          scale=float(self.scale.detach()),
                                          grad=torch.is_grad_enabled())))
        return GeneratorOutput(image, self.warp(w_s))


def _describe(x, g_params):
    """How a tensor a discriminator receives relates to G: grad flag, leaf, attached to G's graph."""
    attached = False
    if x.requires_grad and x.grad_fn is not None:
        attached = torch.autograd.grad(x.sum(), list(g_params),
                                       retain_graph=True,
                                       allow_unused=True)[0] is not None
    return dict(grad=x.requires_grad, leaf=x.grad_fn is None,
                attached=attached)


class SpyImageDiscriminator(nn.Module):
    """Records its inputs; logit = sum_c IMAGE_W[c] * mean(x_c) / 3."""

    events = None
    g_params = ()  # a tuple: not registered as D's parameter

    def __init__(self):
        super().__init__()
        # In D's optimizer, with a zero gradient: updates leave the logits.
        self.anchor = nn.Parameter(torch.zeros(()))
        self.register_buffer('w', torch.tensor(IMAGE_W).view(1, 3, 1, 1),
                             persistent=False)

    def forward(self, x):
        if self.events is not None:
            self.events.append(('image_d', dict(
                x=x.detach().double().clone(), **_describe(x, self.g_params))))
        logits = (x * self.w.to(x.dtype)).mean(dim=(1, 2, 3))
        return (logits + 0 * self.anchor)[:, None]


class SpyPatchDiscriminator(PatchCooccurrenceDiscriminator):
    """The real crop sampler; records crops; logits as described at CROSS."""

    events = None
    g_params = ()  # a tuple: not registered as D's parameter

    def __init__(self):
        super().__init__(crop_size=CROP, channels=(8, 8), hidden_dim=8,
                         num_ref_crops=NUM_REF_CROPS,
                         num_target_crops=NUM_TARGET_CROPS)
        self.anchor = nn.Parameter(torch.zeros(()))
        self.register_buffer('tw', torch.tensor(TARGET_W), persistent=False)
        self.register_buffer('rw', torch.tensor(REF_W), persistent=False)

    def forward(self, target_crops, ref_crops):
        if self.events is not None:
            t, r = (_describe(c, self.g_params)
                    for c in (target_crops, ref_crops))
            self.events.append(('patch_d', dict(
                targets=target_crops.detach().double().clone(),
                refs=ref_crops.detach().double().clone(),
                t_grad=t['grad'], t_leaf=t['leaf'], t_attached=t['attached'],
                r_grad=r['grad'], r_leaf=r['leaf'],
                r_attached=r['attached'])))
        # A crop lies inside the image; only its outer samples reach the
        # zero padding past the border, so the centre of a crop of a constant
        # image holds that constant.
        c = CROP // 2
        t = target_crops[..., c, c]
        r = ref_crops[..., c, c].mean(1) @ self.rw.to(ref_crops.dtype)
        return (t @ self.tw.to(t.dtype) + CROSS * t[..., 0] * t[..., 1] +
                r[:, None] + 0 * self.anchor)


class L1Distance(nn.Module):
    """Per-sample mean absolute difference, in place of LPIPS."""

    def forward(self, x, y):
        return (x - y).abs().flatten(1).mean(1)


TEST_TYPES = ((GENERATORS, 'TestLabelledGenerator', LabelledGenerator),
              (DISCRIMINATORS, 'TestSpyImageDiscriminator',
               SpyImageDiscriminator),
              (DISCRIMINATORS, 'TestSpyPatchDiscriminator',
               SpyPatchDiscriminator),
              (LOSSES, 'TestL1Distance', L1Distance))


@pytest.fixture
def spy_networks():
    """The test networks registered for this test only (tests/test_registry.py lists the package's)."""
    for registry, name, cls in TEST_TYPES:
        registry.register_module(name=name, module=cls, force=True)
    yield
    for registry, name, _ in TEST_TYPES:
        registry.module_dict.pop(name, None)


def build(losses, **kwargs):
    """A CoordGAN of the test networks with ``losses``; its optimizers; the event list every spy writes to."""
    model = MODELS.build(dict(
        kwargs,
        type='CoordGAN',
        generator=dict(type='TestLabelledGenerator'),
        discriminator=dict(type='TestSpyImageDiscriminator'),
        patch_discriminator=dict(type='TestSpyPatchDiscriminator'),
        perceptual=dict(type='TestL1Distance'),
        losses=losses))
    events = []
    for net in (model.generator, model.discriminator,
                model.patch_discriminator):
        net.events = events
    model.discriminator.g_params = (model.generator.gain, )
    model.patch_discriminator.g_params = (model.generator.gain, )
    wrappers = optim_wrappers(model)
    for name in ('generator', 'discriminator'):
        wrapper = wrappers[name]
        real_update = wrapper.update_params

        def update(loss, *args, _name=name, _real=real_update, **options):
            events.append(('update', _name, float(loss.detach())))
            return _real(loss, *args, **options)

        wrapper.update_params = update
    return model, wrappers, events


def reference_losses(**changes):
    """The configured (reference-code) losses, with ``changes`` merged in (``None`` removes one)."""
    losses = Config.fromfile(MODEL_CONFIG).model.losses.to_dict()
    for name, cfg in changes.items():
        losses[name] = None if cfg is None else dict(losses[name], **cfg)
    return losses


# ------------------------------------------------------- reading the events
def split_phases(events):
    """Events -> {'discriminator': ..., 'generator': ...}: each record goes to the optimizer update that follows it."""
    phases = dict(discriminator=dict(records=[], losses=[]),
                  generator=dict(records=[], losses=[]))
    pending = []
    for event in events:
        if event[0] == 'update':
            phases[event[1]]['records'] += pending
            phases[event[1]]['losses'].append(event[2])
            pending = []
        else:
            pending.append(event)
    assert not pending, f'calls after the last update: {pending}'
    return phases


def records(phase, kind):
    return [r for k, r in phase['records'] if k == kind]


def hand_real(batch):
    """The data preprocessor by hand: uint8 BGR -> RGB in [-1, 1]."""
    x = torch.stack(batch['inputs']).double()[:, [2, 1, 0]]
    return (x - 127.5) / 127.5


def label_of(pixel, labels):
    """Index of the generated image whose (3,) pixel values these are, or None."""
    for k, label in enumerate(labels):
        if (pixel - label).abs().max() < TOL:
            return k
    return None


def crop_labels(crops, labels):
    """(B, N, 3, c, c) crops of generated images -> per row the index of the one image all N crops come from."""
    centre = crops[..., CROP // 2, CROP // 2]
    out = []
    for row in centre:
        ks = {label_of(p, labels) for p in row}
        assert len(ks) == 1 and None not in ks, (
            'the crops of one row must all come from one generated image; '
            f'found {ks} for centre pixels {row.tolist()}')
        out.append(ks.pop())
    return out


def structure_swap_of(fake):
    """Labels of struc_swap: fake[k]'s texture (and marker) with its partner's structure."""
    swap = fake.clone()
    swap[:, 0] = fake[[k ^ 1 for k in range(len(fake))], 0]
    return swap


def texture_swap_of(fake):
    swap = fake.clone()
    swap[:, 1] = fake[[k ^ 1 for k in range(len(fake))], 1]
    return swap


def image_d_images(phase, real):
    """The D or G step's image-D inputs (not the R1 call): real rows and generated-image labels, in order."""
    real_rows, fake_labels = [], []
    for rec in records(phase, 'image_d'):
        if rec['grad'] and rec['leaf']:
            continue  # R1's input
        for x in rec['x']:
            hits = [j for j in range(len(real))
                    if (x - real[j]).abs().max() < 1e-6]
            if hits:
                real_rows.append(hits[0])
            else:
                assert (x - x[:, :1, :1]).abs().max() < TOL, (
                    'an image-D input is neither a real image nor a '
                    'generated (constant) one')
                fake_labels.append(x[:, 0, 0])
    return real_rows, torch.stack(fake_labels) if fake_labels else None


# ----------------------------------------------------- the losses by hand
def softplus(x):
    return math.log1p(math.exp(-abs(x))) + max(x, 0.0)


def image_logit(pixel):
    return sum(w * float(p) for w, p in zip(IMAGE_W, pixel)) / 3


def patch_logit(target, ref):
    return (sum(w * float(p) for w, p in zip(TARGET_W, target)) +
            CROSS * float(target[0]) * float(target[1]) +
            sum(w * float(p) for w, p in zip(REF_W, ref)))


def mean(values):
    values = list(values)
    return sum(values) / len(values)


def chamfer_by_hand(scale):
    """Squared Chamfer distance between scale * grid and the grid (SIZE x SIZE points), dense numpy."""
    lin = np.linspace(-1, 1, SIZE)
    ys, xs = np.meshgrid(lin, lin, indexing='ij')
    grid = np.stack([xs.ravel(), ys.ravel()], 1)
    d = ((scale * grid[:, None] - grid[None])**2).sum(-1)
    return d.min(1).mean() + d.min(0).mean()


def r1_by_hand():
    """R1 of the image D: its logit is linear, ||d sum D / dx||^2 = sum_c w_c^2 / (9 H W) per image."""
    return sum(w * w for w in IMAGE_W) / (9 * SIZE * SIZE)


def patch_r1_by_hand(fake):
    """Patch R1 on crops of ``fake`` (targets and references), mean over images.

    d logit / d t = TARGET_W + CROSS (t_1, t_0, 0) at a target's centre pixel
    (Nt targets), and Nt REF_W / Nr at each reference's (Nr of them).
    """
    per_image = []
    for f in fake:
        s, t = float(f[0]), float(f[1])
        g = (TARGET_W[0] + CROSS * t, TARGET_W[1] + CROSS * s, TARGET_W[2])
        per_image.append(NUM_TARGET_CROPS * sum(x * x for x in g) +
                         NUM_TARGET_CROPS**2 * sum(w * w for w in REF_W) /
                         NUM_REF_CROPS)
    return mean(per_image)


def d_loss_by_hand(real, fake, w):
    """The D step's objective (main terms plus due regularizers) from the fake labels and the weights ``w``."""
    swap = structure_swap_of(fake)
    total = w['gan'] * (mean(softplus(-image_logit(x.mean(dim=(1, 2))))
                             for x in real) +
                        mean(softplus(image_logit(f)) for f in fake))
    total += w['structure_swap'] * (
        mean(softplus(-patch_logit(f, f)) for f in fake) +
        mean(softplus(patch_logit(s, f)) for s, f in zip(swap, fake)))
    return (total + w['r1'] * r1_by_hand() +
            w['patch_r1'] * patch_r1_by_hand(fake))


def g_loss_by_hand(fake, scale, w):
    """The G step's objective; texture swap and warp with the L1 distance on constant images."""
    partner = fake[[k ^ 1 for k in range(len(fake))]]
    swap = structure_swap_of(fake)
    tex = texture_swap_of(fake)
    return (w['gan'] * mean(softplus(-image_logit(f)) for f in fake) +
            w['structure_swap'] * mean(softplus(-patch_logit(s, f))
                                       for s, f in zip(swap, fake)) +
            # |fake - tex_swap| differs in channel 1 only
            w['texture_swap'] * mean(float((f - t).abs().sum()) / 3
                                     for f, t in zip(fake, tex)) +
            # identical maps: each image rebuilt as its partner's constant
            w['warp'] * mean(float((f - p).abs().sum()) / 3
                             for f, p in zip(fake, partner)) +
            w['chamfer'] * chamfer_by_hand(scale))


def check_distinct(labels):
    for channel in (0, 1):
        values = sorted(float(v) for v in labels[:, channel])
        gaps = [b - a for a, b in zip(values, values[1:])]
        assert min(gaps) > 1e-3, ('codes too close to tell apart', labels)


# ------------------------------------------------------------- the tests
def test_each_discriminator_sees_the_images_of_reference_section_5(
        spy_networks):
    # All terms on at unit ramps; R1 and patch R1 every 2 iterations from 0.
    losses = reference_losses(
        gan=dict(ramp=None), structure_swap=dict(ramp=None),
        texture_swap=dict(ramp=None), warp=dict(ramp=None),
        r1=dict(interval=2), patch_r1=dict(interval=2, start=0))
    model, wrappers, events = build(losses)
    batch = fake_batch(NUM, SIZE)
    real = hand_real(batch)
    model.train()
    log = model.train_step(batch, wrappers)
    assert int(model.iteration) == 1
    assert all(torch.isfinite(v) for v in log.values())
    phases = split_phases(events)
    d_phase, g_phase = phases['discriminator'], phases['generator']

    # ---- D step: G renders without a graph; D sees real and fake.
    rendered = records(d_phase, 'G')
    assert rendered and not any(r['grad'] for r in rendered)
    rendered_labels = torch.cat([r['values'] for r in rendered])
    real_rows, fake = image_d_images(d_phase, real)
    assert sorted(real_rows) == list(range(NUM))  # the real batch, once each
    assert fake is not None and len(fake) == NUM
    check_distinct(fake)  # fake = [G(s0, t0), G(s1, t1), ...], fresh codes
    assert all(label_of(f, rendered_labels) is not None for f in fake)
    assert not any(r['grad'] for r in records(d_phase, 'image_d')
                   if not r['leaf'])
    # Patch D: "real" = crops of fake[k], "fake" = crops of struc_swap[k]
    # (fake[k]'s texture, its partner's structure); references = fake[k].
    swap = structure_swap_of(fake)
    main = [r for r in records(d_phase, 'patch_d') if not r['t_grad']]
    pairs = []
    for rec in main:
        assert not rec['r_grad']
        targets = crop_labels(rec['targets'], torch.cat([fake, swap]))
        refs = crop_labels(rec['refs'], fake)
        pairs += list(zip(targets, refs))
    assert sorted(pairs) == sorted([(k, k) for k in range(NUM)] +
                                   [(NUM + k, k) for k in range(NUM)])
    # Lazy R1 (due at iteration 0): image D on the real batch, as a leaf
    # with a gradient; patch D on crops of fake[k] as targets and references.
    r1 = [r for r in records(d_phase, 'image_d') if r['grad'] and r['leaf']]
    assert len(r1) == 1
    torch.testing.assert_close(r1[0]['x'], real, rtol=0, atol=1e-6)
    patch_r1 = [r for r in records(d_phase, 'patch_d') if r['t_grad']]
    assert len(patch_r1) == 1
    assert patch_r1[0]['t_leaf'] and patch_r1[0]['r_grad']
    assert crop_labels(patch_r1[0]['targets'], fake) == list(range(NUM))
    assert crop_labels(patch_r1[0]['refs'], fake) == list(range(NUM))
    # Which images are scored "real" and which "fake": D's objective.
    weights = dict(gan=2.0, structure_swap=1.0, r1=10 / 2 * 2,
                   patch_r1=1 / 2 * 2)
    assert sum(d_phase['losses']) == pytest.approx(
        d_loss_by_hand(real, fake, weights), rel=1e-5)

    # ---- G step: fresh codes; gradients reach G through D's inputs only.
    assert all(r['grad'] for r in records(g_phase, 'G'))
    real_rows, g_fake = image_d_images(g_phase, real)
    assert real_rows == [] and len(g_fake) == NUM
    check_distinct(g_fake)
    assert all(label_of(f, fake) is None for f in g_fake)  # not the D step's
    image_calls = records(g_phase, 'image_d')
    assert image_calls and all(r['grad'] and r['attached']
                               for r in image_calls)
    patch_calls = records(g_phase, 'patch_d')
    assert patch_calls
    g_swap = structure_swap_of(g_fake)
    for rec in patch_calls:
        assert rec['t_grad'] and rec['t_attached']  # struc_swap, to G
        assert not rec['r_grad']  # references: fake, detached
        assert crop_labels(rec['targets'], g_swap) == list(range(NUM))
        assert crop_labels(rec['refs'], g_fake) == list(range(NUM))
    scale = records(g_phase, 'G')[0]['scale']
    weights = dict(gan=2.0, structure_swap=1.0, texture_swap=5.0, warp=5.0,
                   chamfer=200.0)
    assert g_phase['losses'] == [pytest.approx(
        g_loss_by_hand(g_fake, scale, weights), rel=1e-5)]


# The reference code's schedules, written out from REFERENCE.md sections 5-6.
def gan_weight(i):
    return 2 * min(max(i / 10000, 0.5), 1.0)


def structure_swap_weight(i):
    return 1.0 if i >= 10000 else 0.0


def warm_up_weight(i):  # texture swap and warp
    return 5 * min(i / 20000, 1.0)


def r1_due(i):
    return i % 16 == 0


def patch_r1_due(i):
    return i >= 10000 and i % 16 == 0


# iteration -> (R1 due, patch R1 due), spelled out.
SCHEDULE = {0: (True, False), 5000: (False, False), 7504: (True, False),
            9984: (True, False), 9999: (False, False), 10000: (True, True),
            10008: (False, False), 15000: (False, False),
            20000: (True, True)}


def test_warm_ups_and_lazy_r1_follow_the_reference_schedule(spy_networks):
    model, wrappers, events = build(reference_losses())
    batch = fake_batch(NUM, SIZE)
    real = hand_real(batch)
    model.train()
    for it, (r1, patch_r1) in SCHEDULE.items():
        assert (r1_due(it), patch_r1_due(it)) == (r1, patch_r1)
        events.clear()
        model.iteration.fill_(it)
        model.train_step(batch, wrappers)
        assert int(model.iteration) == it + 1
        phases = split_phases(events)
        d_phase, g_phase = phases['discriminator'], phases['generator']
        r1_calls = [r for r in records(d_phase, 'image_d')
                    if r['grad'] and r['leaf']]
        patch_r1_calls = [r for r in records(d_phase, 'patch_d')
                          if r['t_grad']]
        assert len(r1_calls) == int(r1), it
        assert len(patch_r1_calls) == int(patch_r1), it
        _, fake = image_d_images(d_phase, real)
        assert fake is not None, f'{it}: the image D scored no fake images'
        # Zero-weight terms add exactly 0; R1 weighs gamma / 2 * 16 = 80,
        # patch R1 1 / 2 * 16 = 8.
        d_weights = dict(gan=gan_weight(it),
                         structure_swap=structure_swap_weight(it),
                         r1=80.0 * r1, patch_r1=8.0 * patch_r1)
        assert sum(d_phase['losses']) == pytest.approx(
            d_loss_by_hand(real, fake, d_weights), rel=1e-5), it
        _, g_fake = image_d_images(g_phase, real)
        g_weights = dict(gan=gan_weight(it),
                         structure_swap=structure_swap_weight(it),
                         texture_swap=warm_up_weight(it),
                         warp=warm_up_weight(it), chamfer=200.0)
        scale = records(g_phase, 'G')[0]['scale']
        assert g_phase['losses'] == [pytest.approx(
            g_loss_by_hand(g_fake, scale, g_weights), rel=1e-5)], it


def test_the_paper_weighting_scores_the_patch_d_from_the_first_iteration(
        spy_networks):
    model, wrappers, events = build(reference_losses(),
                                    d_loss_weighting='unit')
    batch = fake_batch(NUM, SIZE)
    real = hand_real(batch)
    model.train()
    model.iteration.fill_(1)  # no R1; structure swap weight 0 on the G side
    model.train_step(batch, wrappers)
    d_phase = split_phases(events)['discriminator']
    _, fake = image_d_images(d_phase, real)
    weights = dict(gan=1.0, structure_swap=1.0, r1=0.0, patch_r1=0.0)
    assert sum(d_phase['losses']) == pytest.approx(
        d_loss_by_hand(real, fake, weights), rel=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(),
                    reason='an AMP step needs a CUDA device')
def test_one_bf16_amp_step_on_cuda():
    model = tiny_model().cuda()
    cfg = Config.fromfile(
        'configs/_base_/schedules/coordgan_300k.py').optim_wrapper.to_dict()
    for name in ('generator', 'discriminator'):
        cfg[name].update(type='AmpOptimWrapper', dtype='bfloat16',
                         loss_scale='dynamic')
    wrappers = OPTIM_WRAPPER_CONSTRUCTORS.build(
        dict(type=cfg.pop('constructor'), optim_wrapper_cfg=cfg))(model)
    seen = []
    model.discriminator.register_forward_hook(
        lambda m, args, out: seen.append((args[0].requires_grad and
                                          args[0].grad_fn is None,
                                          out.dtype)))
    before = dict(g=snapshot(model.generator), d=snapshot(model.discriminator))
    model.train()
    log = model.train_step(fake_batch(), wrappers)
    for key, value in log.items():
        assert torch.isfinite(value).all(), key
    assert (False, torch.bfloat16) in seen  # D and G steps under autocast
    assert (True, torch.float32) in seen  # R1 (due at 0) in float32
    assert changed(before['g'], model.generator)
    assert changed(before['d'], model.discriminator)
