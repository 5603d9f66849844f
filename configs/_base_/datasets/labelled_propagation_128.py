# The label-propagation benchmark on a labelled folder (REFERENCE.md section 9):
# CoordGAN's C^w at 128 with tau 0.01, next to two trivial baselines. Configs
# set propagation.dataset's type and data_root, and the reference/query split.
propagation = dict(
    method=dict(type='CoordGANCorrespondence', input_size=128, tau=0.01),
    baselines=[
        dict(type='CopyReferenceMask'),
        dict(type='RawPixelNearestNeighbour'),
    ],
    dataset=dict(
        pipeline=[
            dict(type='LoadImageFromFile'),
            # Converted masks may be a scaled copy of the image
            # (CelebAMask-HQ: 512 px masks for 1024 px images).
            dict(type='LoadSegMap', size_check='aspect'),
            dict(type='PackImageInputs', meta_keys=('img_path', 'gt_seg_map')),
        ]),
    num_refs=5,
    batch_size=16)
