"""The tutoring service: `python service.py` serves it on http://127.0.0.1:8000 with the embedded default."""

import os
import shutil
import sys

if __name__ != "__mp_main__":
    # A worker process (TUTOR_WORKERS > 1) first re-reads this file under the name __mp_main__, before it can answer the
    # supervisor's health check (5 s); importing the service there could miss it, so that pass imports nothing. The
    # worker then imports `service:app` under its own name, with the health check answered meanwhile.
    import uvicorn

    from tutor.app import create_app
    from tutor.operations.request_ids import logging_config
    from tutor.settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as exc:
        sys.exit(f"tutor: {exc}")

    app = create_app(settings)

if __name__ == "__main__":
    if settings.service.workers > 1:  # each worker writes its metrics to files there; /metrics adds them up (prometheus-client multiprocess mode)
        metrics_dir = settings.service.var_dir / "metrics"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    # uvicorn's own access log prints raw paths, which carry learner ids; tutor.access logs route templates instead.
    # The logging config (request id in every line) is applied by uvicorn in each worker process.
    uvicorn.run("service:app", host=settings.service.host, port=settings.service.port, workers=settings.service.workers, access_log=False,
                log_config=logging_config())
