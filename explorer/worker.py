"""An RQ worker for the app's training queue: ``python -m explorer.worker`` (``REDIS_URL``).

Equivalent to ``rq worker explorer-training --url $REDIS_URL --worker-class rq.SimpleWorker --serializer
rq.serializers.JSONSerializer`` run from the app's folder: the job runs in the worker's own process
(no fork per job: a forked PyTorch can hang in its thread pools), picks CUDA or MPS when the machine
has one, and reads and writes the app's run store: at the path the app sends with each run, or at
``EXPLORER_STORE`` where the worker mounts it elsewhere.
"""
from __future__ import annotations

import argparse
import os
import sys

import torch
from redis import Redis
from rq import Queue, SimpleWorker
from rq.serializers import JSONSerializer

from .models import pick_device
from .redis_jobs import DEFAULT_QUEUE, QUEUE_ENV, URL_ENV, worker_name
from .run_store import STORE_ENV


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get(URL_ENV), help=f"Redis (default: ${URL_ENV})")
    parser.add_argument("--queue", default=os.environ.get(QUEUE_ENV) or DEFAULT_QUEUE)
    parser.add_argument("--burst", action="store_true", help="end when the queue is empty")
    parser.add_argument("--threads", type=int, help="PyTorch's CPU threads (default: its own, one per core); "
                        "several workers on one machine share its cores")
    options = parser.parse_args(argv)
    if not options.url:
        sys.exit(f"Set {URL_ENV} (e.g. redis://localhost:6379/0) or pass --url.")
    if options.threads:
        torch.set_num_threads(options.threads)
    redis = Redis.from_url(options.url)
    queue = Queue(options.queue, connection=redis, serializer=JSONSerializer)
    store = os.environ.get(STORE_ENV) or "the app's path"
    print(f"worker {worker_name()}: queue {options.queue}, store {store}, device {pick_device().type}, "
          f"{torch.get_num_threads()} CPU threads", flush=True)
    SimpleWorker([queue], connection=redis, serializer=JSONSerializer).work(burst=options.burst,
                                                                         with_scheduler=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
