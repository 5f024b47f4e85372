"""Behaviour model serving: the active next-item model turns a shopper's events into a query vector.

Torch-free at import (the web process imports it); torch loads only when a behaviour model is::

    from recommender.behaviour.serving import behaviour_query, behaviour_user_vector
    vector = behaviour_user_vector(user_id, session_key)   # None -> use the profile vector
    query = behaviour_query(user_id, session_key)          # + scale, blend weights, co-occurrence, version
    hits = nearest(query.vector, version=query.version)    # the version's product output vectors

``serving`` (the query and the blend), ``loading`` (the active version's artifact, cached),
``item_vectors`` (the version's product output vectors in pgvector), ``cooccurrence`` and
``repurchase`` (the scores blended with the model), ``model`` (the network, to compute a state),
``config`` (hyperparameters), ``codes`` (event types as inputs), ``receivers`` (activation and
embedding keep the output vectors current).

Training and offline evaluation live in :mod:`recommender.training.behaviour`, which only
management commands, Celery tasks and ``bench/`` import::

    from recommender.training.behaviour.train import train_behaviour
    version = train_behaviour(activate=True)               # manage.py recommender_train

Hyperparameters: :data:`recommender.behaviour.config.DEFAULTS`, overridden by
``RECOMMENDER["BEHAVIOUR"]`` and then by keyword arguments.
"""

__all__: list[str] = []
