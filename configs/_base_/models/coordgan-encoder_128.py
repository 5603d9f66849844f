# CoordGAN stage 2 at 128 (REFERENCE.md section 7): an encoder trained against the
# frozen EMA generator of a stage-1 checkpoint (model.generator_checkpoint, or
# the stage-1 file as load_from).
_base_ = ['./coordgan_128.py']

model = dict(
    _delete_=True,
    type='CoordGANInversion',
    generator={{_base_.model.generator}},
    generator_checkpoint=None,
    encoder={{_base_.encoder}},
    perceptual=dict(type='LPIPS', net='vgg', version='0.1'),
    # reconstruction 10 * L1 + 10 * LPIPS, texture swap 5, latent consistency 10 + 10
    loss_weights=dict(
        rec_l1=10.0, rec_lpips=10.0, texture_swap=5.0, latent_code=10.0,
        latent_coords=10.0),
    latent_norm='l1')  # 'l2': the paper's
