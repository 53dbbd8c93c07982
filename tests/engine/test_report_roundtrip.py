import json

from engine.benchmark import RunOptions, run_benchmark
from engine.ir import model_version
from engine.report import SCHEMA, Report, Source


def test_a_profiled_run_survives_json_and_back(probes):
    run = run_benchmark("mlp", {"batch": 4, "sizes": [32, 64, 16]},
                        RunOptions(warmup=1, repeats=3, source=Source(repository="r", commit="c", branch="b")))
    report = run.report
    again = Report.from_dict(json.loads(report.to_json()))
    assert again == report
    assert report.schema == SCHEMA
    assert report.benchmark.model_version == model_version(run.model.graph)
    assert report.benchmark.params == {"batch": 4, "sizes": [32, 64, 16], "seed": 0}
    assert [ly.name for ly in report.layers] == ["fc1", "relu1", "fc2"]
    assert report.end_to_end.n == 3 and report.repeats == 3
    assert report.warmup >= 1  # the pairs really run: more while pages still fault (engine.profile)
    assert (report.machine.peak_gflops, report.machine.peak_gbs) == (100.0, 10.0)
    assert report.config.passes == [] and report.config.quant == "none"


def test_a_thread_limit_is_recorded(probes):
    report = run_benchmark("mlp", {"batch": 2, "sizes": [8, 4]}, RunOptions(warmup=0, repeats=1, threads=1)).report
    assert report.config.threads == 1


def test_a_quantized_run_keeps_its_accuracy_through_json_and_a_report_without_it_reads_as_fp32(probes):
    report = run_benchmark("mlp", {"batch": 4, "sizes": [16, 8, 1]},
                           RunOptions(warmup=0, repeats=1, quant="int8")).report
    again = Report.from_dict(json.loads(report.to_json()))
    assert again == report and again.accuracy is not None
    assert again.accuracy.metric == "auc_agreement" and again.accuracy.reference == "fp32"
    doc = json.loads(report.to_json())
    del doc["accuracy"]
    assert Report.from_dict(doc).accuracy is None
