NETWORK_LIB = ["scripts/common.py", "scripts/numpynet.py"]


rule train:
    input:
        script="scripts/train.py",
        lib=NETWORK_LIB,
        train="results/split/train.npz",
        dev="results/split/dev.npz",
    output:
        model="results/model.npz",
        history="results/history.csv",
    params:
        args=cli(("--settings", rule_settings(config, "model", "train"))),
    log:
        "logs/train.log",
    benchmark:
        "logs/benchmarks/train.tsv"
    threads: config["threads"]
    resources:
        mem_mb=2000,
        runtime=60,
    shell:
        "{PYTHON} {input.script} --train {input.train} --dev {input.dev} {params.args}"
        " --threads {threads} --model {output.model} --history {output.history} --log {log}"


rule evaluate:
    input:
        script="scripts/evaluate.py",
        lib=NETWORK_LIB,
        model="results/model.npz",
        dev="results/split/dev.npz",
    output:
        metrics=report("results/metrics.json", caption="../report/metrics.rst", category="Metrics"),
        predictions="results/dev_predictions.npz",
        confusion="results/confusion_matrix.csv",
    params:
        args="",
    log:
        "logs/evaluate.log",
    benchmark:
        "logs/benchmarks/evaluate.tsv"
    threads: config["threads"]
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "{PYTHON} {input.script} --model {input.model} --dev {input.dev} --threads {threads}"
        " --metrics {output.metrics} --predictions {output.predictions}"
        " --confusion {output.confusion} --log {log}"


rule predict:
    input:
        script="scripts/predict.py",
        lib=NETWORK_LIB + ["scripts/dataio.py"],
        model="results/model.npz",
        test="resources/data/test.csv",
        sample_submission="resources/data/sample_submission.csv",
    output:
        submission="results/submission.csv",
    params:
        args="",
    log:
        "logs/predict.log",
    benchmark:
        "logs/benchmarks/predict.tsv"
    threads: config["threads"]
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "{PYTHON} {input.script} --model {input.model} --test {input.test}"
        " --sample-submission {input.sample_submission} --threads {threads}"
        " --out {output.submission} --log {log}"


rule score:
    input:
        script="scripts/score.py",
        lib=["scripts/common.py", "scripts/dataio.py"],
        submission="results/submission.csv",
        solution="resources/data/solution.csv",
    output:
        score=report("results/score.json", caption="../report/score.rst", category="Metrics"),
    params:
        args="",
    log:
        "logs/score.log",
    benchmark:
        "logs/benchmarks/score.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    shell:
        "{PYTHON} {input.script} --submission {input.submission} --solution {input.solution}"
        " --out {output.score} --log {log}"


rule record_config:
    input:
        script="scripts/record_config.py",
        lib=["scripts/common.py"],
    output:
        config=report("results/config.yaml", caption="../report/config.rst", category="Config"),
    params:
        args=cli(("--settings", rule_settings(config, *sorted(config)))),
    log:
        "logs/record_config.log",
    benchmark:
        "logs/benchmarks/record_config.tsv"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    shell:
        "{PYTHON} {input.script} {params.args} --out {output.config} --log {log}"
