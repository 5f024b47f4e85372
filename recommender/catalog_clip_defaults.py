"""Moved to :mod:`recommender.training.defaults`; kept until the admin's form imports it from there."""

from recommender.training.defaults import DEFAULT_BATCH_SIZE, DEFAULT_EPOCHS, DEFAULT_IMAGE_SIZE, DEFAULT_LR

__all__ = ["DEFAULT_BATCH_SIZE", "DEFAULT_EPOCHS", "DEFAULT_IMAGE_SIZE", "DEFAULT_LR"]
