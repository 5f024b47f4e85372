"""Default training options of the catalog CLIP, importable without torch (the admin's form).

    from recommender.training.defaults import DEFAULT_EPOCHS   # imports nothing else

Measured on a 2-core CPU with the 6,000-product H&M subset (bench/train_catalog_clip_hm.py).
Training there is compute-bound and far from converged, so what wins is more optimiser steps per
second: on a 2,000-product probe, 64 px / batch 64 / lr 2e-3 for 4 epochs reached held-out
text->image R@10 0.75 where 96 px / batch 128 / lr 1e-3 for 2 epochs (a little more compute)
reached 0.39. On all 6,000 products 8 epochs took 644 s end to end and reached 0.72
(96 px / 128 / 1e-3 / 5 epochs: 0.62).
"""

DEFAULT_IMAGE_SIZE = 64
DEFAULT_BATCH_SIZE = 64
DEFAULT_LR = 2e-3
DEFAULT_EPOCHS = 8
