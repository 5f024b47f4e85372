"""A small fashion and e-commerce lexicon for query expansion: synonyms, colour and pattern words.

    expansions("pullover")      # ("sweater", "jumper")
    expansions("maroon")        # ("dark red", "burgundy")
    "black" in lexicon_words()  # True: colour names are never "corrected"
    match_phrases(["polka", "dot", "dress"])   # [("polka dot", 0, 2), ("dress", 2, 3)]

Shoppers describe products in their own words; catalogs use a few fixed names. Each entry maps a
shopper's word (or phrase of up to three words) to words a catalog is likely to use, so full-text
search can match them. Entries are general vocabulary (garment names across UK/US English, colour
names to basic colour names, print names), not tuned to one shop; hosts add or override entries with
``RECOMMENDER["SEARCH_LEXICON"]`` (``{"word": ["alternative", ...]}``), read by
:func:`active_lexicon`. Keys are lower case and singular.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

from recommender.search.normalize import singular_forms

__all__ = [
    "COLOURS",
    "COLOUR_NAMES",
    "GARMENTS",
    "LEXICON",
    "MAX_PHRASE_WORDS",
    "PATTERNS",
    "active_lexicon",
    "expansions",
    "lexicon_words",
    "match_phrases",
]

MAX_PHRASE_WORDS = 3


def _groups(*groups: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Equivalence groups: every member expands to all the others."""
    out: dict[str, tuple[str, ...]] = {}
    for group in groups:
        for word in group:
            out[word] = tuple(dict.fromkeys((*out.get(word, ()), *(w for w in group if w != word))))
    return out


# Garment and accessory names: equivalence groups (UK/US variants, common shop synonyms) ...
GARMENTS: dict[str, tuple[str, ...]] = _groups(
    ("sweater", "jumper", "pullover"),
    ("trousers", "pants", "slacks"),
    ("t-shirt", "tee", "tshirt", "t shirt"),
    ("hoodie", "hoody", "hooded sweatshirt", "hooded top"),
    ("vest top", "tank top", "singlet", "tank"),
    ("underwear bottom", "briefs", "knickers", "panties", "underpants"),
    ("bra", "brassiere"),
    ("swimsuit", "swimming costume", "bathing suit", "one-piece"),
    ("pyjamas", "pajamas", "pjs", "pyjama", "pajama", "nightwear", "sleepwear"),
    ("robe", "dressing gown", "bathrobe"),
    ("tights", "pantyhose"),
    ("sneakers", "trainers", "running shoes"),
    ("handbag", "purse"),
    ("sunglasses", "shades"),
    ("jumpsuit", "playsuit", "romper", "all-in-one"),
    ("dungarees", "overalls"),
    ("cardigan", "cardi"),
    ("blazer", "suit jacket", "sport coat"),
    ("hairband", "headband", "alice band"),
    ("hair tie", "scrunchie", "hair elastic"),
    ("hat", "beanie", "cap"),
)
# ... and narrower names that also go by a broader one (one way only: a sweatshirt is a sweater,
# a sweater is not always a sweatshirt).
GARMENTS.update(
    {
        "sweatshirt": ("sweater", "jumper"),
        "jeans": ("trousers", "denim"),
        "joggers": ("trousers", "sweatpants"),
        "sweatpants": ("trousers", "joggers"),
        "chinos": ("trousers",),
        "culottes": ("trousers",),
        "leggings": ("tights",),
        "jeggings": ("leggings", "denim"),
        "camisole": ("vest top", "strap top"),
        "cami": ("vest top", "strap top"),
        "frock": ("dress",),
        "gown": ("dress",),
        "sundress": ("dress",),
        "button-down": ("shirt",),
        "button-up": ("shirt",),
        "oxford": ("shirt",),
        "tunic": ("blouse", "top"),
        "crop top": ("top",),
        "bodysuit": ("body",),
        "bralette": ("bra",),
        "sports bra": ("bra", "sport"),
        "thong": ("briefs",),
        "boxers": ("underwear", "shorts"),
        "trunks": ("underwear", "swim shorts"),
        "bikini bottoms": ("bikini bottom", "swimwear bottom"),
        "bikini top": ("bikini",),
        "parka": ("jacket", "coat"),
        "anorak": ("jacket",),
        "windbreaker": ("jacket",),
        "puffer": ("padded jacket", "jacket"),
        "raincoat": ("rain jacket", "coat"),
        "trench": ("trenchcoat", "coat"),
        "gilet": ("waistcoat", "vest"),
        "miniskirt": ("skirt",),
        "mini skirt": ("skirt",),
        "bermudas": ("shorts",),
        "booties": ("boots",),
        "ankle boots": ("boots",),
        "heels": ("pumps", "heeled"),
        "stilettos": ("pumps", "heels"),
        "flats": ("ballerinas", "flat shoes"),
        "ballet flats": ("ballerinas",),
        "flip-flops": ("flip flops", "sandals"),
        "sliders": ("sandals", "slides"),
        "tote": ("bag", "shopper"),
        "clutch": ("bag",),
        "rucksack": ("backpack", "bag"),
        "backpack": ("bag", "rucksack"),
        "studs": ("earrings",),
        "hoops": ("hoop earrings", "earrings"),
        "pendant": ("necklace",),
        "choker": ("necklace",),
        "mittens": ("gloves",),
        "shawl": ("scarf",),
        "snood": ("scarf",),
        "beret": ("hat",),
        "barrette": ("hair clip",),
        "knitwear": ("knitted", "knit", "sweater", "cardigan"),
        "swimwear": ("bikini", "swimsuit"),
        "lingerie": ("bra", "briefs"),
        "loungewear": ("pyjamas", "joggers"),
        "activewear": ("sport", "sports"),
        "sportswear": ("sport", "sports"),
        "outerwear": ("jacket", "coat"),
    }
)

