"""A graded search query set generated from the H&M catalog's attributes (no product texts).

    python bench/search_queries.py [--data ../shared/data/hm_fashion] [--seed 7]
    # -> bench/results/search_queries.json

Queries come from the attribute columns of ``articles.csv`` (``product_type_name``,
``colour_group_name``, ``graphical_appearance_name``, ``index_name``) by rules, plus about thirty
written by hand. Every query carries a relevance spec; an article's grade is

- 2: its type is one of the query's types and every other attribute the query names matches,
- 1: its type matches but another attribute (colour, pattern, department) does not,
- 0: otherwise (queries without a type grade 2/0 on their attributes).

Kinds: ``exact`` (catalog names: "dark blue trousers"), ``synonym`` (shopper words for a type:
"pullover", "slacks", "tee"), ``colour`` (colour words the catalog never uses, mapped to its
colours: "maroon", "ivory", "mustard"), ``pattern`` ("pinstripe trousers", "gingham shirt"),
``misspelling`` (one or two character edits of the type or colour word of another query:
deletion, insertion, substitution by a keyboard neighbour, adjacent transposition) and
``hand``. The shopper vocabularies below are this benchmark's own, written from general
knowledge of how shoppers talk; many of their words are deliberately absent from the app's
lexicon (``recommender/search/lexicon.py``), and the report says how many.

Each query is assigned to the ``tune`` or ``test`` half by a hash of (seed, text): weights are
chosen on ``tune`` and reported on ``test``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import random
import re
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "hm_fashion"
OUT = ROOT / "bench" / "results" / "search_queries.json"
SEED = 7

# Types with fewer articles make queries whose ideal ranking has nothing to fill ten slots.
MIN_TYPE_ARTICLES = 15
MIN_GRADE2_ARTICLES = 2

# How shoppers name the catalog's product types (catalog name first where it reads naturally).
CATALOG_TYPE_WORDS = {
    "Leggings/Tights": "leggings",
    "Jumpsuit/Playsuit": "jumpsuit",
    "Hat/beanie": "hat",
    "Underwear bottom": "underwear",
    "Swimwear bottom": "bikini bottom",
    "Underwear Tights": "tights",
}
TYPE_SYNONYMS = {
    "Trousers": ["pants", "slacks", "chinos", "trouser pants"],
    "Sweater": ["pullover", "jumper", "knit sweater", "sweatshirt", "crewneck jumper"],
    "Dress": ["frock", "gown", "sundress", "maxi dress"],
    "T-shirt": ["tee", "tshirt", "t shirt", "tee shirt", "crew neck tee"],
    "Bra": ["bralette", "brassiere", "push-up bra", "balconette"],
    "Underwear bottom": ["briefs", "knickers", "panties", "undies", "hipsters"],
    "Vest top": ["tank top", "camisole", "singlet", "cami", "strappy top"],
    "Shirt": ["button-down", "button up shirt", "oxford shirt", "dress shirt"],
    "Skirt": ["miniskirt", "mini skirt", "midi skirt", "pencil skirt"],
    "Jacket": ["windbreaker", "parka", "anorak", "bomber", "puffer"],
    "Leggings/Tights": ["yoga pants", "pantyhose", "jeggings", "workout leggings"],
    "Socks": ["ankle socks", "sox", "trainer socks"],
    "Hoodie": ["hooded sweatshirt", "hoody", "zip hoodie", "hooded top"],
    "Bikini top": ["bikini", "swim top", "triangle bikini"],
    "Cardigan": ["cardi", "knit jacket", "button-up sweater"],
    "Swimwear bottom": ["bikini bottoms", "swim briefs", "bikini pants"],
    "Blazer": ["suit jacket", "sport coat", "tailored jacket"],
    "Shorts": ["bermudas", "cutoffs", "hot pants"],
    "Boots": ["ankle boots", "booties", "chelsea boots"],
    "Earring": ["earrings", "studs", "hoops", "ear studs"],
    "Bag": ["handbag", "purse", "tote", "crossbody"],
    "Pyjama set": ["pyjamas", "pajamas", "pjs", "sleepwear", "nightwear"],
    "Necklace": ["pendant", "chain necklace", "choker"],
    "Jumpsuit/Playsuit": ["playsuit", "romper", "all-in-one", "boilersuit"],
    "Scarf": ["shawl", "snood", "wrap scarf"],
    "Hat/beanie": ["beanie", "woolly hat", "bobble hat"],
    "Blouse": ["tunic", "womens shirt", "peasant top"],
    "Top": ["crop top", "long sleeve top", "going out top"],
    "Belt": ["waist belt", "leather belt"],
}
# Colour words the catalog does not use, and the catalog colour groups they mean.
COLOUR_WORDS = {
    "navy": {"Dark Blue"},
    "navy blue": {"Dark Blue"},
    "midnight blue": {"Dark Blue"},
    "ink blue": {"Dark Blue"},
    "maroon": {"Dark Red"},
    "burgundy": {"Dark Red"},
    "wine red": {"Dark Red"},
    "oxblood": {"Dark Red"},
    "berry": {"Dark Red", "Dark Pink"},
    "ivory": {"Off White", "White"},
    "cream": {"Off White", "Light Beige"},
    "ecru": {"Off White", "Light Beige"},
    "pearl": {"Off White", "White"},
    "snow white": {"White"},
    "mustard": {"Dark Yellow", "Yellow"},
    "lemon": {"Light Yellow", "Yellow"},
    "butter yellow": {"Light Yellow"},
    "khaki": {"Greenish Khaki"},
    "olive": {"Greenish Khaki", "Dark Green"},
    "khaki green": {"Greenish Khaki"},
    "charcoal": {"Dark Grey"},
    "anthracite": {"Dark Grey"},
    "ash grey": {"Light Grey", "Grey"},
    "camel": {"Beige", "Dark Beige"},
    "tan": {"Beige", "Dark Beige", "Yellowish Brown"},
    "sand": {"Beige", "Light Beige"},
    "oatmeal": {"Light Beige", "Beige"},
    "champagne": {"Light Beige"},
    "cognac": {"Yellowish Brown"},
    "chocolate brown": {"Yellowish Brown", "Dark Beige"},
    "blush": {"Light Pink"},
    "powder pink": {"Light Pink"},
    "baby pink": {"Light Pink"},
    "bubblegum pink": {"Pink", "Light Pink"},
    "fuchsia": {"Dark Pink", "Pink"},
    "hot pink": {"Dark Pink", "Pink"},
    "raspberry": {"Dark Pink"},
    "lilac": {"Light Purple"},
    "lavender": {"Light Purple"},
    "plum": {"Dark Purple"},
    "teal": {"Dark Turquoise"},
    "mint": {"Light Green", "Light Turquoise"},
    "seafoam": {"Light Turquoise"},
    "pistachio": {"Light Green"},
    "coral": {"Light Orange"},
    "peach": {"Light Orange"},
    "apricot": {"Light Orange"},
    "rust": {"Dark Orange"},
    "terracotta": {"Dark Orange"},
    "sky blue": {"Light Blue"},
    "baby blue": {"Light Blue"},
    "sapphire": {"Blue", "Dark Blue"},
    "emerald": {"Dark Green", "Green"},
    "bottle green": {"Dark Green"},
    "scarlet": {"Red"},
    "crimson": {"Red", "Dark Red"},
    "ruby": {"Red", "Dark Red"},
    "jet black": {"Black"},
    "onyx": {"Black"},
}
# Pattern words and the graphical appearances they mean.
PATTERN_WORDS = {
    "striped": {"Stripe"},
    "stripy": {"Stripe"},
    "pinstripe": {"Stripe"},
    "pinstriped": {"Stripe"},
    "breton striped": {"Stripe"},
    "checked": {"Check"},
    "plaid": {"Check"},
    "tartan": {"Check"},
    "gingham": {"Check"},
    "checkered": {"Check"},
    "polka dot": {"Dot"},
    "spotty": {"Dot"},
    "dotted": {"Dot"},
    "lace": {"Lace"},
    "lacy": {"Lace"},
    "denim": {"Denim"},
    "embroidered": {"Embroidery"},
    "sequin": {"Sequin", "Glittering/Metallic", "Metallic"},
    "sparkly": {"Sequin", "Glittering/Metallic", "Metallic"},
    "glitter": {"Glittering/Metallic", "Metallic", "Sequin"},
    "marl": {"Melange"},
    "heathered": {"Melange"},
    "melange": {"Melange"},
    "jacquard": {"Jacquard"},
    "mesh": {"Mesh", "Transparent"},
    "printed": {"All over pattern", "Placement print", "Front print"},
    "patterned": {"All over pattern", "Placement print"},
    "colour block": {"Colour blocking"},
}

# Hand-written queries: (text, spec). Written before looking at any ranking.
HAND = [
    ("little black dress", {"types": ["Dress"], "colours": ["Black"]}),
    ("white trainers", {"types": ["Sneakers", "Other shoe"], "colours": ["White", "Off White"]}),
    ("mens shirts", {"types": ["Shirt"], "index": ["Menswear"]}),
    ("sports bra", {"types": ["Bra"], "index": ["Sport"]}),
    ("high waisted jeans", {"types": ["Trousers"], "patterns": ["Denim"]}),
    ("denim shorts", {"types": ["Shorts"], "patterns": ["Denim"]}),
    ("warm winter coat", {"types": ["Coat", "Jacket"]}),
    ("swimsuit for the beach", {"types": ["Swimsuit", "Bikini top", "Swimwear bottom"]}),
    ("striped breton top", {"types": ["Top", "T-shirt", "Sweater"], "patterns": ["Stripe"]}),
    ("gold hoop earrings", {"types": ["Earring", "Earrings"], "colours": ["Gold"]}),
    ("silver necklace", {"types": ["Necklace"], "colours": ["Silver"]}),
    ("brown leather belt", {"types": ["Belt"], "colours": ["Yellowish Brown", "Dark Beige", "Beige"]}),
    ("cosy knitted cardigan", {"types": ["Cardigan"]}),
    ("lace lingerie", {"types": ["Bra", "Underwear bottom", "Underwear body"], "patterns": ["Lace"]}),
    ("running leggings", {"types": ["Leggings/Tights"], "index": ["Sport"]}),
    ("baby clothes", {"index": ["Baby Sizes 50-98"]}),
    ("oversized hoodie", {"types": ["Hoodie"]}),
    ("floral summer dress", {"types": ["Dress"], "patterns": ["All over pattern"]}),
    ("checked blazer", {"types": ["Blazer"], "patterns": ["Check"]}),
    ("black ankle boots", {"types": ["Boots"], "colours": ["Black"]}),
    ("ribbed vest top", {"types": ["Vest top"]}),
    ("wide leg trousers", {"types": ["Trousers"]}),
    ("strapless bra", {"types": ["Bra"]}),
    ("black tights", {"types": ["Leggings/Tights", "Underwear Tights"], "colours": ["Black"]}),
    ("beanie hat", {"types": ["Hat/beanie", "Beanie"]}),
    ("shoulder bag", {"types": ["Bag", "Shoulder bag"]}),
    ("dark wash skinny jeans", {"types": ["Trousers"], "patterns": ["Denim"], "colours": ["Dark Blue", "Blue"]}),
    ("light blue shirt", {"types": ["Shirt", "Blouse"], "colours": ["Light Blue"]}),
    ("pleated midi skirt", {"types": ["Skirt"]}),
    ("socks multipack", {"types": ["Socks"]}),
    ("satin pyjamas", {"types": ["Pyjama set", "Pyjama bottom"]}),
    ("mens swim shorts", {"types": ["Swimwear bottom", "Shorts"], "index": ["Menswear"]}),
]

KEYBOARD = [
    "qwertyuiop",
    "asdfghjkl",
    "zxcvbnm",
]


@dataclass
class Query:
    text: str
    kind: str
    spec: dict[str, list[str]]
    split: str = ""
    source: str = ""  # the query a misspelling was made from
    extra: dict = field(default_factory=dict)


def read_articles(data: Path) -> list[dict[str, str]]:
    with open(data / "articles.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def grade(article: dict[str, str], spec: dict[str, list[str]]) -> int:
    """2 = type and every named attribute match, 1 = type only, 0 = no match."""
    checks = {
        "colours": article["colour_group_name"],
        "patterns": article["graphical_appearance_name"],
        "index": article["index_name"],
    }
    rest = all(value in spec[name] for name, value in checks.items() if spec.get(name))
    if spec.get("types"):
        if article["product_type_name"] not in spec["types"]:
            return 0
        return 2 if rest else 1
    return 2 if rest else 0


def type_word(product_type: str) -> str:
    return CATALOG_TYPE_WORDS.get(product_type, product_type).lower()


def _neighbours(letter: str) -> str:
    for row in KEYBOARD:
        i = row.find(letter)
        if i >= 0:
            return row[max(0, i - 1) : i] + row[i + 1 : i + 2]
    return "aeiou"


def misspell(word: str, rng: random.Random, vocabulary: set[str]) -> str | None:
    """One character edit (two for words over seven letters) that is not itself a real word."""
    for _attempt in range(20):
        chars = list(word)
        for _ in range(2 if len(word) > 7 else 1):
            letters = [i for i, c in enumerate(chars) if c.isalpha()]
            if len(letters) < 3:
                return None
            i = rng.choice(letters[1:])  # keep the first letter: shoppers rarely miss it
            op = rng.choice(["delete", "insert", "substitute", "transpose"])
            if op == "delete":
                del chars[i]
            elif op == "insert":
                chars.insert(i, rng.choice([chars[i], *_neighbours(chars[i])]))
            elif op == "substitute":
                chars[i] = rng.choice(_neighbours(chars[i]))
            elif i + 1 < len(chars) and chars[i + 1].isalpha() and chars[i + 1] != chars[i]:
                chars[i], chars[i + 1] = chars[i + 1], chars[i]
        typo = "".join(chars)
        if typo != word and typo not in vocabulary and len(typo) >= 3:
            return typo
    return None


def split_of(text: str, seed: int) -> str:
    digest = hashlib.sha256(f"{seed}:{text}".encode()).digest()
    return "tune" if digest[0] % 2 == 0 else "test"


def generate(data: Path, seed: int = SEED) -> list[Query]:
    rows = read_articles(data)
    rng = random.Random(seed)
    types = Counter(r["product_type_name"] for r in rows)
    common_types = sorted(t for t, n in types.items() if n >= MIN_TYPE_ARTICLES and t != "Unknown")
    by_type_colour = Counter((r["product_type_name"], r["colour_group_name"]) for r in rows)
    by_type_pattern = Counter((r["product_type_name"], r["graphical_appearance_name"]) for r in rows)
    vocabulary = {w for r in rows for w in re.findall(r"[a-z]+", f"{r['prod_name']} {r['detail_desc']}".lower())}
    queries: list[Query] = []

    def colours_of(t: str, names: set[str]) -> int:
        return sum(n for (tt, c), n in by_type_colour.items() if tt == t and c in names)

    # exact: catalog type names, alone and with a catalog colour
    for t in rng.sample(common_types, min(20, len(common_types))):
        queries.append(Query(type_word(t), "exact", {"types": [t]}))
    pairs = [
        (t, c) for (t, c), n in by_type_colour.items() if t in common_types and n >= 3 and c not in ("Other", "Unknown")
    ]
    for t, c in rng.sample(sorted(pairs), 45):
        queries.append(Query(f"{c.lower()} {type_word(t)}", "exact", {"types": [t], "colours": [c]}))
    # synonym: shopper words for a type, alone and with a catalog colour
    synonym_types = [t for t in TYPE_SYNONYMS if types.get(t, 0) >= MIN_TYPE_ARTICLES]
    for t in synonym_types:
        for word in rng.sample(TYPE_SYNONYMS[t], min(2, len(TYPE_SYNONYMS[t]))):
            queries.append(Query(word, "synonym", {"types": [t]}))
    for t in rng.sample(synonym_types, 20):
        colours = [c for (tt, c), n in by_type_colour.items() if tt == t and n >= 3 and c not in ("Other", "Unknown")]
        if colours:
            c = rng.choice(sorted(colours))
            queries.append(
                Query(f"{c.lower()} {rng.choice(TYPE_SYNONYMS[t])}", "synonym", {"types": [t], "colours": [c]})
            )
    # colour: non-catalog colour words with a type (catalog or shopper word)
    words = sorted(COLOUR_WORDS)
    rng.shuffle(words)
    for word in words:
        candidates = [t for t in common_types if colours_of(t, COLOUR_WORDS[word]) >= MIN_GRADE2_ARTICLES]
        if not candidates:
            continue
        t = rng.choice(candidates)
        noun = rng.choice(TYPE_SYNONYMS[t]) if t in TYPE_SYNONYMS and rng.random() < 0.3 else type_word(t)
        queries.append(Query(f"{word} {noun}", "colour", {"types": [t], "colours": sorted(COLOUR_WORDS[word])}))
    # pattern: pattern words with a type
    for word in sorted(PATTERN_WORDS):
        meant = PATTERN_WORDS[word]
        with_pattern = Counter(t for (t, p), n in by_type_pattern.items() if p in meant for _ in range(n))
        candidates = [t for t in common_types if with_pattern[t] >= MIN_GRADE2_ARTICLES]
        for t in rng.sample(candidates, min(2, len(candidates))):
            queries.append(
                Query(f"{word} {type_word(t)}", "pattern", {"types": [t], "patterns": sorted(PATTERN_WORDS[word])})
            )
    # misspelling: edit the type (or colour) word of other generated queries
    sources = [q for q in queries if q.kind in ("exact", "synonym", "colour", "pattern")]
    for q in rng.sample(sources, min(90, len(sources))):
        tokens = q.text.split()
        longest = max(range(len(tokens)), key=lambda i: (len(tokens[i]), i))
        i = longest if rng.random() < 0.75 else rng.randrange(len(tokens))
        typo = misspell(tokens[i], rng, vocabulary)
        if typo:
            text = " ".join(tokens[:i] + [typo] + tokens[i + 1 :])
            queries.append(Query(text, "misspelling", q.spec, source=q.text))
    queries += [Query(text, "hand", spec) for text, spec in HAND]
    # one query per text (the first kind wins), graded against the catalog
    unique: dict[str, Query] = {}
    for q in queries:
        unique.setdefault(q.text, q)
    out = []
    for q in unique.values():
        grades = Counter(grade(r, q.spec) for r in rows)
        if grades[2] < MIN_GRADE2_ARTICLES:
            continue
        q.split = split_of(q.text, seed)
        q.extra = {"grade2": grades[2], "grade1": grades[1]}
        out.append(q)
    return out


def lexicon_coverage(queries: list[Query]) -> dict[str, float]:
    """Share of each kind's shopper words that the app's lexicon knows (honesty about overlap)."""
    import sys

    sys.path.insert(0, str(ROOT))
    from recommender.search.lexicon import LEXICON

    out = {}
    kinds = defaultdict(list)
    for q in queries:
        if q.kind in ("synonym", "colour", "pattern"):
            kinds[q.kind].append(any(p in LEXICON or p.rstrip("s") in LEXICON for p in _phrases(q.text)))
    for kind, known in kinds.items():
        out[kind] = round(sum(known) / len(known), 3)
    return out


def _phrases(text: str) -> list[str]:
    words = text.split()
    return [" ".join(words[i:j]) for i in range(len(words)) for j in range(i + 1, len(words) + 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    queries = generate(args.data, args.seed)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "seed": args.seed,
        "grading": "2 = type and every named attribute match, 1 = type only, 0 = otherwise",
        "counts": dict(Counter(q.kind for q in queries)),
        "splits": dict(Counter(q.split for q in queries)),
        "lexicon_coverage": lexicon_coverage(queries),
        "queries": [asdict(q) for q in queries],
    }
    OUT.write_text(json.dumps(payload, indent=1))
    coverage = payload["lexicon_coverage"]
    print(f"{len(queries)} queries -> {OUT}: {payload['counts']}, {payload['splits']}, lexicon knows {coverage}")


if __name__ == "__main__":
    main()
