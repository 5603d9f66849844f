# Stage 2 on the embedded synthetic data: an encoder for the generator trained by
# configs/coordgan_synthetic.py (frozen, loaded from its checkpoint); then the
# label-propagation benchmark on synthetic part masks (configs/labelprop/).
#   python tools/train.py configs/coordgan-encoder_synthetic.py \
#       --cfg-options model.generator_checkpoint=work_dirs/coordgan_synthetic/iter_2000.pth
#   python tools/test.py configs/labelprop/coordgan_synthetic.py \
#       work_dirs/coordgan-encoder_synthetic/iter_1500.pth
_base_ = ['./coordgan_synthetic.py']

max_iters = 1500
model = dict(
    _delete_=True,
    type='CoordGANInversion',
    generator={{_base_.model.generator}},
    generator_checkpoint='work_dirs/coordgan_synthetic/iter_2000.pth',
    encoder=dict(
        type='CoordGANEncoder',
        in_size={{_base_.size}},
        style_dim={{_base_.model.generator.style_dim}},
        num_latents=6,
        stem_channels=32,
        channels=(64, 128),
        structure_channels=32,
        texture_channels=(128, 256)),
    perceptual=dict(type='LPIPS', net='vgg', version='0.1'))
# model.losses: CoordGANInversion's defaults, the authors' values (reconstruction
# 10 * L1 + 10 * LPIPS, texture swap 5, latent consistency 10 + 10, L1).

optim_wrapper = dict(
    _delete_=True,
    constructor='GANOptimWrapperConstructor',
    encoder=dict(
        modules=['encoder'],
        optimizer=dict(type='Adam', lr=0.0016, betas=(0.0, 0.992))))
train_cfg = dict(max_iters=max_iters)
custom_hooks = []
