rule download:
    input:
        script="scripts/download.py",
        lib=["scripts/common.py", "scripts/dataio.py"],
    output:
        **data_outputs(),
    params:
        args=cli(
            ("--source", config["data"]["source"]),
            ("--competition", config["data"]["competition"]),
            ("--path", config["data"]["path"]),
        ),
    log:
        "logs/download.log",
    benchmark:
        "logs/benchmarks/download.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    shell:
        "{PYTHON} {input.script} {params.args} --outdir {DATA} --log {log}"


rule split:
    input:
        script="scripts/split.py",
        lib=["scripts/common.py", "scripts/dataio.py"],
        train="resources/data/train.csv",
    output:
        train="results/split/train.npz",
        dev="results/split/dev.npz",
    params:
        args=cli(
            ("--dev-fraction", config["split"]["dev_fraction"]),
            ("--seed", config["split"]["seed"]),
        ),
    log:
        "logs/split.log",
    benchmark:
        "logs/benchmarks/split.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "{PYTHON} {input.script} --input {input.train} {params.args}"
        " --train-out {output.train} --dev-out {output.dev} --log {log}"
