"""The app's models, one module per concern."""

from recommender.models.analytics import SlotStat
from recommender.models.audit import ProfileAccessLog
from recommender.models.config import RecommenderSettings
from recommender.models.events import Event, EventType
from recommender.models.experiments import Experiment, Exposure, UserAssignment, Variant
from recommender.models.moderation import PublishedQuery, SuggestionRule
from recommender.models.neighbours import NeighbourBuild, NeighbourKind, ProductNeighbour
from recommender.models.privacy import PersonalisationOptOut
from recommender.models.profiles import Profile
from recommender.models.rules import MerchandisingRule
from recommender.models.search import SearchQuery
from recommender.models.suggestions import SuggestionPhrase
from recommender.models.vectors import ProductVector
from recommender.models.versions import ModelVersion

__all__ = [
    "Event",
    "EventType",
    "Experiment",
    "Exposure",
    "MerchandisingRule",
    "ModelVersion",
    "NeighbourBuild",
    "NeighbourKind",
    "PersonalisationOptOut",
    "ProductNeighbour",
    "ProductVector",
    "Profile",
    "ProfileAccessLog",
    "PublishedQuery",
    "RecommenderSettings",
    "SearchQuery",
    "SlotStat",
    "SuggestionPhrase",
    "SuggestionRule",
    "UserAssignment",
    "Variant",
]