# Every colour name a shopper or a catalog may use: basic names, their shades and fashion colour
# names. These words are never "corrected" (a catalog without black products must not turn "black"
# into "block"), and misspelled colours are corrected to them ("blak" -> "black").
COLOUR_NAMES: frozenset[str] = frozenset(
    {
        # basic colour names and how catalogs qualify them
        "black",
        "white",
        "grey",
        "gray",
        "red",
        "blue",
        "green",
        "yellow",
        "orange",
        "pink",
        "purple",
        "brown",
        "beige",
        "turquoise",
        "gold",
        "golden",
        "silver",
        "multicolour",
        "multicolor",
        "multi",
        "colourful",
        "colorful",
        "neutral",
        "transparent",
        "clear",
        "metal",
        "metallic",
        "dark",
        "light",
        "pale",
        "bright",
        "deep",
        "dusty",
        "neon",
        "pastel",
        "muted",
        "off white",
        "off-white",
        "greyish",
        "grayish",
        "greenish",
        "yellowish",
        "bluish",
        "reddish",
        "pinkish",
        "brownish",
        "melange",
        # whites and creams
        "ivory",
        "cream",
        "ecru",
        "eggshell",
        "snow",
        "chalk",
        "pearl",
        "porcelain",
        "vanilla",
        "bone",
        "alabaster",
        "oyster",
        "natural",
        "undyed",
        "optical white",
        # greys and blacks
        "charcoal",
        "anthracite",
        "graphite",
        "slate",
        "ash",
        "smoke",
        "pewter",
        "gunmetal",
        "steel",
        "heather",
        "dove",
        "stone",
        "silver grey",
        "jet",
        "jet black",
        "onyx",
        "ebony",
        "raven",
        "ink",
        # beiges and browns
        "camel",
        "tan",
        "sand",
        "taupe",
        "mole",
        "nude",
        "oatmeal",
        "oat",
        "biscuit",
        "khaki",
        "fawn",
        "buff",
        "greige",
        "mushroom",
        "champagne",
        "latte",
        "mocha",
        "coffee",
        "cocoa",
        "chocolate",
        "espresso",
        "cognac",
        "caramel",
        "toffee",
        "hazel",
        "hazelnut",
        "chestnut",
        "walnut",
        "mahogany",
        "umber",
        "sienna",
        "sepia",
        "rust",
        "copper",
        "bronze",
        "brass",
        "amber",
        "honey",
        "ochre",
        "ocher",
        "tobacco",
        "truffle",
        # reds
        "scarlet",
        "crimson",
        "cherry",
        "ruby",
        "garnet",
        "wine",
        "burgundy",
        "maroon",
        "oxblood",
        "claret",
        "bordeaux",
        "merlot",
        "cranberry",
        "raspberry",
        "strawberry",
        "tomato",
        "brick",
        "vermilion",
        "carmine",
        "cardinal",
        "berry",
        "currant",
        "red wine",
        # pinks
        "rose",
        "blush",
        "salmon",
        "coral",
        "peach",
        "fuchsia",
        "magenta",
        "cerise",
        "flamingo",
        "bubblegum",
        "candy",
        "rosewood",
        "dusty pink",
        "powder pink",
        "baby pink",
        "hot pink",
        "old rose",
        "petal",
        # oranges and yellows
        "apricot",
        "tangerine",
        "mandarin",
        "terracotta",
        "pumpkin",
        "burnt orange",
        "saffron",
        "mustard",
        "lemon",
        "canary",
        "butter",
        "buttercup",
        "daffodil",
        "sunflower",
        "marigold",
        "citrine",
        "straw",
        "maize",
        "corn",
        "banana",
        "sunshine",
        "mango",
        # greens
        "olive",
        "sage",
        "mint",
        "emerald",
        "jade",
        "lime",
        "pistachio",
        "moss",
        "forest",
        "bottle",
        "army",
        "military",
        "hunter",
        "fern",
        "pine",
        "leaf",
        "grass",
        "apple",
        "avocado",
        "kiwi",
        "chartreuse",
        "celadon",
        "seafoam",
        "eucalyptus",
        "spruce",
        "juniper",
        "basil",
        "matcha",
        "pea",
        "kelly",
        "shamrock",
        "malachite",
        "verdigris",
        "khaki green",
        "army green",
        "bottle green",
        "forest green",
        "olive green",
        # blues
        "navy",
        "navy blue",
        "midnight",
        "indigo",
        "cobalt",
        "sapphire",
        "royal",
        "royal blue",
        "azure",
        "cerulean",
        "cyan",
        "sky",
        "sky blue",
        "baby blue",
        "powder blue",
        "ice",
        "ice blue",
        "denim",
        "denim blue",
        "cornflower",
        "periwinkle",
        "steel blue",
        "petrol",
        "teal",
        "aqua",
        "aquamarine",
        "marine",
        "ocean",
        "sea",
        "lagoon",
        "peacock",
        "electric blue",
        "ultramarine",
        "prussian",
        "duck egg",
        # purples
        "lilac",
        "lavender",
        "mauve",
        "violet",
        "plum",
        "aubergine",
        "eggplant",
        "grape",
        "orchid",
        "amethyst",
        "heliotrope",
        "mulberry",
        "damson",
        "wisteria",
        "thistle",
        "heather purple",
        # metallics and finishes named as colours
        "platinum",
        "rose gold",
        "antique gold",
        "antique silver",
        "iridescent",
        "holographic",
        "pearlescent",
        "leopard",
        "zebra",
        "tortoiseshell",
        "camouflage",
        "camo",
    }
)

