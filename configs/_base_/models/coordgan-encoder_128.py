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
    # Plug-ins of the encoder step (coordgan/models/losses/inversion_losses.py):
    # reconstruction 10 * L1 + 10 * LPIPS, texture swap 5, latent consistency
    # 10 + 10 with norm 'l1' (the code; 'l2': the paper's).
    losses=dict(
        rec_l1=dict(type='ReconstructionLoss', loss_weight=10.0,
                    distance=dict(type='L1Distance')),
        rec_lpips=dict(type='ReconstructionLoss', loss_weight=10.0),
        texture_swap=dict(type='InversionTextureSwapLoss', loss_weight=5.0),
        latent_code=dict(type='LatentCodeLoss', loss_weight=10.0, norm='l1'),
        latent_coords=dict(type='LatentCoordsLoss', loss_weight=10.0,
                           norm='l1')))
