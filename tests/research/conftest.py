"""One Spark session (local[2]) for the whole test run, shared by every test that asks for `spark`."""

from __future__ import annotations

import os
import shutil

import pytest


@pytest.fixture(scope="session")
def spark():
    pytest.importorskip("pyspark", reason="pyspark is not installed: pip install -e '.[spark]' (the README's test command does)")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("Java is not installed: tests/research/prepare_spark.sh installs openjdk-17-jre-headless (the README's test command runs it)")
    from tutor.research import spark_training

    session = spark_training.spark_session("local[2]")
    yield session
    spark_training.stop_session()
