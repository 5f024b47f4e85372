"""Dump what search() returns on H&M queries, to check a speed change alters no result.

    python bench/search_equality.py --out /tmp/new.json [--sample 8]
    (cd /tmp/old-checkout && BENCH_CODE=$PWD python /path/to/bench/search_equality.py --out /tmp/old.json)
    cmp /tmp/old.json /tmp/new.json

For every sampled query of ``bench/results/search_queries.json``, with and without filters: each
ranked list (keys, scores to 4 decimals), the first page (keys, scores), total, "did you mean"
and facets. Runs on ``var/bench-search`` of the checkout named by ``BENCH_CODE`` (default: this one).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def dump(texts: list[str]) -> list[dict]:
    from recommender.search import SearchFilters, parse_query, ranked_lists, search
    from recommender.versions import serving_version

    version = serving_version()
    out = []
    for text in texts:
        for filters in (SearchFilters(), SearchFilters(categories=("Trousers",), max_price=Decimal("0.05"))):
            results = search(text, filters=filters, limit=20, record=False)
            lists = ranked_lists(parse_query(text), filters, version, k=200)
            out.append(
                {
                    "q": text,
                    "filters": str(filters),
                    "lists": {n: [(k, round(s, 4)) for k, s in v] for n, v in sorted(lists.items())},
                    "page": [(h.product_key, round(h.score, 4)) for h in results.hits],
                    "total": results.total,
                    "did_you_mean": results.did_you_mean,
                    "facets": results.facets,
                }
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--sample", type=int, default=8, help="every n-th query")
    args = parser.parse_args()
    code = Path(os.environ.get("BENCH_CODE", ROOT))
    sys.path.insert(0, str(code / "bench"))
    sys.path.insert(0, str(code))
    import search_quality

    search_quality.ROOT = code
    search_quality.BENCH_DIR = code / "var" / "bench-search"
    search_quality.setup_django()
    queries = json.loads((ROOT / "bench" / "results" / "search_queries.json").read_text())["queries"]
    texts = [q["text"] for q in queries][:: args.sample]
    args.out.write_text(json.dumps(dump(texts), indent=0, default=str))
    print(len(texts), "queries written to", args.out)


if __name__ == "__main__":
    main()