# Colour words mapped to the basic colour names catalogs use ("dark red" rather than "maroon").
COLOURS: dict[str, tuple[str, ...]] = {
    "gray": ("grey",),
    "maroon": ("dark red", "burgundy"),
    "burgundy": ("dark red", "wine red"),
    "wine": ("dark red", "burgundy"),
    "oxblood": ("dark red", "burgundy"),
    "claret": ("dark red",),
    "scarlet": ("red",),
    "crimson": ("red", "dark red"),
    "cherry": ("red",),
    "navy": ("dark blue", "navy blue"),
    "navy blue": ("dark blue",),
    "midnight blue": ("dark blue",),
    "indigo": ("dark blue", "denim blue"),
    "cobalt": ("blue",),
    "royal blue": ("blue",),
    "sky blue": ("light blue",),
    "baby blue": ("light blue",),
    "powder blue": ("light blue",),
    "denim blue": ("blue", "denim"),
    "ivory": ("off white", "cream", "white"),
    "cream": ("off white", "light beige", "white"),
    "ecru": ("off white", "light beige"),
    "eggshell": ("off white",),
    "natural white": ("off white",),
    "mustard": ("dark yellow", "yellow"),
    "ochre": ("dark yellow", "yellowish brown"),
    "lemon": ("light yellow", "yellow"),
    "khaki": ("greenish khaki", "khaki green"),
    "olive": ("greenish khaki", "khaki green", "dark green"),
    "army green": ("greenish khaki", "dark green"),
    "sage": ("light green", "greenish khaki"),
    "mint": ("light green", "light turquoise"),
    "emerald": ("green", "dark green"),
    "bottle green": ("dark green",),
    "forest green": ("dark green",),
    "charcoal": ("dark grey", "anthracite"),
    "anthracite": ("dark grey",),
    "graphite": ("dark grey",),
    "slate": ("dark grey", "grey"),
    "heather": ("grey", "melange"),
    "camel": ("beige", "dark beige", "yellowish brown"),
    "tan": ("beige", "yellowish brown"),
    "sand": ("beige", "light beige"),
    "stone": ("beige", "light beige"),
    "taupe": ("greyish beige", "beige", "mole"),
    "mole": ("greyish beige", "dark beige"),
    "nude": ("light beige", "beige"),
    "oatmeal": ("light beige", "beige"),
    "cognac": ("yellowish brown", "brown"),
    "chocolate": ("brown", "dark brown"),
    "mocha": ("brown", "dark beige"),
    "coffee": ("brown",),
    "rust": ("dark orange", "orange"),
    "terracotta": ("dark orange",),
    "burnt orange": ("dark orange",),
    "tangerine": ("orange",),
    "coral": ("light orange", "coral"),
    "peach": ("light orange",),
    "apricot": ("light orange",),
    "salmon": ("light orange", "light pink"),
    "blush": ("light pink",),
    "rose": ("light pink", "pink"),
    "dusty pink": ("light pink",),
    "powder pink": ("light pink",),
    "baby pink": ("light pink",),
    "hot pink": ("dark pink", "pink"),
    "fuchsia": ("dark pink", "pink"),
    "magenta": ("dark pink",),
    "cerise": ("dark pink",),
    "lilac": ("light purple",),
    "lavender": ("light purple",),
    "mauve": ("light purple", "dusty pink"),
    "violet": ("purple",),
    "plum": ("dark purple",),
    "aubergine": ("dark purple",),
    "teal": ("dark turquoise",),
    "petrol": ("dark turquoise",),
    "aqua": ("light turquoise", "turquoise"),
    "metallic": ("gold", "silver", "metal"),
    "bronze": ("gold",),
    "copper": ("gold", "dark orange"),
    "jet black": ("black",),
    "onyx": ("black",),
    "ebony": ("black",),
    "off-white": ("off white",),
    "greige": ("greyish beige", "beige"),
    "champagne": ("light beige",),
    "caramel": ("yellowish brown", "brown"),
    "chestnut": ("brown", "yellowish brown"),
    "bordeaux": ("dark red", "burgundy"),
    "merlot": ("dark red", "burgundy"),
    "raspberry": ("dark pink",),
    "tomato": ("red",),
    "brick": ("dark orange", "red"),
    "canary": ("yellow",),
    "lime": ("light green", "green"),
    "jade": ("green",),
    "pistachio": ("light green",),
    "moss": ("greenish khaki", "green"),
    "seafoam": ("light turquoise", "light green"),
    "azure": ("light blue",),
    "cornflower": ("light blue",),
    "periwinkle": ("light blue", "light purple"),
    "sapphire": ("blue",),
    "orchid": ("light purple",),
    "grape": ("dark purple",),
    "eggplant": ("dark purple",),
}

