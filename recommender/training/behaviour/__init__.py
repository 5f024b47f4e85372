"""Training and offline evaluation of the behaviour model (serving is :mod:`recommender.behaviour`).

    from recommender.training.behaviour.train import train_behaviour    # the shop's model, registered
    from recommender.training.behaviour.shop_evaluation import run_evaluation   # vs the baselines
    from recommender.training.behaviour.fit import fit                  # on any sequences (no Django)

``data`` (sequences and splits), ``fit`` (the training loop), ``evaluate`` (full-ranking metrics,
blends), ``baselines``, ``metrics``, ``cooccurrence`` (building the served table), ``report``
(whole runs and their files), ``plots``, ``shop`` (this shop's events), ``train`` (a shop
version), ``shop_evaluation`` (the shop's whole run). Imported only by management commands,
Celery tasks and ``bench/``. Imports point one way: ``evaluate`` < ``fit`` < ``train``, and
``report`` < ``shop_evaluation``; ``train`` and ``report`` never meet. Only ``shop``, ``train``
and ``shop_evaluation`` need Django.
"""

__all__: list[str] = []
