# Label-propagation baseline of the paper's Table 1 (REFERENCE.md section 9):
# VFS ResNet-50 on Kinetics (r50_nc_sgd_cos_100e_r5_1xNx2_k400-d7ce3ad0.pth),
# frozen layer3 ("res-block 4") features at input 128, nearest-neighbour
# propagation by cosine similarity (the paper's protocol). Weights: set
# checkpoint=<local path>, or put the file under $TORCH_HOME/hub/checkpoints/;
# nothing is downloaded (random_weights=True runs a seeded random stand-in).
# VFS's own protocol instead: out_stride=8 (layer3 with stride 1, 16 x 16
# cells at 128), propagation='topk', topk=10, temperature=0.07.
#   --cfg-options model.extractor.out_stride=8 model.extractor.propagation=topk
#                 model.extractor.topk=10 model.extractor.temperature=0.07
model = dict(
    type='LabelPropagationModel',
    extractor=dict(
        type='VFSFeatures',
        checkpoint=None,
        input_size=128,
        out_stride=16,
        propagation='nearest'))
