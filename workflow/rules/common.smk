import shlex

# Snakemake may run from any Python on PATH; the scripts need the interpreter that has our dependencies.
PYTHON = shlex.quote(sys.executable)
DATA = "resources/data"


def cli(*pairs):
    """A rule's settings as one shell-quoted argument string.

    Snakemake compares params as an unordered set of values, so one ordered string per
    rule is what makes every change of a setting (even a swap of two values) visible.
    """
    words = []
    for flag, value in pairs:
        if value is None:
            continue
        words += [flag, str(value)]
    return " ".join(shlex.quote(word) for word in words)


def has_test_labels():
    """Only the sample (and a local folder carrying solution.csv) can be scored here."""
    source = config["data"]["source"]
    if source == "sample":
        return True
    return source == "local" and Path(config["data"]["path"], "solution.csv").is_file()


def data_outputs():
    outputs = {
        "train": f"{DATA}/train.csv",
        "test": f"{DATA}/test.csv",
        "sample_submission": f"{DATA}/sample_submission.csv",
    }
    if has_test_labels():
        outputs["solution"] = f"{DATA}/solution.csv"
    return outputs


def all_targets():
    targets = [
        "results/submission.csv",
        "results/metrics.json",
        "results/config.yaml",
        *PLOTS.values(),
    ]
    if has_test_labels():
        targets.append("results/score.json")
    return targets
