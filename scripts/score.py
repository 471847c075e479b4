"""Rule `score`: the submission's accuracy on the held-out test labels, as the leaderboard computes it."""
from __future__ import annotations

import argparse
import json
import logging
import sys

import pandas as pd

from common import UserError, run_main, setup_logging, write_text_atomic
from dataio import check_submission

log = logging.getLogger("digits.score")


def read_solution(path) -> pd.DataFrame:
    try:
        solution = pd.read_csv(path)
    except (OSError, ValueError) as error:
        raise UserError(f"{path}: cannot read the solution file: {error}") from None
    check_submission(solution, len(solution), path=str(path))
    return solution


def score_submission(submission: pd.DataFrame, solution: pd.DataFrame) -> dict:
    """Kaggle's metric for this competition: the share of ImageIds whose Label is right."""
    merged = solution.merge(submission, on="ImageId", how="left", suffixes=("_true", "_predicted"))
    correct = int((merged["Label_true"] == merged["Label_predicted"]).sum())
    return {"accuracy": round(correct / len(solution), 6), "correct": correct, "n": int(len(solution))}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--submission", required=True)
    parser.add_argument("--solution", required=True, help="ImageId,Label with the true test labels")
    parser.add_argument("--out", required=True)
    parser.add_argument("--log")
    args = parser.parse_args(argv)
    setup_logging(args.log)

    solution = read_solution(args.solution)
    submission = check_submission(args.submission, len(solution))
    score = score_submission(submission, solution)
    write_text_atomic(args.out, json.dumps(score, indent=2, sort_keys=True) + "\n")
    log.info("leaderboard accuracy %.4f (%d of %d)", score["accuracy"], score["correct"], score["n"])


if __name__ == "__main__":
    sys.exit(run_main(main))