# Pattern and finish words mapped to the words product texts use.
PATTERNS: dict[str, tuple[str, ...]] = {
    "striped": ("stripe", "stripes"),
    "stripy": ("striped", "stripe"),
    "pinstripe": ("pinstriped", "striped", "stripe"),
    "pinstriped": ("pinstripe", "striped"),
    "breton": ("striped",),
    "checked": ("check", "checks"),
    "checkered": ("checked", "check"),
    "plaid": ("checked", "check", "tartan"),
    "tartan": ("checked", "check", "plaid"),
    "gingham": ("checked", "check"),
    "houndstooth": ("checked", "dogtooth"),
    "polka dot": ("spotted", "dot", "dots", "polka"),
    "polka dots": ("spotted", "dot", "polka"),
    "dotted": ("spotted", "dot"),
    "spotty": ("spotted", "dot"),
    "floral": ("flowers", "flower", "floral print", "patterned"),
    "flowery": ("floral", "flowers"),
    "leopard": ("leopard-print", "animal print", "patterned"),
    "leopard print": ("leopard-print", "animal print"),
    "animal print": ("leopard-print", "zebra", "snakeskin", "patterned"),
    "zebra": ("zebra-print", "animal print"),
    "snakeskin": ("snake", "animal print"),
    "camo": ("camouflage",),
    "glitter": ("glittery", "metallic", "sparkly"),
    "sparkly": ("glittery", "sequined", "metallic"),
    "shiny": ("glittery", "metallic", "satin"),
    "sequin": ("sequined", "sequins"),
    "sequinned": ("sequined", "sequins"),
    "lacy": ("lace",),
    "embroidered": ("embroidery",),
    "marl": ("melange",),
    "heathered": ("melange",),
    "colour block": ("colour-block", "block-coloured"),
    "color block": ("colour-block", "block-coloured"),
    "tie-dye": ("tie-dyed", "batik"),
    "printed": ("print", "patterned"),
    "patterned": ("pattern", "print", "printed"),
    "cable knit": ("cable-knit", "knit"),
    "chunky knit": ("chunky", "knit"),
    "sheer": ("mesh", "see-through"),
    "denim": ("jeans",),
    "color": ("colour",),
}

