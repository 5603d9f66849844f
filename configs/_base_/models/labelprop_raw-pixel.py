# Nearest neighbour on raw pixels: each query pixel takes the label of the
# reference pixel of the nearest colour.
model = dict(
    type='LabelPropagationModel',
    extractor=dict(type='RawPixelNearestNeighbour', input_size=128))
