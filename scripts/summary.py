"""Print where the submission is and how it scored; `make run` calls this at the end."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def summary(results: Path) -> str:
    lines = []
    submission = results / "submission.csv"
    if submission.exists():
        lines.append(f"submission: {submission.resolve()}")
    metrics = results / "metrics.json"
    if metrics.exists():
        data = json.loads(metrics.read_text())
        lines.append(f"dev accuracy: {data['accuracy']:.4f} (log loss {data['log_loss']:.4f}, {data['n']} rows)")
    score = results / "score.json"
    if score.exists():
        data = json.loads(score.read_text())
        lines.append(f"leaderboard score on the held-out test labels: {data['accuracy']:.4f} "
                     f"({data['correct']} of {data['n']})")
    elif submission.exists():
        lines.append("no test labels for this source: upload the submission to Kaggle to score it "
                     "(`.venv/bin/snakemake --cores 1 submit`)")
    return "\n".join(lines) if lines else f"nothing in {results}/ yet: run `make run`"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", default="results")
    args = parser.parse_args(argv)
    print(summary(Path(args.results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
