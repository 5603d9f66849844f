# CoordGAN fine-tuned from CelebAMask-HQ to MetFaces paintings at 512 (paper
# appendix G, REFERENCE.md section 8): the first three high-resolution layers
# of the image D are frozen (FreezeD: from-RGB and the 512 and 256 residual
# blocks), and so is the structure branch (structure mapping net and
# warper), so real-face structure codes combine with painting textures. The
# texture mapping net and the synthesis net train.
# Data: MetFaces images (1336, 1024 px) under data/metfaces/images.
# Train: bash tools/dist_train.sh configs/coordgan_metfaces-finetune.py 8
# Warm-ups finished and Chamfer off (frozen warper) as in the 512 stage.
_base_ = ['./coordgan_celeba-512.py']

model = dict(
    frozen=[
        'generator.warper.*', 'generator.structure_mapping.*',
        'discriminator.convs.0.*', 'discriminator.convs.1.*',
        'discriminator.convs.2.*'
    ],
    # Everything of the CelebA 512 model (configs/coordgan_celeba-512.py);
    # the iteration counter and random stream start afresh.
    init_cfg=dict(
        type='PartialPretrained',
        checkpoint='work_dirs/coordgan_celeba-512/iter_200000.pth',
        include=[
            'generator.*', 'generator_ema.*', 'discriminator.*',
            'patch_discriminator.*'
        ],
        # G and G_ema hold the same frozen structure branch (its EMA weights).
        key_map=[(r'^generator\.(warper|structure_mapping)\.',
                  r'generator_ema.\1.')]))

train_dataloader = dict(dataset=dict(data_root='data/metfaces/images'))
# The paper gives no length for the fine-tuning; 20k iterations (320k images,
# about 240 passes over MetFaces) is this config's choice.
train_cfg = dict(max_iters=20000)
