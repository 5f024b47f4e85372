"""Search quality on the full H&M catalog: each ranked list alone, their fusion, and BM25.

    python bench/search_queries.py          # the graded query set (bench/results/search_queries.json)
    python bench/search_quality.py [--data ../shared/data/hm_fashion] [--tune] [--reuse] [--report-only]

Runs the demo shop's settings on a separate embedded Postgres (``var/bench-search``): loads all
6,000 articles with ``load_articles``, embeds their documents (``"{colour} {category}. {title}.
{description}"``, the demo's template) with the catalog CLIP's text tower (the ``tiny-catalog-clip``
test config: the real all-MiniLM-L6-v2, nothing trained) through ``reindex()``, and builds the
suggestion vocabulary. Images are not embedded (no trained image tower exists here), so fused
vectors equal text vectors: the ``fused_vector`` list is reported, and its weight is not tuned.

Every ranked list comes from the app's own SQL on that database (``ranked_lists``: pgvector,
Postgres full text, pg_trgm), fetched as deep as ``search()`` fetches; the fusion is the app's
``reciprocal_rank_fusion`` over those lists (the trigram list only for queries with a word
the catalog and lexicon lack, as in ``search()``), and ``search()`` itself is run to check that
it returns the same top 10. BM25 (Okapi, k1=1.5, b=0.75, written here) ranks the same documents
in-process with lower-case word tokens and an S-stemmer. Metrics: nDCG@10 (gain 2^grade - 1,
ideal from the whole catalog) and P@10 (share of the top 10 with grade >= 1). ``--tune``
grid-searches the fusion weights and k on the tuning half; the report shows the test half
(and the tuning half in the JSON). ``--reuse`` rescores the lists of the last run (fusion
experiments without recomputing). Writes ``bench/results/search_quality.json``, ``.md``, ``.png``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import platform
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
BENCH_DIR = ROOT / "var" / "bench-search"
K = 10
FETCH = 100
LISTS = ("text_vector", "fulltext", "trigram")
KINDS = ("exact", "synonym", "colour", "pattern", "misspelling", "hand")


# --- setup ---------------------------------------------------------------------------------------


def setup_django() -> None:
    os.environ.update(DJANGO_SETTINGS_MODULE="shopdemo.settings", SHOPDEMO_DATA_DIR=str(BENCH_DIR), DJANGO_DEBUG="0")
    os.environ.pop("CELERY_BROKER_URL", None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings

    settings.RECOMMENDER = {
        **settings.RECOMMENDER,
        "FIELDS": {**settings.RECOMMENDER["FIELDS"], "image": None},
        "SELLABLE_FILTER": {},
        "ENCODER": {"DEVICE": "cpu", "BATCH_SIZE": 64},
        "MODEL_DIR": str(BENCH_DIR / "models"),
    }
    from recommender.conf import app_settings

    app_settings.reload()


def text_tower_model() -> Path:
    """The tiny catalog CLIP (real MiniLM text tower) saved in open_clip's local-dir format."""
    folder = BENCH_DIR / "models" / "tiny-catalog"
    if (folder / "open_clip_config.json").exists():
        return folder
    import open_clip
    import torch

    from recommender.encoders.configs import CATALOG_CLIP_PREPROCESS
    from recommender.encoders.local_dir import save_local_dir
    from recommender.encoders.open_clip_encoder import OpenClipEncoder

    open_clip.add_model_config(ROOT / "tests" / "model_configs")
    torch.manual_seed(0)
    encoder = OpenClipEncoder("tiny-catalog-clip", device="cpu")
    save_local_dir(encoder.model, folder, model_cfg=encoder.model_cfg, preprocess_cfg=CATALOG_CLIP_PREPROCESS)
    return folder


