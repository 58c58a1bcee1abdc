"""Training past one box: Debian's redis-server on loopback, RQ workers as processes, app replicas on one store
behind Debian's HAProxy with deploy/haproxy.cfg.

The faults are real: a worker is killed with SIGKILL mid-run, Redis is stopped and started empty, a worker
is pointed at a folder that is not the app's store. Screenshots land in test-artifacts/.
"""
import shutil
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Iterator

import pytest

from bench.browser import ROOT, browser_contexts, running_app, wait_until_idle
from bench.services import free_port, kill, start_redis, start_worker, stop
from browser_steps import ARTIFACTS, EXCEPTION, TRAINED, needs_chromium, open_train_page
from explorer.jobs import JobState
from explorer.redis_jobs import URL_ENV, RedisJobQueue
from explorer.run_store import CAP_ENV, STORE_ENV, RunStore, run_id
from explorer.runs import TrainingRequest
from explorer.workspace import load_workspace
from redis_engine import needs_redis
from test_jobs import wait_for
from test_workspace_browser import active_model, workspace_token

pytestmark = needs_redis
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
KILLED = TrainingRequest("s4-conv-392", "digits", settings={"epochs": 12}, subset=300, name="killed midway")
ALONGSIDE = replace(KILLED, seed=1, name="alongside")


def test_a_killed_worker_s_run_is_queued_again_and_redis_restarting_loses_no_finished_run(tmp_path):
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    redis = start_redis(port)
    log = tmp_path / "workers.log"
    workers = [start_worker(url, log) for _ in range(2)]
    elsewhere = start_worker(url, log, queue="elsewhere", store=tmp_path / "not-the-store")
    store = RunStore(tmp_path / "store", cap_bytes=2**30)
    replica_a, replica_b = RedisJobQueue(store, url), RedisJobQueue(RunStore(store.root, store.cap_bytes), url)
    try:
        run = replica_a.submit(KILLED, "a")
        assert replica_b.submit(replace(KILLED, name="same weights"), "b") == run, "two replicas, one run"
        other = replica_b.submit(ALONGSIDE, "c")
        status = wait_for(lambda: (s := replica_a.status(run, "a")).progress.probe_map is not None and s)
        assert status.watchers == 2 and status.progress.samples[0].shape == (8, 1, 28, 28), "live progress via Redis"
        wait_for(lambda: len(replica_b.status(run, "b").progress.history) >= 2 and replica_b.status(other, "c")
                 .state is JobState.RUNNING)
        training = {store.status(r)["worker"] for r in (run, other)}
        assert len(training) == 2 and all(any(name.endswith(f":{p.pid}") for p in workers) for name in training), \
            "the two runs train at once, one on each worker"
        victim = next(p for p in workers if store.status(run)["worker"].endswith(f":{p.pid}"))
        epoch = store.status(run)["epoch"]
        kill(victim)
        killed = time.monotonic()
        requeued = wait_for(lambda: (s := replica_a.status(run, "a")).state is JobState.QUEUED and s, timeout=60)
        noticed = time.monotonic() - killed
        assert f"Its worker stopped during epoch {epoch}" in requeued.message
        wait_for(lambda: replica_b.status(run, "b").state is JobState.FINISHED and replica_a.status(run, "a"),
                 timeout=120)
        assert store.card(run)["training"]["epochs_run"] == 12
        assert not store.status(run)["worker"].endswith(f":{victim.pid}"), "the surviving worker trained it again"
        wait_for(lambda: replica_a.status(other, "c").state is JobState.FINISHED)

        stranded = RedisJobQueue(store, url, queue="nobody-serves-this").submit(replace(KILLED, seed=2), "d")
        failed = RedisJobQueue(store, url, queue="elsewhere").submit(replace(KILLED, seed=3), "e")
        message = wait_for(lambda: (s := replica_a.status(failed)).state is JobState.FAILED and s.message)
        assert "cannot reach the app's run store" in message and "not a store" in message

        version = store.model_version(run)
        stop(redis)
        redis = start_redis(port)
        assert replica_a.status(run).state is JobState.FINISHED and store.model_version(run) == version
        assert replica_b.submit(KILLED, "f") == run and replica_b.status(run).state is JobState.FINISHED, \
            "an identical request joins the finished run: nothing trains again"
        lost = wait_for(lambda: (s := replica_a.status(stranded)).state is JobState.INTERRUPTED and s, timeout=40)
        assert "the job queue (Redis) restarted" in lost.message
        after = replica_a.submit(replace(KILLED, seed=4, settings={"epochs": 2}), "g")
        wait_for(lambda: replica_b.status(after).state is JobState.FINISHED, timeout=60)  # workers reconnected
    finally:
        for process in [*workers, elsewhere]:
            if process.poll() is None:
                kill(process)
        stop(redis)
    print(f"killed worker noticed and run queued again after {noticed:.1f} s")


