# Table 2 of the paper on a CelebA-HQ stage-1 checkpoint (REFERENCE.md section 10):
#   python tools/test.py configs/eval_swap_celeba.py work_dirs/coordgan_celeba/iter_300000.pth
# 5000 pairs: texture-swap and structure-swap LPIPS (ImageNet VGG, from
# $TORCH_HOME/hub/checkpoints/vgg16-397923af.pth) and FID of the 5000
# G(s, t) against the training images. The paper's FID uses 10k generated
# images: --cfg-options num_pairs=10000 test_dataloader.dataset.num_samples=10000
# The FID Inception weights and ArcFace's IR-SE50 (pSp's model_ir_se50.pth)
# are read from local files (never downloaded); docs/evaluation.md says where
# to get them.
_base_ = ['./coordgan_celeba.py', './_base_/generation_eval.py']

num_pairs = 5000
test_dataloader = dict(dataset=dict(num_samples=num_pairs))
# Test only: the stage-1 config's training parts are dropped.
train_dataloader = None
train_cfg = None
optim_wrapper = None
custom_hooks = []
test_evaluator = [
    dict(type='SwapLPIPSMetric', lpips=dict(type='LPIPS', net='vgg')),
    dict(type='FIDMetric',
         real_dir='data/celeba-hq/images',
         inception_weights='checkpoints/pt_inception-2015-12-05-6726825d.pth',
         real_size=128,
         cache_dir='work_dirs/fid_cache'),
    dict(type='ArcFaceIdentityMetric',
         arcface_weights='checkpoints/model_ir_se50.pth'),
]
