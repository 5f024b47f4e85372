"""The served evaluation as a Markdown table: served "for you" beside the offline blend and baselines.

text = served_markdown(served_evaluation(cut))
"""

from __future__ import annotations

from typing import Any

__all__ = ["served_markdown"]

COLUMNS = ("map@12", "recall@12", "ndcg@12")


def served_markdown(report: dict[str, Any], title: str = 'Served "for you" on a time split') -> str:
    """One table per target set ("all" purchases after the cut, "new" to the shopper)."""
    lines = [
        f"# {title}",
        "",
        f"Cut: {report['cut']}; shoppers: {report['shoppers']} ({report['shoppers_new']} with new).",
    ]
    version = report.get("version", {})
    lines.append(
        f"Trained version: validation {version.get('validation')}, co-occurrence weight "
        f"{version.get('cooccurrence_weight')}, repurchase weight {version.get('repurchase_weight')}, "
        f"repurchase rate {version.get('repurchase_rate')}."
    )
    lines.append(f"Purchase policy: {report.get('purchase_policy')}; in-process latency {report.get('latency_ms')}.")
    for part, heading in (("all", "all purchased products"), ("new", "only products new to the shopper")):
        lines += ["", f"## {heading}", "", "| ranking | " + " | ".join(COLUMNS) + " | shoppers |"]
        lines.append("|---" * (len(COLUMNS) + 2) + "|")
        for name, row in report[part].items():
            cells = " | ".join(f"{row.get(c, 0.0):.4f}" for c in COLUMNS)
            lines.append(f"| {name} | {cells} | {row.get('users', 0)} |")
    return "\n".join(lines) + "\n"
