"""Oxford 102 Flowers: the image list, the train/validation/test split, a pixel cache and pair datasets.

Data flows one way through the modules of this package::

    data/flowers-102/  --release.list_images-->  [ImageRecord]  --split.make_split-->  Split  (splits.json)
                                                      |
                                                      +--cache.build_cache-->  ImageCache  (cache_<load_size>.pt)
                                                                                   |
                                       pairs.PairDataset(cache, split.train | .validation | .test)  -->  HSV batches

* :mod:`huenet.data.release`: the images, read through the real ``torchvision.datasets.Flowers102``
  class (``download=False``), which checks the md5 sums of the two ``.mat`` files; its
  ``train``/``val``/``test`` splits together hold all 8189 images. The project does not use the
  official split (``docs/data.md`` says why).
* :mod:`huenet.data.split`: all images sorted by name, shuffled with a fixed seed, 10% test and
  10% of the rest validation; byte-identical images are kept on one side.
* :mod:`huenet.data.cache`: every image decoded once, resized and centre-cropped to a ``load_size``
  square, kept as one ``uint8`` tensor on disk.
* :mod:`huenet.data.pairs`: seeded (source, target) pairs of HSV crops from the cache, and the
  validation pairs every choice is scored on.
* :mod:`huenet.data.artifacts`: the split and cache files that stage ``data`` writes and the other
  stages read (built at smoke scale where they are missing).

This module imports no submodule, so a stage that imports one of them depends on that one only
(``tests/test_stage_deps.py``).
"""

from __future__ import annotations

__all__ = ["DataError"]


class DataError(RuntimeError):
    """The dataset is missing, incomplete or corrupt, or a derived file does not fit it.

    The message is one line that says what is wrong and what to do about it.
    """