def setup_catalog(data: Path) -> dict:
    """Migrate, load the articles, embed their texts and build the vocabulary (skipped when done)."""
    from django.core.management import call_command

    from recommender.indexing import reindex
    from recommender.models import ModelVersion, ProductVector
    from recommender.search import refresh_suggestions
    from recommender.versions import activate, register_encoder_version, serving_version
    from shopdemo.catalog.hm_import import load_articles

    call_command("migrate", verbosity=0)
    timings = {}
    version = serving_version()
    count = load_articles(data)
    if version is None or ProductVector.objects.filter(version=version, status="ok").count() < count:
        ProductVector.objects.all().delete()
        ModelVersion.objects.all().delete()
        model = text_tower_model()
        version = activate(register_encoder_version({"MODEL": f"local-dir:{model.resolve()}"}, name="minilm-text"))
        start = time.perf_counter()
        reindex(version, batch_size=256, progress=True)
        timings["embed_seconds"] = round(time.perf_counter() - start, 1)
    start = time.perf_counter()
    timings["phrases"] = refresh_suggestions()
    timings["refresh_seconds"] = round(time.perf_counter() - start, 1)
    return {"products": count, **timings}


# --- BM25 ----------------------------------------------------------------------------------------


def s_stem(word: str) -> str:
    """Harman's S-stemmer: the usual plural forms only."""
    if len(word) > 3 and word.endswith("ies") and not word.endswith(("eies", "aies")):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("es") and not word.endswith(("aes", "ees", "oes")):
        return word[:-1]
    if len(word) > 2 and word.endswith("s") and not word.endswith(("us", "ss")):
        return word[:-1]
    return word


def bm25_tokens(text: str) -> list[str]:
    return [s_stem(w) for w in re.findall(r"[a-z0-9]+", text.lower())]


class BM25:
    """Okapi BM25 (k1=1.5, b=0.75, idf = ln((N - n + 0.5) / (n + 0.5) + 1))."""

    def __init__(self, docs: dict[str, str], k1: float = 1.5, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.keys = list(docs)
        self.tfs = [Counter(bm25_tokens(docs[k])) for k in self.keys]
        self.lengths = [sum(tf.values()) for tf in self.tfs]
        self.avg = sum(self.lengths) / len(self.lengths)
        df = Counter(t for tf in self.tfs for t in tf)
        n = len(self.keys)
        self.idf = {t: math.log((n - f + 0.5) / (f + 0.5) + 1) for t, f in df.items()}
        self.postings: dict[str, list[int]] = defaultdict(list)
        for i, tf in enumerate(self.tfs):
            for t in tf:
                self.postings[t].append(i)

    def rank(self, query: str, k: int) -> list[tuple[str, float]]:
        scores: dict[int, float] = defaultdict(float)
        for t in set(bm25_tokens(query)):
            idf = self.idf.get(t)
            if idf is None:
                continue
            for i in self.postings[t]:
                f = self.tfs[i][t]
                scores[i] += (
                    idf * f * (self.k1 + 1) / (f + self.k1 * (1 - self.b + self.b * self.lengths[i] / self.avg))
                )
        best = sorted(scores.items(), key=lambda item: (-item[1], self.keys[item[0]]))[:k]
        return [(self.keys[i], s) for i, s in best]


# --- metrics -------------------------------------------------------------------------------------


def ndcg(ranked: list[str], grades: dict[str, int], ideal: list[int], k: int = K) -> float:
    dcg = sum((2 ** grades.get(key, 0) - 1) / math.log2(i + 2) for i, key in enumerate(ranked[:k]))
    idcg = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal[:k]))
    return dcg / idcg if idcg else 0.0


def precision(ranked: list[str], grades: dict[str, int], k: int = K) -> float:
    return sum(1 for key in ranked[:k] if grades.get(key, 0) >= 1) / k


def summarise(rows: list[dict], systems: list[str]) -> dict:
    """Mean nDCG@10 and P@10 per system, overall and per kind."""
    out: dict = {}
    for system in systems:
        entry = {"all": _mean(rows, system)}
        for kind in KINDS:
            kind_rows = [r for r in rows if r["kind"] == kind]
            if kind_rows:
                entry[kind] = _mean(kind_rows, system)
        out[system] = entry
    return out


