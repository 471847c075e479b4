"""Rule `submit`: send submission.csv to Kaggle with the `kaggle` CLI, after checking its format.

Only run when asked for by name (`snakemake --cores 1 submit`). A file that
fails the format check is never sent.
"""
from __future__ import annotations

import argparse
import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

from common import UserError, run_main, setup_logging, write_text_atomic
from dataio import check_submission

log = logging.getLogger("digits.submit")


def kaggle_command() -> str:
    """The kaggle CLI installed beside this interpreter, else the one on PATH."""
    beside = Path(sys.executable).parent / "kaggle"
    if beside.exists():
        return str(beside)
    found = shutil.which("kaggle")
    if not found:
        raise UserError("kaggle: the kaggle command is not installed; run `make run` once to create .venv")
    return found


def submit_command(submission: str, competition: str, message: str) -> list[str]:
    # A list, never a shell string: the message and paths come from config and are passed as they are.
    return [kaggle_command(), "competitions", "submit", "-c", competition, "-f", submission, "-m", message]


def submit(submission: str, sample_submission: str, competition: str, message: str, runner=subprocess.run) -> dict:
    sample = pd.read_csv(sample_submission)
    check_submission(submission, len(sample), sample_path=sample_submission)
    command = submit_command(submission, competition, message)
    log.info("running: kaggle competitions submit -c %s -f %s -m %r", competition, submission, message)
    try:
        result = runner(command, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        raise UserError("kaggle competitions submit: no answer within 10 minutes; check the connection and retry") from None
    output = (result.stdout + result.stderr).strip()
    for line in output.splitlines():
        log.info("kaggle: %s", line)
    if result.returncode != 0:
        last = output.splitlines()[-1] if output else f"exit code {result.returncode}"
        hint = ("set KAGGLE_USERNAME/KAGGLE_KEY or put your token in ~/.kaggle/kaggle.json"
                if "401" in output or "credential" in output.lower() else
                f"accept the rules on https://www.kaggle.com/competitions/{competition}/rules"
                if "403" in output else "check the connection and the competition name")
        raise UserError(f"{submission}: Kaggle refused the submission ({last}); {hint}")
    return {"competition": competition, "file": submission, "message": message, "kaggle_output": output}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--submission", required=True)
    parser.add_argument("--sample-submission", required=True)
    parser.add_argument("--competition", default="digit-recognizer")
    parser.add_argument("--message", required=True)
    parser.add_argument("--receipt", required=True, help="JSON record of what was sent")
    parser.add_argument("--log")
    args = parser.parse_args(argv)
    setup_logging(args.log)
    receipt = submit(args.submission, args.sample_submission, args.competition, args.message)
    write_text_atomic(args.receipt, json.dumps(receipt, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    sys.exit(run_main(main))
