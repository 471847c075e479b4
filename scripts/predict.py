"""Rule `predict`: label every row of test.csv and write submission.csv in Kaggle's format."""
from __future__ import annotations

import argparse
import logging
import sys

import numpy as np

from common import run_main, set_blas_threads, setup_logging
from dataio import read_digits_csv, write_submission
from numpynet import load_model

log = logging.getLogger("digits.predict")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("--test", required=True, help="test.csv in the competition's format")
    parser.add_argument("--sample-submission", help="sample_submission.csv, to check the output's shape against")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", required=True, help="submission.csv to write")
    parser.add_argument("--log")
    args = parser.parse_args(argv)
    setup_logging(args.log)
    set_blas_threads(args.threads)

    network, _ = load_model(args.model)
    images, _ = read_digits_csv(args.test, "test")
    labels = network.predict(images)
    write_submission(args.out, labels, sample_path=args.sample_submission)
    log.info("wrote %d predictions to %s; predicted class counts %s",
             len(labels), args.out, np.bincount(labels, minlength=10).tolist())


if __name__ == "__main__":
    sys.exit(run_main(main))