def test_a_redis_out_of_reach_is_a_message_and_runs_read_from_the_store(tmp_path):
    store = RunStore(tmp_path / "store", cap_bytes=2**30)
    queue = RedisJobQueue(store, f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(ValueError, match="the training queue cannot be reached"):
        queue.submit(KILLED, "a")
    assert queue.status(run_id(KILLED)) is None and store.run_ids() == [], "nothing half-started"


@contextmanager
def sticky_proxy(ports: list[int], log: Path) -> Iterator[str]:
    """deploy/haproxy.cfg as compose runs it, its replicas' addresses pointed at ``ports`` on loopback."""
    config = (ROOT / "deploy" / "haproxy.cfg").read_text().replace("bind :8501", f"bind 127.0.0.1:{(port := free_port())}")
    for replica, replica_port in enumerate(ports, start=1):
        config = config.replace(f"app{replica}:8501", f"127.0.0.1:{replica_port}")
    (log.parent / "haproxy.cfg").write_text(config)
    proxy = subprocess.Popen([HAPROXY, "-db", "-f", str(log.parent / "haproxy.cfg")], stdout=log.open("a"),
                             stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(f"{url}/_stcore/health"), timeout=30)
        yield url
    finally:
        stop(proxy)


def _answers(url: str) -> bool:
    try:
        return urllib.request.urlopen(url, timeout=2).read() == b"ok"
    except OSError:
        return False


def pin(page, proxy: str, replica: str) -> None:
    """The cookie the proxy sets on a first visit, chosen by the test: this browser talks to ``replica``."""
    page.context.add_cookies([{"name": "EXPLORER_REPLICA", "value": replica, "url": proxy}])


@needs_chromium
@pytest.mark.skipif(not Path(HAPROXY).exists(), reason="no haproxy (Debian: apt-get install haproxy)")
def test_two_app_replicas_behind_the_sticky_proxy_train_on_workers_and_share_identical_runs(tmp_path):
    """deploy/compose.yaml's layout on loopback: Redis, two workers, two Streamlit replicas on one store, and
    HAProxy with the shipped config in front. Students on different replicas press Train on the same
    experiment and get one run; a third trains another; a workspace link opens on the other replica."""
    ARTIFACTS.mkdir(exist_ok=True)
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    redis = start_redis(port)
    log = tmp_path / "services.log"
    workers = [start_worker(url, log) for _ in range(2)]
    store = RunStore(tmp_path / "store", cap_bytes=2**30)
    environment = {STORE_ENV: str(store.root), CAP_ENV: "1024", URL_ENV: url}
    replica_ports = [free_port(), free_port()]
    try:
        with running_app(port=replica_ports[0], environment=environment), \
                running_app(port=replica_ports[1], environment=environment), \
                sticky_proxy(replica_ports, log) as proxy, browser_contexts(3) as (first, second, third):
            for page, replica in ((first, "app1"), (second, "app2"), (third, "app2")):
                pin(page, proxy, replica)
            open_train_page(first, proxy, Seed="41", Name="from replica one")
            open_train_page(second, proxy, Seed="41", Name="from replica two")
            open_train_page(third, proxy, Seed="42", Name="another experiment")
            assert first.get_by_text("Runs train on 2 workers of the class's queue").count() == 1
            for page in (first, second, third):
                page.get_by_role("button", name="Train", exact=True).click()
            for page in (first, second, third):
                page.get_by_text(TRAINED).wait_for(timeout=180_000)
            second.screenshot(path=str(ARTIFACTS / "redis-replica-two.png"), full_page=True)
            runs = [load_workspace(store, workspace_token(page)).current_run for page in (first, second, third)]
            assert runs[0] == runs[1] != runs[2], "identical requests from two replicas share one run"
            assert sorted(store.request(run)["seed"] for run in store.run_ids()) == [41, 42]
            pids = {f":{worker.pid}" for worker in workers}
            assert all(any(store.status(run)["worker"].endswith(pid) for pid in pids) for run in runs), \
                "every run trained on a worker, none in an app"
            third.goto(first.url)
            wait_until_idle(third)
            assert active_model(third).startswith("from replica one"), "a workspace link works on either replica"
            for page in (first, second, third):
                assert page.locator(EXCEPTION).count() == 0
    finally:
        for worker in workers:
            kill(worker)
        stop(redis)
