# Runtime of the generation metrics (tools/test.py CONFIG CKPT on a stage-1
# checkpoint): GenerationTestLoop draws sample i's codes from (seed, i) and
# the metrics score G(s, t), G(s, t') and G(s', t) (docs/evaluation.md).
num_pairs = 5000
test_dataloader = dict(
    batch_size=16,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='GenerationIndexDataset', num_samples=num_pairs))
test_cfg = dict(type='GenerationTestLoop', seed=0, sample_model='ema')

