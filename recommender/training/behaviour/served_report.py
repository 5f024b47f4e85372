"""The served evaluation as a Markdown table: served "for you" beside the offline blend and baselines.

text = served_markdown(served_evaluation(cut))
"""

from __future__ import annotations

from typing import Any

from recommender.diversity import cost_per_lambda

__all__ = ["served_markdown"]


def _diversity(measured: dict[str, Any]) -> list[str]:
    """What each λ cost on validation as training measured it, and the list similarity it bought."""
    lines = []
    for name, what in (("new", "products new to the shopper"), ("with_own", 'every purchase, "Buy again" listed')):
        part = measured.get(name)
        if part:
            similarity = {float(lam): float(v) for lam, v in (part.get("list_similarity") or {}).items()}
            spread = ", ".join(f"λ {lam:g}: {v:.3f}" for lam, v in sorted(similarity.items(), reverse=True))
            relevance = float(part["by_lambda"].get("1.0", 0.0))
            lines.append(
                f"- {what}, {part['metric']} {relevance:.4f} at λ 1 on {part['valid_users']} shoppers; "
                f"change per λ: {cost_per_lambda(part)}; mean similarity within a list: {spread}."
            )
    return [f"Diversity measured on validation (auto keeps λ {measured.get('lambda')}):", *lines]


def served_markdown(report: dict[str, Any], title: str = "") -> str:
    """One table per target set ("all" targets, "new" to the shopper), at the report's k."""
    k = int(report.get("k", 12))
    columns = (f"map@{k}", f"recall@{k}", f"ndcg@{k}")
    protocol = report.get("protocol", "time split")
    where = f"Cut: {report['cut']}; " if report.get("cut") else "Each shopper's newest product held out; "
    lines = [
        "# " + (title or 'Served "for you" (' + protocol + ")"),
        "",
        f"{where}shoppers: {report['shoppers']} ({report['shoppers_new']} with new).",
    ]
    version = report.get("version", {})
    lines.append(
        f"Trained version: validation {version.get('validation')}, co-occurrence weight "
        f"{version.get('cooccurrence_weight')} ({version.get('cooccurrence_similarity')}; whole blend "
        f"validated per similarity: {version.get('by_similarity')}), family weight {version.get('family_weight')}, "
        f"popularity weight {version.get('popularity_weight')}, repurchase weight {version.get('repurchase_weight')}, "
        f"repurchase rate {version.get('repurchase_rate')}."
    )
    lines.append(f"Buy-again order: {_buy_again(version.get('buy_again'))}.")
    lines.append(f"Purchase policy: {report.get('purchase_policy')}; in-process latency {report.get('latency_ms')}.")
    if report.get("diversity_lambda") is not None:
        source = "auto: measured on validation" if report.get("diversity_setting") == "auto" else "the shop's"
        off = (
            '; "diversity off" rows: the same asks ranked by relevance alone' if report["diversity_lambda"] < 1 else ""
        )
        lines.append(f"Diversity λ {report['diversity_lambda']:g} ({source}){off}.")
    if report.get("diversity_measured"):
        lines += _diversity(report["diversity_measured"])
    target = "purchased products" if report.get("cut") else "held-out products"
    for part, heading in (("all", f"all {target}"), ("new", "only products new to the shopper")):
        lines += ["", f"## {heading}", "", "| ranking | " + " | ".join(columns) + " | shoppers |"]
        lines.append("|---" * (len(columns) + 2) + "|")
        for name, row in report[part].items():
            cells = " | ".join(f"{row.get(c, 0.0):.4f}" for c in columns)
            lines.append(f"| {name} | {cells} | {row.get('users', 0)} |")
    return "\n".join(lines) + "\n"


def _buy_again(info: dict[str, Any] | None) -> str:
    """How the version orders the shopper's own purchases, in words."""
    if not info:
        return "newest first (nobody bought again)"
    if not info.get("used"):
        return f"newest first ({info.get('reason', 'not learned')}; {info.get('shoppers', 0)} shoppers bought again)"
    return (
        f"learned on {info['shoppers']} shoppers who bought again: recency weight {info['recency_weight']:.3f}, "
        f"price weight {info['price_weight']:.3f}; held-out MAP@12 of their own purchases "
        f"{info['held_out_map@12']:.4f} against {info['recency_map@12']:.4f} newest first"
    )
