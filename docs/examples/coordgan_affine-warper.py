# A config using the AffineWarper from my_project/ (on PYTHONPATH).
_base_ = ['../../configs/_base_/models/coordgan_128.py']

custom_imports = dict(
    imports=['my_project.affine_warper'], allow_failed_imports=False)

model = dict(
    generator=dict(warper=dict(_delete_=True, type='AffineWarper')))
