# CoordGAN on the embedded synthetic data, after the README's two training
# stages (configs/coordgan_synthetic.py, then the encoder stage):
#   python tools/test.py configs/labelprop/coordgan_synthetic.py \
#       work_dirs/coordgan-encoder_synthetic/iter_2500.pth
# The networks are the encoder stage's; C^w (32x32 at this size) is compared
# with tau 0.01 and labels are scored at 128 px like every other method.
_base_ = [
    '../coordgan-encoder_synthetic.py',
    '../_base_/datasets/labelprop_synthetic.py'
]

model = dict(
    _delete_=True,
    type='LabelPropagationModel',
    extractor=dict(
        type='CoordGANCorrespondence',
        encoder={{_base_.model.encoder}},
        generator={{_base_.model.generator}},
        input_size={{_base_.size}},
        tau=0.01))

# Test only: drop the encoder stage's training parts; what
# configs/_base_/labelprop_runtime.py sets, the rest of the runtime inherited.
train_dataloader = None
train_cfg = None
optim_wrapper = None
test_cfg = dict(type='LabelPropagationTestLoop')
custom_hooks = [
    dict(type='PropagationVisualizationHook', draw=False, max_queries=8,
         panel_size=256)
]
