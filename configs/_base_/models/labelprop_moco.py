# Label-propagation baseline of the paper's Table 1 (REFERENCE.md section 9):
# MoCo v2 ResNet-50 (moco_v2_800ep_pretrain.pth.tar),
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
        type='MoCoFeatures',
        checkpoint=None,
        input_size=128,
        out_stride=16,
        propagation='nearest'))
