# A config adding CorrSmoothnessLoss from my_project/ (on PYTHONPATH) to the
# reference objective: one config entry, logged as loss_smoothness.
_base_ = ['../../configs/_base_/models/coordgan_128.py']

custom_imports = dict(
    imports=['my_project.smoothness_loss'], allow_failed_imports=False)

model = dict(
    losses=dict(smoothness=dict(type='CorrSmoothnessLoss', loss_weight=10.0)))
