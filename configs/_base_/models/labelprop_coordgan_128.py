# CoordGAN in the label-propagation benchmark (REFERENCE.md section 9): C^w of
# the encoded structure code, softmax over all 128x128 reference positions
# with tau 0.01. The networks are the encoder stage's at 128; its checkpoint
# is the one to pass to tools/test.py.
_base_ = ['./coordgan-encoder_128.py']

model = dict(
    _delete_=True,
    type='LabelPropagationModel',
    extractor=dict(
        type='CoordGANCorrespondence',
        encoder={{_base_.model.encoder}},
        generator={{_base_.model.generator}},
        input_size=128,
        tau=0.01))
