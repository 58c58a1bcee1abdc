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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

import pytest

from bench.browser import ROOT, browser_contexts, running_app, wait_until_idle
from bench.services import free_port, kill, start_redis, start_worker, stop
from browser_steps import ARTIFACTS, EXCEPTION, TRAINED, active_model, needs_chromium, open_train_page, workspace_token
from explorer.redis_jobs import URL_ENV, RedisJobQueue
from explorer.run_store import CAP_ENV, STORE_ENV, JobState, RunStore
from explorer.runs import TrainingRequest, run_id
from explorer.workspace import load_workspace
from job_steps import wait_for
from redis_engine import needs_redis

pytestmark = needs_redis
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
KILLED = TrainingRequest("s4-conv-392", "digits", settings={"epochs": 12}, subset=300, name="killed midway")
ALONGSIDE = replace(KILLED, seed=1, name="alongside")


@dataclass
class Cluster:
    """Redis on its own port, RQ workers on it, and the store they share."""
    url: str
    port: int
    redis: subprocess.Popen
    workers: list[subprocess.Popen]
    store: RunStore
    log: Path

    def queue(self, **options) -> RedisJobQueue:
        """One app replica's queue: a RunStore object of its own on the same folder."""
        return RedisJobQueue(RunStore(self.store.root, self.store.cap_bytes), self.url, **options)

    def restart_redis(self) -> None:
        stop(self.redis)
        self.redis = start_redis(self.port)


@contextmanager
def cluster(tmp_path: Path, workers: int) -> Iterator[Cluster]:
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    log = tmp_path / "workers.log"
    running = Cluster(url, port, start_redis(port), [], RunStore(tmp_path / "store", cap_bytes=2**30), log)
    try:
        running.workers += [start_worker(url, log) for _ in range(workers)]
        yield running
    finally:
        for process in running.workers:
            if process.poll() is None:
                kill(process)
        stop(running.redis)


def test_a_killed_worker_s_run_is_queued_again_and_finished_by_another(tmp_path):
    with cluster(tmp_path, workers=2) as on:
        replica_a, replica_b = on.queue(), on.queue()
        run = replica_a.submit(KILLED, "a")
        assert replica_b.submit(replace(KILLED, name="same weights"), "b") == run, "two replicas, one run"
        other = replica_b.submit(ALONGSIDE, "c")
        status = wait_for(lambda: (s := replica_a.status(run, "a")).progress.probe_map is not None and s)
        assert status.watchers == 2 and status.progress.samples[0].shape == (8, 1, 28, 28), "live progress via Redis"
        wait_for(lambda: len(replica_b.status(run, "b").progress.history) >= 2 and replica_b.status(other, "c")
                 .state is JobState.RUNNING)
        training = {on.store.status(r)["worker"] for r in (run, other)}
        assert len(training) == 2 and all(any(name.endswith(f":{p.pid}") for p in on.workers) for name in training), \
            "the two runs train at once, one on each worker"
        victim = next(p for p in on.workers if on.store.status(run)["worker"].endswith(f":{p.pid}"))
        epoch = on.store.status(run)["epoch"]
        kill(victim)
        killed = time.monotonic()
        requeued = wait_for(lambda: "queued again" in (s := replica_a.status(run, "a")).message and s, timeout=60)
        noticed = time.monotonic() - killed
        assert requeued.state.active and f"Its worker stopped during epoch {epoch}; queued again" in requeued.message
        wait_for(lambda: replica_b.status(run, "b").state is JobState.FINISHED and replica_a.status(run, "a"),
                 timeout=120)
        assert on.store.card(run)["training"]["epochs_run"] == 12
        assert not on.store.status(run)["worker"].endswith(f":{victim.pid}"), "the surviving worker trained it again"
        wait_for(lambda: replica_a.status(other, "c").state is JobState.FINISHED)
    print(f"killed worker noticed and run queued again after {noticed:.1f} s")


def test_a_worker_that_cannot_reach_the_store_fails_the_run_with_a_message(tmp_path):
    with cluster(tmp_path, workers=0) as on:
        on.workers.append(start_worker(on.url, on.log, queue="elsewhere", store=tmp_path / "not-the-store"))
        queue = on.queue()
        failed = on.queue(queue="elsewhere").submit(replace(KILLED, seed=3), "e")
        message = wait_for(lambda: (s := queue.status(failed)).state is JobState.FAILED and s.message)
        assert "cannot reach the app's run store" in message and "not a store" in message


def test_redis_restarting_empty_loses_no_finished_run_and_says_what_it_lost(tmp_path):
    with cluster(tmp_path, workers=1) as on:
        queue = on.queue()
        run = queue.submit(replace(KILLED, settings={"epochs": 2}), "a")
        wait_for(lambda: queue.status(run).state is JobState.FINISHED, timeout=60)
        stranded = on.queue(queue="nobody-serves-this").submit(replace(KILLED, seed=2), "d")
        version = on.store.model_version(run)
        on.restart_redis()
        assert queue.status(run).state is JobState.FINISHED and on.store.model_version(run) == version
        assert on.queue().submit(replace(KILLED, settings={"epochs": 2}), "f") == run, \
            "an identical request joins the finished run: nothing trains again"
        assert queue.status(run).state is JobState.FINISHED
        lost = wait_for(lambda: (s := queue.status(stranded)).state is JobState.INTERRUPTED and s, timeout=40)
        assert "the job queue (Redis) restarted" in lost.message
        after = queue.submit(replace(KILLED, seed=4, settings={"epochs": 2}), "g")
        wait_for(lambda: queue.status(after).state is JobState.FINISHED, timeout=60)  # the worker reconnected


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
            shared_name = store.status(runs[0])["name"]  # whichever replica's request came first names the run
            assert active_model(third).startswith(shared_name), "a workspace link works on either replica"
            for page in (first, second, third):
                assert page.locator(EXCEPTION).count() == 0
    finally:
        for worker in workers:
            kill(worker)
        stop(redis)
