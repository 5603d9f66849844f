# Encoder stage (REFERENCE.md section 7): Adam 0.0016, betas (0, 0.992), 200k iterations.
optim_wrapper = dict(
    constructor='GANOptimWrapperConstructor',
    encoder=dict(
        modules=['encoder'],
        optimizer=dict(type='Adam', lr=0.0016, betas=(0.0, 0.992))))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=200000)
