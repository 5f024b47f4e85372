"""The multilingual search version: USE-m3 vectors of every product text, beside the serving version.

    version = build_multilingual_version()     # registers it (once) and embeds the catalogue's texts

Search uses it for queries not in the catalogue's language (``SEARCH_MULTILINGUAL_VERSION`` names
it; see ``recommender.search.multilingual``). It never serves recommendations: it stays READY, not
active, and product saves keep it fresh because ``ModelVersion.objects.maintained()`` includes it.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from recommender.conf import app_settings
from recommender.indexing import ReindexReport, reindex
from recommender.models import ModelVersion
from recommender.versions import register_encoder_version

__all__ = ["USEM3_SPEC", "build_multilingual_version"]

USEM3_SPEC = {"MODEL": "usem3", "BACKEND": "recommender.encoders.usem3_encoder.UseM3Encoder"}


def build_multilingual_version(
    *, batch_size: int | None = None, force: bool = False, progress: bool = False
) -> tuple[ModelVersion, ReindexReport]:
    """The version named by ``SEARCH_MULTILINGUAL_VERSION`` (registered on first use), with every
    product's text embedded (resumable: unchanged products are skipped)."""
    name = app_settings.SEARCH_MULTILINGUAL_VERSION
    if not name:
        raise ImproperlyConfigured(
            'Set RECOMMENDER["SEARCH_MULTILINGUAL_VERSION"] to a name (e.g. "usem3-multilingual") first.'
        )
    version = ModelVersion.objects.filter(kind=ModelVersion.Kind.ENCODER, name=name).order_by("-pk").first()
    if version is None:
        version = register_encoder_version(USEM3_SPEC, name=name)
    return version, reindex(version, batch_size=batch_size, force=force, progress=progress)
