"""The app's settings, read lazily from one namespaced dict.

Hosts configure everything in ``settings.RECOMMENDER = {...}``; code reads it through
``app_settings``::

    from recommender.conf import app_settings
    app_settings.PRODUCT_MODEL          # "catalog.Product"
    app_settings.CATALOG_ADAPTER        # the adapter class, imported on first access

Nothing is read at import time and the cache is dropped on ``setting_changed``, so
``override_settings(RECOMMENDER=...)`` works in tests. Every key is documented in
``docs/settings.md``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

SETTING_NAME = "RECOMMENDER"

DEFAULTS: dict[str, Any] = {
    # "app_label.ModelName" of the host's product model. Required.
    "PRODUCT_MODEL": None,
    # Dotted path of the catalog adapter class; the default reads FIELDS.
    "CATALOG_ADAPTER": "recommender.catalog.FieldMapAdapter",
    # Which product fields the default adapter reads. Values are field names or
    # dotted attribute paths ("brand.name"); "text" may list several fields; also a callable,
    # "module:function", ("cost_cents", "0.01") for price, a URL pattern name for url
    # (recommender/catalog/field_specs.py). url None: the product's get_absolute_url().
    "FIELDS": {
        "title": "name",
        "text": ["description"],
        "image": "image",
        "category": "category",
        "price": "price",
        "in_stock": "in_stock",
        "url": None,
        # The key a product's variants share (e.g. "parent_id", "style_code"); None: no families.
        "family": None,
    },
    # Queryset filter (kwargs for .filter()) that selects sellable products.
    "SELLABLE_FILTER": {},
    # How a product's text is composed for the text encoder: a str.format template
    # over the adapter's fields (title, text, category) and any product attribute.
    "TEXT_TEMPLATE": "{title}. {category}. {text}",
    # The encoder used when no model version is active in the database.
    "ENCODER": {
        "MODEL": "ViT-B-32",
        "PRETRAINED": "laion2b_s34b_b79k",
        "DEVICE": "auto",
        "BATCH_SIZE": 32,
        "PRECISION": "auto",
    },
    # Where trained models (catalog CLIP, behaviour models) are written.
    "MODEL_DIR": None,  # default: BASE_DIR / "var" / "recommender-models"
    # How web processes encode search queries: "onnx" (onnxruntime, no torch, when the version's
    # text tower was exported; else torch with a warning) or "torch" (always the torch encoder).
    "QUERY_ENCODER": "onnx",
    # onnxruntime threads per process for query encoding: 1 suits one web worker per core and
    # keeps a session loaded before gunicorn forks (--preload) usable in every worker.
    "QUERY_ENCODER_THREADS": 1,
    # recommender.query_encoders.preload_query_encoder() (called from wsgi.py) loads the serving
    # version's query encoder at boot, so the first shopper does not wait for it.
    "PRELOAD_QUERY_ENCODER": True,
    # Decode product JPEGs at the smallest scale (1/2, 1/4, 1/8) that keeps 4x the encoder's
    # input size: 36 % faster embedding, slightly different pixels; held-out recall on the
    # trained H&M catalog CLIP measured equal within one query of 600
    # (bench/results/draft_decode_recall.md).
    "IMAGE_DRAFT_DECODE": True,
    # Products per embedding task; smaller batches lose less work when a worker dies.
    "EMBED_BATCH_SIZE": 64,
    # Celery queue of the embedding tasks, so GPU workers can be dedicated to it.
    # None: the default Celery queue, so the plain `celery -A proj worker` takes embedding work.
    "EMBEDDINGS_QUEUE": None,
    # Images larger than this many pixels are rejected (decompression bombs).
    "MAX_IMAGE_PIXELS": 40_000_000,
    # Images whose long side is more than this many times the short side are rejected: padded to
    # a square for the encoder they would cost long side squared. None accepts any shape.
    "MAX_IMAGE_ASPECT_RATIO": 10,
    # HNSW index build parameters (pgvector; its defaults are m=16, ef_construction=64). 24/128
    # make a better graph: on 1M 512-d halfvec vectors recall@10 0.999 at p95 6.8 ms with
    # HNSW_EF_SEARCH 100, where 16/64 needed ef_search 200 for 0.952 at p95 10.3 ms; the price is
    # about 3x the build time and 1.2x the index size (bench/results/ann_1000000_spread1_m24_efc128.md).
    "HNSW_M": 24,
    "HNSW_EF_CONSTRUCTION": 128,
    # Candidate list size at query time; pgvector's default 40 limits recall at k > 40.
    "HNSW_EF_SEARCH": 100,
    # pgvector >= 0.8 iterative scans keep filtered queries returning k rows.
    "HNSW_ITERATIVE_SCAN": "relaxed_order",
    # Index and query half-precision copies of the vectors (halfvec): half the index memory and
    # faster queries at the same recall (bench/results/ann_1000000_*); stored vectors stay float32.
    # Changing it needs new indexes: manage.py recommender_reindex builds them.
    "HNSW_HALFVEC": False,
    # What "similar products" compares: "image" (looks like: same colour and shape), "text"
    # (described like), "fused" (the stored fused vector) or "image+text" (weighted mean of the
    # image and the text cosine, one pgvector query). Measured on H&M in
    # bench/results/similar_quality.md.
    "SIMILAR_VECTOR": "image+text",
    # Share of the image cosine in "image+text" (the rest is the text cosine). 0.1 was the only
    # choice on H&M with >= 80 % same product type and no less same colour than the image alone
    # (bench/results/similar_quality.md): text cosines vary less than image ones, so a small
    # image share still orders products of one type by their look.
    "SIMILAR_IMAGE_WEIGHT": 0.1,
    # Behaviour model hyperparameters, merged over recommender.behaviour.config.DEFAULTS.
    "BEHAVIOUR": {},
    # "Exclude purchased products" on auto keeps purchases in "for you" ("Buy again") when training
    # tuned a positive repurchase weight (validation ranked better with them) and at least this
    # share of the shop's purchases repeat an earlier one. 0: the validation gain alone decides
    # (H&M: under 1 % of purchases repeat one, yet own purchases triple MAP@12).
    "BUY_AGAIN_MIN_REPURCHASE_RATE": 0.0,
    # Events (and query-log rows) older than this many days are pruned by beat; None keeps all.
    "EVENT_RETENTION_DAYS": 365,
    # --- abuse-proofing (docs/security.md) ---
    # The host's reverse proxies, whose X-Forwarded-For the throttles may believe: None (the
    # peer address is the client), a number of proxies, or a list of proxy IPs/CIDRs.
    "TRUSTED_PROXIES": None,
    # Record personalising events (views, searches, API events) from requests the browser marks
    # "Sec-Fetch-Site: cross-site": off, so a link on another site cannot write to a profile.
    "RECORD_CROSS_SITE_EVENTS": False,
    # Most events one POST to events/ may carry ({"events": [...]}): bounds the work of one
    # request; a beacon flushing a page's views and clicks sends a handful.
    "EVENTS_MAX_BATCH": 50,
    # Slot names the REST API may count impressions and clicks under, besides "api", "search",
    # the admin's default slots and the slots template tags render.
    "SLOTS": [],
    # Template tags render an empty slot and log when recommendations fail; True raises
    # instead (useful while developing).
    "TEMPLATE_ERRORS_RAISE": False,
    # The slots' stylesheet (a card grid with sized images), linked once per page: True for the
    # shipped recommender/recommender.css, False to leave styling to the shop, or a static path
    # (or URL) of the shop's own file.
    "STYLESHEET": True,
    # --- online experiments (recommender/experiments/) ---
    # Add-to-cart and purchase events count for the variant the shopper last saw within this
    # many hours (clicks: the last exposure of the slot they name, within the same window).
    "EXPERIMENT_ATTRIBUTION_HOURS": 24,
    # Bandit experiments: Thompson draws per update (the Monte Carlo error of a share is about
    # 0.5 / sqrt(draws)); the shares are recomputed by the recommender.update_bandits beat task.
    "EXPERIMENT_BANDIT_DRAWS": 10_000,
    # --- search (recommender.search) ---
    # Reciprocal rank fusion: score = sum(weight / (k + rank)) over the ranked lists. k and the
    # weights were chosen on the tuning half of bench/search_queries.py (the optimum is flat:
    # Cormack et al.'s k=60 and equal weights are within 1 % nDCG@10).
    "SEARCH_RRF_K": 30,
    "SEARCH_WEIGHTS": {
        "text_vector": 1.0,  # query CLIP text vector vs product text vectors
        "fused_vector": 0.5,  # ... vs fused (image + text) product vectors
        "fulltext": 1.5,  # Postgres full text (weighted tsvector, websearch + lexicon)
        "trigram": 0.3,  # pg_trgm word similarity on title and category (typos)
        "personal": 0.1,  # rerank by the shopper's profile vector (small: a nudge)
        "popularity": 0.05,  # rerank by recent clicks and purchases (small: a tie-breaker)
        "multilingual_vector": 1.0,  # USE-m3 query vs product text vectors, foreign queries only
    },
    # Candidates fetched per ranked list before fusion; totals and pages stop there.
    "SEARCH_CANDIDATES": 200,
    # Encode a new query on a background thread while Postgres runs the lexical lists (two list
    # statements instead of one; the encoding is hidden on a machine with two or more cores).
    "SEARCH_ENCODE_CONCURRENTLY": True,
    # Dense matches below this cosine similarity are not results (MiniLM: unrelated texts
    # score < 0.25); they still rank lexical matches. Keeps "few results" meaningful.
    "SEARCH_MIN_SIMILARITY": 0.3,
    # ... nor are those more than this below the query's best dense match: a text model finds
    # every garment somewhat like "skirt"; the skirts stand out by more than this.
    "SEARCH_SIMILARITY_MARGIN": 0.15,
    # Postgres text search configuration; the shipped GIN index is built for "english".
    "SEARCH_TEXT_CONFIG": "english",
    # pg_trgm word_similarity threshold of the trigram list (pg_trgm's default is 0.6).
    "SEARCH_TRIGRAM_THRESHOLD": 0.3,
    # Queries are cut to this many characters before parsing (the log keeps 500).
    "SEARCH_MAX_QUERY_LENGTH": 200,
    # ... and to this many words: each word costs a spelling check, lexicon lookups, encoder tokens
    # and trigrams (bench/results/search_abuse.md). Shopper queries have 1-5 (bench/search_queries.py).
    "SEARCH_MAX_QUERY_WORDS": 10,
    # "Did you mean" is offered when the query as typed matches fewer products than this.
    "SEARCH_DID_YOU_MEAN_BELOW": 5,
    # Upper bounds of the price facet's ranges (the last range is open-ended).
    "SEARCH_PRICE_RANGES": [25, 50, 100, 200],
    # Extra facets read from host products: {"facet name": "dotted attribute path"}.
    "SEARCH_FACET_ATTRIBUTES": {},
    # Query expansion entries added to (or overriding) the built-in fashion lexicon:
    # {"word or phrase": ["alternative", ...]} (recommender/search/lexicon.py).
    "SEARCH_LEXICON": {},
    # How far back the search log counts for suggestions and related searches (retention of
    # the log itself is EVENT_RETENTION_DAYS).
    "SEARCH_LOG_DAYS": 180,
    # Largest uploaded image for search by image, in bytes.
    "SEARCH_MAX_IMAGE_BYTES": 10 * 1024 * 1024,
    # Logged queries matching one of these regular expressions (on the lower-case query) are
    # never suggested unless approved in the admin's suggestion moderation; None switches one off.
    "SEARCH_SUGGESTION_BLOCK_PATTERNS": {
        "url": r"[a-z][a-z0-9+.-]*://|\bwww\.|\b[a-z0-9-]+\.(?:com|net|org|info|biz|io|co|me|ly|xyz|top|site|online|shop|store|app|ru|cn|tk)\b",
        "email": r"[^\s@]+@[^\s@]+\.[a-z]{2,}",
        "phone": r"(?:\+?\d[\s().-]*){7,}",  # 7+ digits, separators allowed
    },
    # Only queries approved in the admin's suggestion moderation are suggested (strict shops).
    "SEARCH_SUGGESTIONS_APPROVED_ONLY": False,
    # The language product texts are written in (ISO 639-1). Queries in another language (by
    # script, or by the shipped zh/es/de term maps) are translated into English when this is "en".
    "SEARCH_LANGUAGE": "en",
    # Name of an encoder version made with the USE-m3 backend (recommender_multilingual_index):
    # its product text vectors are the "multilingual_vector" leg for foreign queries. None: no leg.
    "SEARCH_MULTILINGUAL_VERSION": None,
    # That leg keeps products within this cosine of its best match, as SEARCH_SIMILARITY_MARGIN
    # does for MiniLM (not tuned: bench/results/search_quality_multilingual.md).
    "SEARCH_MULTILINGUAL_MARGIN": 0.15,
}

# Keys whose values are dotted paths, imported on access.
IMPORT_STRINGS = {"CATALOG_ADAPTER"}


class AppSettings:
    """Attribute access to ``settings.RECOMMENDER`` merged over ``DEFAULTS``."""

    def __init__(self, defaults: dict[str, Any], import_strings: set[str]) -> None:
        self._defaults = defaults
        self._import_strings = import_strings
        self._cached: set[str] = set()

    @property
    def user_settings(self) -> dict[str, Any]:
        value = getattr(settings, SETTING_NAME, {}) or {}
        if not isinstance(value, dict):
            raise ImproperlyConfigured(f"settings.{SETTING_NAME} must be a dict, not {type(value).__name__}.")
        return value

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in self._defaults:
            raise AttributeError(f"Invalid {SETTING_NAME} setting: {name!r}")
        default = self._defaults[name]
        value = self.user_settings.get(name, default)
        if isinstance(default, dict) and isinstance(value, dict):
            value = {**default, **value}
        if name in self._import_strings and isinstance(value, str):
            try:
                value = import_string(value)
            except ImportError as exc:
                raise ImproperlyConfigured(
                    f"{SETTING_NAME}[{name!r}] = {value!r} could not be imported: {exc}"
                ) from exc
        self._cached.add(name)
        setattr(self, name, value)
        return value

    def reload(self) -> None:
        """Forget cached values (called when settings change, e.g. in tests)."""
        for name in self._cached:
            self.__dict__.pop(name, None)
        self._cached.clear()


app_settings = AppSettings(DEFAULTS, IMPORT_STRINGS)


def _reload_on_change(*, setting: str, **kwargs: Any) -> None:
    if setting == SETTING_NAME:
        app_settings.reload()  # recommender.catalog forgets its cached adapter on the same signal


setting_changed.connect(_reload_on_change)
