PLOTS = {
    name: f"results/plots/{name}.png"
    for name in ("training_curves", "confusion_matrix", "worst_mistakes", "per_class_accuracy")
}


rule plots:
    input:
        script="scripts/plots.py",
        lib=["scripts/common.py"],
        history="results/history.csv",
        metrics="results/metrics.json",
        predictions="results/dev_predictions.npz",
    output:
        **{
            name: report(path, caption=f"../report/{name}.rst", category="Plots")
            for name, path in PLOTS.items()
        },
    params:
        args=cli(("--monitor", config["train"]["monitor"])),
    log:
        "logs/plots.log",
    benchmark:
        "logs/benchmarks/plots.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "{PYTHON} {input.script} --history {input.history} --metrics {input.metrics}"
        " --predictions {input.predictions} --outdir results/plots {params.args} --log {log}"
