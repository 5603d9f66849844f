"""Sample indices for generation metrics: the sampler splits them across ranks."""
from torch.utils.data import Dataset

from coordgan.registry import DATASETS


@DATASETS.register_module()
class GenerationIndexDataset(Dataset):
    """Items ``dict(index=i)`` for i < ``num_samples``; the test loop draws sample i's codes from i."""

    def __init__(self, num_samples: int):
        if int(num_samples) < 2:
            raise ValueError(f'GenerationIndexDataset num_samples must be '
                             f'at least 2, got {num_samples}')
        self.num_samples = int(num_samples)
        self.metainfo = dict(dataset_name=f'{self.num_samples} generated '
                             'samples')

    def __len__(self) -> int:
        return self.num_samples

    def __getitem__(self, index: int) -> dict:
        return dict(index=index)
