# CoordGAN at 512 on CelebAMask-HQ (REFERENCE.md sections 3 and 8, paper
# appendix F.2): the 128 model of configs/coordgan_celeba.py plus two
# upsampling blocks (128 and 64 channels), trained for another 200k
# iterations. The correspondence map stays 128x128.
# Train: bash tools/dist_train.sh configs/coordgan_celeba-512.py 8
#   (another stage-1 checkpoint: --cfg-options model.init_cfg.checkpoint=PATH)
_base_ = [
    './_base_/models/coordgan_512.py', './_base_/datasets/image_folder_512.py',
    './_base_/schedules/coordgan_300k.py', './_base_/default_runtime.py'
]

model = dict(
    # The structure branch keeps the 128 model's correspondences.
    frozen=['generator.warper.*', 'generator.structure_mapping.*'],
    # Read by the Runner before training (a resumed run overrides it). Every
    # G and G_ema entry whose name and shape match is loaded, the new 256/512
    # blocks stay random; the image D is not loaded (its layers sit at other
    # resolutions), so it starts fresh at 512. The patch D sees 32 px crops
    # at any image size and is loaded. The log lists loaded and new entries.
    init_cfg=dict(
        type='PartialPretrained',
        checkpoint='work_dirs/coordgan_celeba/iter_300000.pth',
        include=['generator.*', 'generator_ema.*', 'patch_discriminator.*'],
        # The trained copy of the frozen parts starts from their EMA
        # weights, so G and G_ema hold the same structure branch throughout.
        key_map=[(r'^generator\.(warper|structure_mapping)\.',
                  r'generator_ema.\1.')]),
    # Warm-ups finished from iteration 0: the model is already trained.
    losses=dict(
        gan=dict(ramp=None),
        structure_swap=dict(ramp=None),
        patch_r1=dict(start=0),
        texture_swap=dict(ramp=None),
        warp=dict(ramp=None),
        # The warper is frozen: Chamfer's gradient reaches no trained
        # parameter, and its 16384 x 16384 distances cost a lot for nothing.
        chamfer=None))

train_dataloader = dict(dataset=dict(data_root='data/celeba-hq/images'))
train_cfg = dict(max_iters=200000)
