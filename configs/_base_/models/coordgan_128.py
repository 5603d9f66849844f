# CoordGAN at 128x128 (REFERENCE.md sections 1-6): the paper's network sizes and
# the authors' code values for the losses (paper values: configs/*_paper-losses.py).
model = dict(
    type='CoordGAN',
    generator=dict(
        type='CoordGANGenerator',
        out_size=128,
        z_dim=512,
        style_dim=512,
        channels=512,
        num_blocks=5,
        grid_size=128,
        mapping_layers=8,
        mapping_lr_mul=0.01,
        warper=dict(type='MLPWarper', hidden_channels=(512, 512)),
        # 'concat': C^w after every modulated conv; 'fourier': w/o struc-mod.
        structure_modulation='concat',
        upsample_channels=(128, 64)),
    discriminator=dict(type='StyleGAN2Discriminator', in_size=128),
    patch_discriminator=dict(
        type='PatchCooccurrenceDiscriminator',
        crop_size=32,
        channels=(64, 128, 256, 256),
        hidden_dim=1024,
        num_ref_crops=8,
        num_target_crops=8,
        side_range=(1 / 8, 1 / 4),
        # 'authors': linspace(-1, 1) positions, zero padding (REFERENCE.md 4);
        # 'affine': the earlier affine_grid sampler with border padding.
        sampling='authors'),
    # LPIPS-VGG v0.1; offline machines: backbone_weights='path/vgg16-397923af.pth'
    # or the file under $TORCH_HOME/hub/checkpoints/.
    perceptual=dict(type='LPIPS', net='vgg', version='0.1'),
    losses=dict(
        gan=dict(type='GANLoss', loss_weight=2.0,
                 ramp=dict(type='linear', length=10000, floor=0.5)),
        r1=dict(type='R1Regularization', gamma=10.0, interval=16),
        structure_swap=dict(type='StructureSwapLoss', loss_weight=1.0,
                            ramp=dict(type='step', start=10000)),
        patch_r1=dict(type='PatchR1Regularization', gamma=1.0, interval=16,
                      start=10000),
        texture_swap=dict(type='TextureSwapLoss', loss_weight=5.0,
                          ramp=dict(type='linear', length=20000)),
        # tau 0.01 on the 128-point C^w; smaller maps keep its ratio to the
        # grid spacing (tau_grid=128: 0.041 at 32 points).
        warp=dict(type='WarpLoss', loss_weight=5.0, tau=0.01, squared=False,
                  ramp=dict(type='linear', length=20000)),
        chamfer=dict(type='ChamferLoss', loss_weight=200.0, squared=True)),
    # D-side losses weighted like their G side (code); 'unit': the paper.
    d_loss_weighting='as_generator',
    # 0.5 ** (16 / 5000) = 0.99778 per step at the reference global batch 16.
    ema_half_life_images=5000)

# Stage 2 (issue: encoder); W+ has 12 slots at 128.
encoder = dict(
    type='CoordGANEncoder',
    in_size=128,
    style_dim=512,
    num_latents=12,
    stem_channels=32,
    channels=(64, 128, 256, 512),
    structure_channels=64,
    texture_channels=(1024, 2048),
    # 'authors': zero-padded skip blur, unblurred texture convs (REFERENCE.md
    # 7); 'reflect': the earlier default, for encoders trained with it.
    padding_convention='authors')
