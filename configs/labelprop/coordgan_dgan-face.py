# CoordGAN on the dgan-face benchmark: C^w of the encoded structure code, softmax
# over all 128x128 reference positions with tau 0.01 (REFERENCE.md section 9).
# Weights: a checkpoint of the CelebA-HQ encoder stage (configs/coordgan-encoder_celeba.py).
#   python tools/test.py configs/labelprop/coordgan_dgan-face.py \
#       work_dirs/coordgan-encoder_celeba/iter_200000.pth
_base_ = [
    '../_base_/models/coordgan-encoder_128.py',
    '../_base_/datasets/labelprop_dgan-face.py', '../_base_/labelprop_runtime.py'
]

model = dict(
    _delete_=True,
    type='LabelPropagationModel',
    extractor=dict(
        type='CoordGANCorrespondence',
        encoder={{_base_.model.encoder}},
        generator={{_base_.model.generator}},
        input_size=128,
        tau=0.01))
