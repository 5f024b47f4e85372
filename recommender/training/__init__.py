"""Offline training, never imported by the serving layers (only by management commands, the Celery
tasks in :mod:`.tasks`, and ``bench/``).

    from recommender.training.catalog_clip import train_catalog_clip     # the catalog CLIP (torch)
    from recommender.training.encoder import train_encoder               # ... on the shop's catalog
    from recommender.training.behaviour.train import train_behaviour     # the behaviour model (torch)
    from recommender.training.behaviour.shop_evaluation import run_evaluation   # ... and its offline evaluation
    from recommender.training.defaults import DEFAULT_EPOCHS             # torch-free (the admin's form)

This package imports nothing itself, so :mod:`.defaults` and :mod:`.tasks` load without torch;
the modules that train need the ``clip`` (catalog CLIP) or ``behaviour`` extra.
"""

__all__: list[str] = []