def _mean(rows: list[dict], system: str) -> dict:
    n = len(rows)
    return {
        "ndcg@10": round(sum(r["ndcg"][system] for r in rows) / n, 4),
        "p@10": round(sum(r["p"][system] for r in rows) / n, 4),
        "queries": n,
    }


# --- evaluation ----------------------------------------------------------------------------------


DUMP = BENCH_DIR / "lists.json"


def collect(queries: list[dict]) -> tuple[list[dict], dict]:
    """Every query's ranked lists (app SQL), BM25 ranking, search() top 10 and grades."""
    from recommender.conf import app_settings
    from recommender.models import ProductVector
    from recommender.search import SearchFilters, parse_query, ranked_lists, search
    from recommender.versions import serving_version
    from shopdemo.catalog.hm_import import read_articles

    version = serving_version()
    articles = {r["article_id"]: r for r in read_articles(Path(os.environ["HM_DATA"]))}
    docs = dict(ProductVector.objects.filter(version=version).values_list("product_key", "document"))
    bm25 = BM25(docs)
    sys.path.insert(0, str(ROOT / "bench"))
    from search_queries import grade

    fetch = int(app_settings.SEARCH_CANDIDATES)  # what search() fetches: the fusion below is then exact
    everything = {name: 1.0 for name in ("text_vector", "fused_vector", "fulltext", "trigram")}
    per_query = []
    timings = defaultdict(list)
    for q in queries:
        grades = {key: g for key, a in articles.items() if (g := grade(a, q["spec"]))}
        parsed = parse_query(q["text"])
        lists = ranked_lists(parsed, SearchFilters(), version, fetch, weights=everything, always_trigram=True)
        raw = ranked_lists(
            parse_query(q["text"], expand=False, correct=False),
            SearchFilters(),
            version,
            fetch,
            weights={"fulltext": 1.0, "text_vector": 1.0},
        )
        search(q["text"], limit=K, record=False)  # warm: the timed call below measures search, not the encoder
        start = time.perf_counter()
        app = search(q["text"], limit=K, record=False).keys
        timings["search"].append(time.perf_counter() - start)
        per_query.append(
            {
                "text": q["text"],
                "kind": q["kind"],
                "split": q["split"],
                "grades": grades,
                "ideal": sorted(grades.values(), reverse=True),
                "unknown": sorted(parsed.unknown_words),
                "lists": {name: [key for key, _ in ranking] for name, ranking in lists.items()},
                "raw": {name: [key for key, _ in ranking] for name, ranking in raw.items()},
                "bm25": [key for key, _ in bm25.rank(q["text"], fetch)],
                "app": app,
            }
        )
    return per_query, {name: {"p50": _pct(v, 50), "p95": _pct(v, 95)} for name, v in timings.items()}


def fused(row: dict, weights: dict, k: float) -> list[str]:
    """The app's fusion of a query's lists (the trigram list only for queries with unknown words)."""
    from recommender.search import reciprocal_rank_fusion

    lists = {
        name: [(key, 0.0) for key in keys] for name, keys in row["lists"].items() if name != "trigram" or row["unknown"]
    }
    return [key for key, _ in reciprocal_rank_fusion(lists, weights, k)]


