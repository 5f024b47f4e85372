"""Behaviour model: a next-item transformer over shoppers' event sequences, and its offline evaluation.

Training code (``data``, ``model``, ``train``, ``baselines``, ``evaluate``, ``plots``) is kept
apart from serving (``serving``), which only loads a saved artifact and runs one forward pass;
``repurchase`` and ``cooccurrence`` hold the scores both sides blend with the model, and
``item_vectors`` writes the active version's product output vectors into pgvector::

    from recommender.behaviour.serving import behaviour_query, behaviour_user_vector
    vector = behaviour_user_vector(user_id, session_key)   # None -> use the profile vector
    query = behaviour_query(user_id, session_key)          # + scale, blend weights, co-occurrence, version
    hits = nearest(query.vector, version=query.version)    # the version's product output vectors

    from recommender.behaviour.train import train_behaviour
    version = train_behaviour(activate=True)               # manage.py recommender_train

    from recommender.behaviour.evaluate import run_evaluation
    report = run_evaluation("amazon-scientific")           # manage.py recommender_evaluate

Hyperparameters: :data:`recommender.behaviour.config.DEFAULTS`, overridden by
``RECOMMENDER["BEHAVIOUR"]`` and then by keyword arguments.
"""

__all__: list[str] = []
