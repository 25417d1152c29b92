"""The tutoring service: `python service.py` serves it on http://127.0.0.1:8000 with the embedded default."""

import logging
import os

import uvicorn

from tutor.app import create_app

app = create_app()

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # uvicorn's own access log prints raw paths, which carry learner ids; tutor.access logs route templates instead.
    uvicorn.run(
        "service:app",
        host=os.environ.get("TUTOR_HOST", "127.0.0.1"),
        port=int(os.environ.get("TUTOR_PORT", "8000")),
        workers=int(os.environ.get("TUTOR_WORKERS", "1")),
        access_log=False,
    )