def evaluate(queries: list[dict], tune: bool, reuse: bool = False) -> dict:
    from recommender.conf import app_settings
    from recommender.search import reciprocal_rank_fusion

    if reuse and DUMP.exists():
        dumped = json.loads(DUMP.read_text())
        per_query, latency = dumped["rows"], dumped["latency"]
    else:
        per_query, latency = collect(queries)
        DUMP.write_text(json.dumps({"rows": per_query, "latency": latency}))

    shipped = dict(app_settings.SEARCH_WEIGHTS)
    shipped_k = float(app_settings.SEARCH_RRF_K)
    grid_result = None
    if tune:
        grid_result = grid_search([r for r in per_query if r["split"] == "tune"], fused)
    tuned = grid_result["weights"] if grid_result else shipped
    tuned_k = grid_result["k"] if grid_result else shipped_k

    systems = {
        "bm25": lambda r: r["bm25"],
        "text_vector": lambda r: r["lists"]["text_vector"],
        "fused_vector": lambda r: r["lists"]["fused_vector"],
        "fulltext": lambda r: r["lists"]["fulltext"],
        "trigram": lambda r: r["lists"]["trigram"],
        "text_vector_raw": lambda r: r["raw"]["text_vector"],
        "fulltext_raw": lambda r: r["raw"]["fulltext"],
        "rrf_bm25_text_vector_raw": lambda r: [
            k
            for k, _ in reciprocal_rank_fusion(
                {"a": [(x, 0) for x in r["bm25"]], "b": [(x, 0) for x in r["raw"]["text_vector"]]}, {"a": 1, "b": 1}, 60
            )
        ],
        "fusion_raw": lambda r: [
            k
            for k, _ in reciprocal_rank_fusion(
                {name: [(x, 0) for x in keys] for name, keys in r["raw"].items()}, {"fulltext": 1, "text_vector": 1}, 60
            )
        ],
        "fusion_tuned": lambda r: fused(r, tuned, tuned_k),
        "fusion_shipped": lambda r: fused(r, shipped, shipped_k),
        "search_api": lambda r: r["app"],
    }
    for row in per_query:
        row["ndcg"] = {name: ndcg(get(row), row["grades"], row["ideal"]) for name, get in systems.items()}
        row["p"] = {name: precision(get(row), row["grades"]) for name, get in systems.items()}
    names = list(systems)
    test = [r for r in per_query if r["split"] == "test"]
    tune_rows = [r for r in per_query if r["split"] == "tune"]
    agreement = sum(r["app"] == fused(r, shipped, shipped_k)[:K] for r in per_query) / len(per_query)
    spelling = spelling_report(queries)
    return {
        "test": summarise(test, names),
        "tune": summarise(tune_rows, names),
        "shipped": {"weights": shipped, "k": shipped_k},
        "tuned": grid_result,
        "search_api_matches_fusion_top10": round(agreement, 4),
        "spelling": spelling,
        "latency_ms": latency,
        "per_query_test": [
            {
                "text": r["text"],
                "kind": r["kind"],
                "bm25": round(r["ndcg"]["bm25"], 3),
                "fusion": round(r["ndcg"]["fusion_shipped"], 3),
            }
            for r in test
        ],
    }


def spelling_report(queries: list[dict]) -> dict:
    """How often the parser restores a misspelled query, and how often it "corrects" a fine one."""
    from recommender.search import parse_query

    misspelled = [q for q in queries if q["kind"] == "misspelling"]
    restored = sum(parse_query(q["text"]).corrected == q["source"] for q in misspelled)
    fine = [q for q in queries if q["kind"] != "misspelling"]
    changed = [q["text"] for q in fine if parse_query(q["text"]).has_corrections]
    return {
        "misspelled_queries": len(misspelled),
        "restored_exactly": round(restored / len(misspelled), 3),
        "other_queries": len(fine),
        "changed_by_correction": round(len(changed) / len(fine), 3),
        "changed_examples": {t: parse_query(t).corrected for t in changed[:12]},
    }


def _pct(values: list[float], p: int) -> float:
    values = sorted(values)
    return round(1000 * values[min(len(values) - 1, int(len(values) * p / 100))], 1)