LEXICON: dict[str, tuple[str, ...]] = {**GARMENTS, **COLOURS, **PATTERNS}


def active_lexicon() -> Mapping[str, tuple[str, ...]]:
    """The built-in lexicon with the host's ``SEARCH_LEXICON`` entries added (theirs win)."""
    from recommender.conf import app_settings

    extra = app_settings.SEARCH_LEXICON or {}
    return _merged(tuple(sorted((str(k).lower(), tuple(v)) for k, v in extra.items())))


@lru_cache(maxsize=8)
def _merged(extra: tuple[tuple[str, tuple[str, ...]], ...]) -> Mapping[str, tuple[str, ...]]:
    return {**LEXICON, **dict(extra)} if extra else LEXICON


def expansions(phrase: str, lexicon: Mapping[str, Sequence[str]] | None = None) -> tuple[str, ...]:
    """Lexicon alternatives of a normalised word or phrase (plural forms are looked up singular)."""
    lexicon = active_lexicon() if lexicon is None else lexicon
    words = phrase.split()
    if not words:
        return ()
    head, last = words[:-1], words[-1]
    for form in singular_forms(last):
        found = lexicon.get(" ".join([*head, form]))
        if found:
            return tuple(found)
    return ()


def match_phrases(
    tokens: Sequence[str], lexicon: Mapping[str, Sequence[str]] | None = None
) -> list[tuple[str, int, int]]:
    """Split tokens into (phrase, start, end): the longest lexicon phrases first, else single words."""
    out = []
    i = 0
    while i < len(tokens):
        for size in range(min(MAX_PHRASE_WORDS, len(tokens) - i), 0, -1):
            phrase = " ".join(tokens[i : i + size])
            if size == 1 or expansions(phrase, lexicon):
                out.append((phrase, i, i + size))
                i += size
                break
    return out


def lexicon_words(lexicon: Mapping[str, Sequence[str]] | None = None) -> frozenset[str]:
    """Every word the lexicon knows (keys, expansions and :data:`COLOUR_NAMES`): never "corrected"
    as a misspelling."""
    return _words(active_lexicon() if lexicon is None else lexicon)


@lru_cache(maxsize=8)
def _words_of(items: tuple[tuple[str, tuple[str, ...]], ...]) -> frozenset[str]:
    words: set[str] = {word for name in COLOUR_NAMES for word in name.split()}
    for key, values in items:
        for text in (key, *values):
            words.update(text.split())
    return frozenset(words)


def _words(lexicon: Mapping[str, Sequence[str]]) -> frozenset[str]:
    if lexicon is LEXICON:
        return _builtin_words()
    return _words_of(tuple((k, tuple(v)) for k, v in lexicon.items()))


@lru_cache(maxsize=1)
def _builtin_words() -> frozenset[str]:
    return _words_of(tuple(LEXICON.items()))
