# CoordGAN networks at 128x128 (REFERENCE.md sections 1-4 and 7): the paper's sizes.
generator = dict(
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
    # 'concat': C^w after every modulated conv; 'fourier': the w/o struc-mod ablation.
    structure_modulation='concat',
    upsample_channels=(128, 64))
discriminator = dict(type='StyleGAN2Discriminator', in_size=128)
patch_discriminator = dict(
    type='PatchCooccurrenceDiscriminator',
    crop_size=32,
    channels=(64, 128, 256, 256),
    hidden_dim=1024,
    num_ref_crops=8,
    num_target_crops=8,
    side_range=(1 / 8, 1 / 4))
encoder = dict(
    type='CoordGANEncoder',
    in_size=128,
    style_dim=512,
    num_latents=12,
    stem_channels=32,
    channels=(64, 128, 256, 512),
    structure_channels=64,
    texture_channels=(1024, 2048))
