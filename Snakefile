# Digit Recognizer: from the competition's CSV files to results/submission.csv.
# The whole pipeline is in workflow/rules/; settings are in config.yaml.
import sys
from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")

sys.path.insert(0, str(Path(workflow.basedir) / "scripts"))
from config_check import ConfigError, rule_settings, validate_config  # noqa: E402


configfile: "config.yaml"


try:
    _validated = validate_config(config)
except ConfigError as error:
    sys.exit(f"Error: {error}")
config.clear()
config.update(_validated)


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/model.smk"
include: "workflow/rules/plots.smk"
include: "workflow/rules/submit.smk"


rule all:
    input:
        all_targets(),
    default_target: True
