"""A Spark job that fails inside a command is one line and exit 4, never a traceback."""

from __future__ import annotations

import sys

import pytest

pytest.importorskip("pyspark")


def _run_main(monkeypatch, capsys, exc: BaseException) -> tuple[int, str]:
    import ctssw.cli._app as cli

    def boom(**kw):  # called as app(standalone_mode=False)
        raise exc

    monkeypatch.setattr(cli, "app", boom)
    monkeypatch.setattr(sys, "argv", ["ctssw", "panel", "--backend", "spark"])
    with pytest.raises(SystemExit) as ex:
        cli.main()
    out = capsys.readouterr()
    return ex.value.code, out.out + out.err


def test_executors_out_of_memory_name_the_setting_that_gives_them_more(monkeypatch, capsys):
    from pyspark.errors import PySparkException

    # the shape of the job abort a 10,000-team panel gave with 1 GB executors
    e = PySparkException(message="Job aborted due to stage failure: Task 3 in stage 21.0 failed 4 times, most recent "
                                 "failure: ExecutorLostFailure (executor 1 exited caused by one of the running tasks) "
                                 "Reason: Command exited with code 52")
    code, out = _run_main(monkeypatch, capsys, e)
    assert code == 4 and "Traceback" not in out
    assert out.count("\n") == 1 and out.startswith("error: the Spark job failed: ")
    assert "spark.executor.memory" in out and "spark-defaults.conf" in out


def test_a_java_exception_is_given_by_its_own_line(monkeypatch, capsys):
    from py4j.protocol import Py4JError

    e = Py4JError("An error occurred while calling o397.toPandas.\n: java.io.FileNotFoundException: File "
                  "file:/lake/deployments/month=2024-01/part-1-0.parquet does not exist\n\tat org.apache.hadoop.fs.X(X.java:1)")
    code, out = _run_main(monkeypatch, capsys, e)
    assert code == 4 and "Traceback" not in out and "\tat " not in out
    assert "java.io.FileNotFoundException: File file:/lake/deployments/month=2024-01/part-1-0.parquet does not exist" in out
    assert "spark.executor.memory" not in out


def test_other_errors_are_not_taken_for_spark_ones(monkeypatch, capsys):
    import ctssw.cli._app as cli

    monkeypatch.setattr(cli, "app", lambda **kw: (_ for _ in ()).throw(ValueError("a bug")))
    with pytest.raises(ValueError, match="a bug"):
        cli.main()


def test_the_deepest_cause_is_the_line_shown(monkeypatch, capsys):
    from py4j.protocol import Py4JError

    # what a local session whose 512 MB heap ran short gave (its Java frames cut here)
    e = Py4JError("An error occurred while calling o256.getResult.\n: org.apache.spark.SparkException: Exception thrown in "
                  "awaitResult: \n\tat org.apache.spark.util.X(X.scala:1)\nCaused by: org.apache.spark.SparkException: Job "
                  "aborted due to stage failure: Task 0 in stage 144.0 failed 1 times, most recent failure: Lost task 0.0 in "
                  "stage 144.0 (TID 103) (192.0.2.2 executor driver): TaskResultLost (result lost from block manager)\n"
                  "Driver stacktrace:\n\tat org.apache.spark.Y(Y.scala:2)")
    code, out = _run_main(monkeypatch, capsys, e)
    assert code == 4 and out.startswith("error: the Spark job failed: org.apache.spark.SparkException: Job aborted")
    assert "TaskResultLost" in out and "awaitResult" not in out


def test_pyspark_warnings_keep_their_first_line_only(monkeypatch, capsys):
    """PySpark's Arrow fallback warns with a failed job's Java stack: only its first line is shown,
    before the one-line error; other libraries' warnings print as Python prints them."""
    import os
    import warnings

    from py4j.protocol import Py4JError

    import ctssw.cli._app as cli

    stack = ("toPandas attempted Arrow optimization because 'spark.sql.execution.arrow.pyspark.enabled' is set to true,"
             " but has reached the error below and can not continue.\n  An error occurred while calling o71.getResult.\n"
             ": org.apache.spark.SparkException: Exception thrown in awaitResult:\n"
             "\tat org.apache.spark.util.SparkThreadUtils$.awaitResult(SparkThreadUtils.scala:56)\n")
    pyspark_file = os.path.join(os.sep, "venv", "site-packages", "pyspark", "sql", "pandas", "conversion.py")

    def boom(**kw):  # called as app(standalone_mode=False)
        warnings.warn_explicit(stack, UserWarning, pyspark_file, 111)
        warnings.warn_explicit("plain\nsecond line", UserWarning, os.path.join(os.sep, "x", "other.py"), 3)
        raise Py4JError("An error occurred while calling o71.getResult")

    monkeypatch.setattr(cli, "app", boom)
    monkeypatch.setattr(sys, "argv", ["ctssw", "panel", "--backend", "spark"])
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        with pytest.raises(SystemExit) as ex:
            cli.main()
    out = capsys.readouterr()
    text = out.out + out.err
    assert ex.value.code == 4
    assert "warning: Spark: toPandas attempted Arrow optimization" in " ".join(text.split())
    assert "SparkThreadUtils" not in text and "awaitResult" not in text
    assert "other.py:3: UserWarning: plain" in text and "second line" in text
