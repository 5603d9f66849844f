# CoordGAN on CelebA-HQ with the loss values of the paper instead of the code's
# (REFERENCE.md section 6): Chamfer 100 on plain L2 distances, no GAN ramp,
# structure swap warmed up linearly over 20k iterations, and the D-side losses
# weighted 1 throughout.
_base_ = ['./coordgan_celeba.py']

model = dict(
    d_loss_weighting='unit',
    losses=dict(
        gan=dict(ramp=None),
        structure_swap=dict(ramp=dict(type='linear', length=20000)),
        chamfer=dict(loss_weight=100.0, squared=False)))
