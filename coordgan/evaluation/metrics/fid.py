"""FID between generated images and a folder of real images (REFERENCE.md section 10)."""
import hashlib
import json
import logging
import os
import os.path as osp
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from PIL import Image

from coordgan.registry import METRICS
from ..inception import FIDInception

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp')
# Bump when the way real statistics are computed changes, so old cache
# files stop matching.
STATS_VERSION = 1


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray,
                     sigma2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2)) of two Gaussians (D,), (D, D).

    tr((S1 S2)^(1/2)) is the sum of the square roots of the eigenvalues of
    the symmetric PSD matrix S1^(1/2) S2 S1^(1/2) (same spectrum as S1 S2),
    found with symmetric eigendecompositions in float64: no complex parts
    to discard, unlike a general matrix square root.
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    s1, s2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    if mu1.shape != mu2.shape or s1.shape != s2.shape:
        raise ValueError(f'statistics of different sizes: {mu1.shape} '
                         f'{s1.shape} vs {mu2.shape} {s2.shape}')
    vals, vecs = np.linalg.eigh((s1 + s1.T) / 2)
    root1 = (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T
    middle = root1 @ s2 @ root1
    eig = np.linalg.eigvalsh((middle + middle.T) / 2)
    tr_covmean = np.sqrt(np.clip(eig, 0, None)).sum()
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * tr_covmean)


def feature_statistics(features: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Features (N, D) -> mean (D,) and covariance (D, D) (unbiased, as pytorch-fid)."""
    features = np.asarray(features, np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f'FID needs at least 2 feature vectors (N, D), got '
                         f'shape {features.shape}')
    return features.mean(0), np.cov(features, rowvar=False)


def list_images(folder: str) -> List[str]:
    """Image files under ``folder`` (recursive), relative paths, sorted."""
    if not osp.isdir(folder):
        raise FileNotFoundError(f'FID real_dir {folder!r} is not a folder')
    names = []
    for root, _, files in os.walk(folder):
        for name in files:
            if name.lower().endswith(IMAGE_EXTENSIONS):
                names.append(osp.relpath(osp.join(root, name), folder))
    if not names:
        raise FileNotFoundError(f'FID real_dir {folder!r} holds no images '
                                f'({", ".join(IMAGE_EXTENSIONS)})')
    return sorted(names)


def folder_key(folder: str, names: Sequence[str], **options) -> str:
    """Hash of a folder listing (names, sizes, mtimes) and the options that change its statistics."""
    listing = []
    for name in names:
        st = os.stat(osp.join(folder, name))
        listing.append([name, st.st_size, st.st_mtime_ns])
    blob = json.dumps(dict(version=STATS_VERSION, listing=listing,
                           options=options), sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def load_image(path: str, size: Optional[int]) -> torch.Tensor:
    """An image file -> (3, H, W) float in [0, 1], RGB, resized to size x size (bicubic) if given."""
    with Image.open(path) as img:
        img = img.convert('RGB')
        if size is not None and img.size != (size, size):
            img = img.resize((size, size), Image.BICUBIC)
        array = np.asarray(img, dtype=np.uint8).copy()
    return torch.from_numpy(array).permute(2, 0, 1).float() / 255


def to_unit_range(images: torch.Tensor) -> torch.Tensor:
    """Generated (B, 3, H, W) in [-1, 1] -> [0, 1], quantised to 8 bits like a saved PNG."""
    return ((images.float() + 1) * 127.5).round().clamp(0, 255) / 255


@METRICS.register_module()
class FIDMetric(BaseMetric):
    """FID of the generated ``image`` of each sample against ``real_dir``'s images.

    Generated images ([-1, 1]) are quantised to 8 bits; real images are read
    as RGB and resized to ``real_size`` (bicubic; ``None``: as stored, all
    one size). Both go through :class:`FIDInception` (weights from
    ``inception_weights``; missing file: an error naming it). Real statistics
    are cached in ``cache_dir`` (default ``work_dirs/fid_cache``; ``None``:
    no cache) under a hash of the folder listing (names,
    sizes, mtimes), ``real_size``, ``num_real`` and the weights file name, so
    a changed folder is measured again. ``num_real`` takes the first files
    in sorted order (all by default).

    Result key: ``<prefix>/fid`` (default prefix ``FID``), plus
    ``<prefix>/num_fake`` and ``<prefix>/num_real``.
    """

    default_prefix = 'FID'

    def __init__(self,
                 real_dir: str,
                 inception_weights: str,
                 real_size: Optional[int] = None,
                 num_real: Optional[int] = None,
                 cache_dir: Optional[str] = 'work_dirs/fid_cache',
                 batch_size: int = 50,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.inception = FIDInception(inception_weights)
        self.real_dir = real_dir
        self.real_size = real_size
        self.num_real = num_real
        self.cache_dir = cache_dir
        self.batch_size = batch_size
        # 'hit' or 'miss' for the last real_statistics call (tests, logs).
        self.last_cache = None

    def _features(self, images: torch.Tensor) -> np.ndarray:
        device = images.device
        self.inception.to(device)
        return self.inception(images).cpu().numpy().astype(np.float64)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        images = torch.stack([s['image'] for s in data_samples])
        for feat in self._features(to_unit_range(images)):
            self.results.append(feat)

    def real_statistics(self) -> Tuple[np.ndarray, np.ndarray, int]:
        """Mean, covariance and count of the real folder's features, from the cache if it matches."""
        names = list_images(self.real_dir)
        if self.num_real is not None:
            names = names[:self.num_real]
        key = folder_key(self.real_dir, names, real_size=self.real_size,
                         num_real=self.num_real,
                         weights=osp.basename(self.inception.weights))
        path = (osp.join(self.cache_dir, f'fid_stats_{key}.npz')
                if self.cache_dir else None)
        if path and osp.isfile(path):
            with np.load(path) as stats:
                self.last_cache = 'hit'
                return stats['mu'], stats['sigma'], int(stats['num'])
        self.last_cache = 'miss'
        device = next(self.inception.parameters()).device
        feats, batch, size = [], [], None
        for name in names:
            image = load_image(osp.join(self.real_dir, name), self.real_size)
            if size is not None and image.shape != size:
                raise ValueError(
                    f'FID real_dir {self.real_dir!r}: {name} is '
                    f'{tuple(image.shape[1:])} but earlier images are '
                    f'{tuple(size[1:])}; set real_size to resize them')
            size = image.shape
            batch.append(image)
            if len(batch) == self.batch_size:
                feats.append(self._features(torch.stack(batch).to(device)))
                batch = []
        if batch:
            feats.append(self._features(torch.stack(batch).to(device)))
        mu, sigma = feature_statistics(np.concatenate(feats))
        if path:
            os.makedirs(self.cache_dir, exist_ok=True)
            tmp = path + '.tmp.npz'
            np.savez(tmp, mu=mu, sigma=sigma, num=len(names))
            os.replace(tmp, path)
            print_log(f'FID: real statistics of {len(names)} images of '
                      f'{self.real_dir} cached in {path}', logger='current',
                      level=logging.INFO)
        return mu, sigma, len(names)

    def compute_metrics(self, results: list) -> dict:
        mu_fake, sigma_fake = feature_statistics(np.stack(results))
        mu_real, sigma_real, num_real = self.real_statistics()
        return dict(fid=frechet_distance(mu_fake, sigma_fake, mu_real,
                                         sigma_real),
                    num_fake=len(results), num_real=num_real)
