# Never part of the default target: `snakemake --cores 1 submit` sends results/submission.csv to Kaggle.
rule submit:
    input:
        script="scripts/submit.py",
        lib=["scripts/common.py", "scripts/dataio.py"],
        submission="results/submission.csv",
        sample_submission="resources/data/sample_submission.csv",
    output:
        receipt="results/submitted.json",
    params:
        args=cli(
            ("--competition", config["data"]["competition"]),
            ("--message", config["submit"]["message"]),
        ),
    log:
        "logs/submit.log",
    benchmark:
        "logs/benchmarks/submit.tsv"
    threads: 1
    resources:
        mem_mb=500,
        runtime=10,
    shell:
        "{PYTHON} {input.script} --submission {input.submission}"
        " --sample-submission {input.sample_submission} {params.args}"
        " --receipt {output.receipt} --log {log}"
