"""Rule `record_config`: save the run's validated config next to its results."""
from __future__ import annotations

import argparse
import json
import sys

import yaml

from common import UserError, run_main, setup_logging, write_text_atomic


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--settings", required=True, help="the config as JSON")
    parser.add_argument("--out", required=True)
    parser.add_argument("--log")
    args = parser.parse_args(argv)
    setup_logging(args.log)
    try:
        settings = json.loads(args.settings)
    except json.JSONDecodeError as error:
        raise UserError(f"--settings: not valid JSON: {error}") from None
    write_text_atomic(args.out, yaml.safe_dump(settings, sort_keys=True, default_flow_style=False))


if __name__ == "__main__":
    sys.exit(run_main(main))
