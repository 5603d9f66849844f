# Adam 0.002, betas (0, 0.99), corrected in code for lazy regularisation:
# G every 4 (lr * 4/5, betas ** 0.8; the reference's value, with no G
# regularizer), D + patch D every R1 interval (16: lr * 16/17), read from the
# model's R1 losses (model.losses.r1.interval) so it is set in one place.
optim_wrapper = dict(
    constructor='GANOptimWrapperConstructor',
    generator=dict(
        modules=['generator'],
        reg_interval=4,
        optimizer=dict(type='Adam', lr=0.002, betas=(0.0, 0.99))),
    discriminator=dict(
        modules=['discriminator', 'patch_discriminator'],
        optimizer=dict(type='Adam', lr=0.002, betas=(0.0, 0.99))))

train_cfg = dict(type='IterBasedTrainLoop', max_iters=300000)
