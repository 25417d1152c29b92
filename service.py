"""The tutoring service: `python service.py` serves it on http://127.0.0.1:8000 with the embedded default."""

import logging
import sys

import uvicorn

from tutor.app import create_app
from tutor.settings import SettingsError, load_settings

try:
    settings = load_settings()
except SettingsError as exc:
    sys.exit(f"tutor: {exc}")

app = create_app(settings)

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # uvicorn's own access log prints raw paths, which carry learner ids; tutor.access logs route templates instead.
    uvicorn.run("service:app", host=settings.service.host, port=settings.service.port, workers=settings.service.workers, access_log=False)
