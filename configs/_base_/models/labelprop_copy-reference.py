# The trivial row: each pixel's descriptor is its own position, so the
# reference mask is copied unchanged and every dense match is the identity.
model = dict(
    type='LabelPropagationModel',
    extractor=dict(type='CopyReferenceMask', input_size=128))