def grid_search(rows: list[dict], fused) -> dict:
    """The fusion weights and k with the best mean nDCG@10 on the tuning half."""
    best = None
    grid = itertools.product([0.5, 1.0, 1.5], [0.5, 1.0, 1.5, 2.0], [0.0, 0.15, 0.3, 0.6], [10, 30, 60])
    for text_w, full_w, tri_w, k in grid:
        # fused vectors equal text vectors here: their weight stays the shipped one, not tuned
        weights = {"text_vector": text_w, "fused_vector": 0.5, "fulltext": full_w, "trigram": tri_w}
        score = sum(ndcg(fused(r, weights, k), r["grades"], r["ideal"]) for r in rows) / len(rows)
        if best is None or score > best["ndcg@10"] + 1e-9:
            best = {"weights": weights, "k": k, "ndcg@10": round(score, 4)}
    return best


# --- report --------------------------------------------------------------------------------------

LABELS = {
    "bm25": "BM25 (baseline)",
    "text_vector": "dense text vector (MiniLM)",
    "fulltext": "full text (+lexicon, spelling)",
    "trigram": "trigram (pg_trgm)",
    "fused_vector": "dense fused vector (= text here)",
    "text_vector_raw": "dense, query as typed",
    "fulltext_raw": "full text, no lexicon/spelling",
    "rrf_bm25_text_vector_raw": "RRF(BM25, dense as typed)",
    "fusion_raw": "fusion without lexicon/spelling",
    "fusion_tuned": "fusion, tuned weights",
    "fusion_shipped": "fusion, shipped defaults",
    "search_api": "search() (shipped)",
}


def write_report(result: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "search_quality.json").write_text(json.dumps(result, indent=1))
    test = result["test"]
    base = test["bm25"]["all"]["ndcg@10"]
    lines = [
        "# Search quality on the H&M catalog (6,000 products)",
        "",
        (
            f"{result['queries']['total']} graded queries ({result['queries']['by_kind']}), split by seed into "
            f"tune ({result['queries']['tune']}) and test ({result['queries']['test']}). Test half below."
        ),
        (
            f"Ranked lists by the app's SQL on Postgres 18 + pgvector + pg_trgm; MiniLM text vectors; "
            f"machine: {result['machine']}. `search()` equals the shipped fusion's top 10 for "
            f"{result['search_api_matches_fusion_top10']:.0%} of queries."
        ),
        "",
        "| system | nDCG@10 | vs BM25 | P@10 | " + " | ".join(f"{k} nDCG" for k in KINDS) + " |",
        "|---|---|---|---|" + "---|" * len(KINDS),
    ]
    for name, label in LABELS.items():
        entry = test[name]
        delta = (entry["all"]["ndcg@10"] / base - 1) * 100 if base else 0.0
        kinds = " | ".join(f"{entry[k]['ndcg@10']:.3f}" if k in entry else "-" for k in KINDS)
        lines.append(
            f"| {label} | {entry['all']['ndcg@10']:.3f} | {delta:+.0f} % | {entry['all']['p@10']:.3f} | {kinds} |"
        )
    tune = result["tune"]
    gap = (result["tuned"] or {}).get("ndcg@10", 0) - tune["fusion_shipped"]["all"]["ndcg@10"]
    spelling = result.get("spelling", {})
    coverage = result["queries"].get("lexicon_coverage", {})
    lines += [
        "",
        f"Shipped defaults: weights {result['shipped']['weights']}, k = {result['shipped']['k']:g}.",
        (
            f"Tuned on the tuning half: {result['tuned']}; the optimum is flat (the shipped defaults are within "
            f"{gap:.3f} nDCG@10 of it there)."
        ),
        (
            f"Tuning half: BM25 {tune['bm25']['all']['ndcg@10']:.3f}, fusion (shipped) "
            f"{tune['fusion_shipped']['all']['ndcg@10']:.3f}."
        ),
        (
            f"Spelling: {spelling.get('restored_exactly', 0):.0%} of the {spelling.get('misspelled_queries', 0)} "
            f"misspelled queries are restored to the query they were made from; "
            f"{spelling.get('changed_by_correction', 0):.1%} of the other queries get a correction they did not need."
        ),
        (
            f"Lexicon overlap: the app's lexicon knows a word of {coverage.get('synonym', 0):.0%} of the synonym, "
            f"{coverage.get('colour', 0):.0%} of the colour and {coverage.get('pattern', 0):.0%} of the pattern "
            "queries (the rest rely on the text vectors)."
        ),
        (
            'Patterns score lowest everywhere: the product texts rarely name them ("striped" occurs in 6 of 6,000 '
            "descriptions, while 196 articles are striped); only image vectors from a trained image tower can "
            "close that."
        ),
        f"`search()` latency per query on this machine (ms, encoder cached): {result['latency_ms']}.",
        "",
        "Grades: 2 = type and every named attribute (colour, pattern, department) match, 1 = type only.",
        "P@10 counts grade >= 1. The query generator is `bench/search_queries.py`; the set is in",
        "`bench/results/search_queries.json`.",
    ]
    (RESULTS / "search_quality.md").write_text("\n".join(lines) + "\n")
    plot(result)


