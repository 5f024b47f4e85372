"""Signal receivers: keep product vectors in step with the host's catalog, and search's
vocabulary in step with the vectors.

Connected in ``RecommenderConfig.ready()`` to the configured product model only (nothing is
connected when the setting is wrong: the system check reports that). Embedding is queued
after the transaction commits, so the worker sees the saved product. When the pipeline
announces indexed products (``recommender.signals``), their words join the spelling vocabulary
at once, and a whole indexed catalog rebuilds the suggestion phrases after commit, so the first
search already knows the catalog's words. Work that lower floors ask for through signals
(``profile_stale``, ``embedding_requested``, ``vocabulary_missing``) becomes tasks here, the
only place besides the admin and the commands that imports ``recommender.tasks``.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_delete

from recommender.cache import bump_global_generation
from recommender.catalog import resolve_product_model
from recommender.conf import app_settings
from recommender.events import SESSION_ID_KEY, merge_session
from recommender.models import MerchandisingRule, ModelVersion, RecommenderSettings
from recommender.privacy import delete_user_data
from recommender.search.phrases import add_catalog_phrases, refresh_suggestions
from recommender.signals import (
    catalog_indexed,
    embedding_requested,
    products_indexed,
    profile_stale,
    vocabulary_missing,
)
from recommender.storage import delete_product_vectors
from recommender.tasks import enqueue_embedding, enqueue_profile_update
from recommender.tasks_search import enqueue_refresh

logger = logging.getLogger(__name__)

DISPATCH_UID = "recommender.catalog"


def product_saved(sender: Any, instance: Any, raw: bool = False, **kwargs: Any) -> None:
    if raw:  # loaddata: fixtures are indexed by recommender_reindex
        return
    if not ModelVersion.objects.maintained():
        return  # nothing indexed yet: the first recommender_reindex embeds everything
    transaction.on_commit(partial(enqueue_embedding, [str(instance.pk)]), robust=True)


def product_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    key = str(instance.pk)
    transaction.on_commit(lambda: delete_product_vectors([key]), robust=True)


def connect_catalog_receivers() -> None:
    """Listen to saves and deletes of the host's product model."""
    try:
        model = resolve_product_model(app_settings.PRODUCT_MODEL)
    except ImproperlyConfigured as exc:
        logger.debug("Not connecting catalog receivers: %s", exc)
        return
    post_save.connect(product_saved, sender=model, dispatch_uid=DISPATCH_UID)
    post_delete.connect(product_deleted, sender=model, dispatch_uid=DISPATCH_UID)


def settings_or_rules_changed(sender: Any, **kwargs: Any) -> None:
    """Rules and admin settings shape every result: forget all cached recommendations (and the
    cached rules). Now, for this transaction's own reads, and again at commit, in case another
    process cached the old state in between."""
    bump_global_generation()
    transaction.on_commit(bump_global_generation)


def shopper_logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """Merge what the shopper did anonymously into their account."""
    session = getattr(request, "session", None)
    if session is not None:
        merge_session(session.get(SESSION_ID_KEY, ""), user)


def user_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    """The host deleted a user: their events and profiles go by CASCADE; this removes the rest
    (anonymous-session rows linked to them, query-log links)."""
    delete_user_data(instance)


def products_were_indexed(sender: Any, version: ModelVersion, keys: list[str], **kwargs: Any) -> None:
    """Products embedded into the serving version: their words, names and category join the
    suggestion table now (a version being built gets its vocabulary when it is activated)."""
    if version.state == ModelVersion.State.ACTIVE and version.kind == ModelVersion.Kind.ENCODER:
        with transaction.atomic():  # a savepoint: a failure here leaves the caller's transaction usable
            add_catalog_phrases(version, list(keys))


def catalog_was_indexed(sender: Any, version: ModelVersion, **kwargs: Any) -> None:
    """A whole catalog serves: rebuild the suggestion phrases from it once the transaction commits."""
    transaction.on_commit(rebuild_phrases, robust=True)


def rebuild_phrases() -> None:
    """Queue the rebuild; with no broker to take it, rebuild here (the pipeline's own process)."""
    if not enqueue_refresh():
        refresh_suggestions()


def vocabulary_was_missing(sender: Any, **kwargs: Any) -> None:
    """A search found no vocabulary: queue a build (a search request never builds one itself)."""
    enqueue_refresh()


def connect_search_vocabulary() -> None:
    products_indexed.connect(products_were_indexed, dispatch_uid="recommender.vocabulary.products")
    catalog_indexed.connect(catalog_was_indexed, dispatch_uid="recommender.vocabulary.catalog")
    vocabulary_missing.connect(vocabulary_was_missing, dispatch_uid="recommender.vocabulary.missing")


def profile_went_stale(sender: Any, user_id: Any, session_key: str, deferred: bool = False, **kwargs: Any) -> None:
    """An event was stored (or a user opted back in): queue their profile update."""
    enqueue_profile_update(user_id, session_key, in_request=not deferred)


def embedding_was_requested(
    sender: Any, keys: list[str], version_ids: list[int] | None = None, force: bool = False, **kwargs: Any
) -> bool:
    """The pipeline asked for products to be embedded by a worker (pending when the broker is down)."""
    return enqueue_embedding(keys, version_ids=version_ids, force=force)


def connect_task_receivers() -> None:
    """Lower layers announce work through signals; the tasks that do it are queued here."""
    profile_stale.connect(profile_went_stale, dispatch_uid="recommender.profile_stale")
    embedding_requested.connect(embedding_was_requested, dispatch_uid="recommender.embedding_requested")


def connect_app_receivers() -> None:
    for model in (MerchandisingRule, RecommenderSettings):
        post_save.connect(
            settings_or_rules_changed, sender=model, dispatch_uid=f"recommender.gen.save.{model.__name__}"
        )
        post_delete.connect(
            settings_or_rules_changed, sender=model, dispatch_uid=f"recommender.gen.del.{model.__name__}"
        )
    user_logged_in.connect(shopper_logged_in, dispatch_uid="recommender.merge_session")
    pre_delete.connect(user_deleted, sender=get_user_model(), dispatch_uid="recommender.user_deleted")
    connect_search_vocabulary()
    connect_task_receivers()