def plot(result: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    systems = ["bm25", "text_vector", "fulltext", "trigram", "fusion_shipped"]
    test = result["test"]
    groups = ["all", *KINDS]
    width = 0.16
    fig, ax = plt.subplots(figsize=(11, 4.5))
    for i, name in enumerate(systems):
        values = [test[name].get(g, {"ndcg@10": 0})["ndcg@10"] for g in groups]
        ax.bar([x + i * width for x in range(len(groups))], values, width, label=LABELS[name])
    ax.set_xticks([x + 2 * width for x in range(len(groups))], groups)
    ax.set_ylabel("nDCG@10 (test half)")
    ax.set_title("Search on the H&M catalog: each ranked list alone vs their fusion vs BM25")
    ax.legend(fontsize=8, ncol=3)
    ax.set_ylim(0, 1)
    fig.tight_layout()
    fig.savefig(RESULTS / "search_quality.png", dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "hm_fashion")
    parser.add_argument("--queries", type=Path, default=RESULTS / "search_queries.json")
    parser.add_argument("--tune", action="store_true", help="grid-search fusion weights on the tuning half")
    parser.add_argument(
        "--reuse", action="store_true", help="reuse the ranked lists of the last run (var/bench-search)"
    )
    parser.add_argument("--report-only", action="store_true", help="rewrite the .md and .png from the last JSON")
    args = parser.parse_args()
    if args.report_only:
        write_report(json.loads((RESULTS / "search_quality.json").read_text()))
        return
    if not (args.data / "articles.csv").exists():
        sys.exit(f"H&M data not found at {args.data}; pass --data (see shared/README.md).")
    if not args.queries.exists():
        sys.exit(f"{args.queries} not found: run bench/search_queries.py first.")
    os.environ["HM_DATA"] = str(args.data)
    setup_django()
    setup = setup_catalog(args.data)
    payload = json.loads(args.queries.read_text())
    queries = payload["queries"]
    result = evaluate(queries, args.tune, args.reuse)
    result.update(
        setup=setup,
        queries={
            "total": len(queries),
            "by_kind": payload["counts"],
            "tune": payload["splits"].get("tune", 0),
            "test": payload["splits"].get("test", 0),
            "lexicon_coverage": payload["lexicon_coverage"],
        },
        machine=f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores (shared)",
        mode="app SQL on a scratch database (load_articles + reindex), fusion in-process with the app's function",
    )
    write_report(result)
    test = result["test"]
    for name in ("bm25", "text_vector", "fulltext", "trigram", "fusion_shipped", "fusion_tuned", "search_api"):
        print(f"{name:24s} nDCG@10 {test[name]['all']['ndcg@10']:.3f}  P@10 {test[name]['all']['p@10']:.3f}")


if __name__ == "__main__":
    main()
