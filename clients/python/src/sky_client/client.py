"""The Python client: every method is one REST call to the sky API server (or a stream of them)."""

import json
import os
import time
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Union

from .config import Endpoint, home_dir, resolve_endpoint, user_id, user_name
from .errors import SkyError
from .transport import IDEMPOTENCY_KEY_HEADER, WORKSPACE_HEADER, Transport, fill_path

API = "/api/v1"
TERMINAL_STATUSES = ("SUCCEEDED", "FAILED", "CANCELLED")
MANAGED_JOB_TERMINAL = ("SUCCEEDED", "FAILED", "FAILED_SETUP", "FAILED_NO_RESOURCE", "FAILED_CONTROLLER", "CANCELLED")
#: The daemon answers one long-poll after at most this many seconds.
MAX_POLL_SECONDS = 300

Task = Dict[str, Any]
Record = Dict[str, Any]


class LogStream:
    """An iterator of log lines from a server-sent event stream; ``status`` is set once it ended.

    ``status`` is the final status the server sent with its ``end`` event (of the request, job
    or managed job); it stays None while lines are still being read.
    """

    def __init__(self, events: Iterator[Any], what: str, url: str, rank_prefix: bool = False) -> None:
        self._events = events
        self._what = what
        self._url = url
        self._rank_prefix = rank_prefix
        self.status: Optional[str] = None
        self._lines = self._run()

    def __iter__(self) -> "LogStream":
        return self

    def __next__(self) -> str:
        return next(self._lines)

    def _run(self) -> Iterator[str]:
        pending = ""
        for event, data in self._events:
            if event == "log":
                chunk = json.loads(data)
                text = str(chunk.get("text", ""))
                if "seq" in chunk:
                    # A request's log comes in chunks of text that need not end at a line end.
                    pending += text
                    *whole, pending = pending.split("\n")
                    for line in whole:
                        yield line
                else:
                    rank = chunk.get("rank")
                    yield "(rank {}) {}".format(rank, text) if self._rank_prefix and isinstance(rank, int) and rank > 0 else text
            elif event == "end":
                if pending != "":
                    yield pending
                self.status = str(json.loads(data).get("status"))
                return
            elif event == "error":
                try:
                    parsed = json.loads(data)
                    message = parsed.get("message") or parsed.get("error", {}).get("message") or data
                except ValueError:
                    message = data
                raise SkyError("INTERNAL", "the API server failed while streaming {}: {}".format(self._what, message))
        raise SkyError(
            "SERVER_UNREACHABLE",
            "lost connection to the API server at {} while streaming {}; it may still be running".format(self._url, self._what),
            hint="Stream it again to re-attach.",
        )


class Client:
    """A client of one sky API server.

    With no arguments the endpoint, credentials, CA bundle and active workspace are resolved as
    the sky CLI resolves them (see :mod:`sky_client.config`). ``endpoint`` may carry basic-auth
    credentials (``http://user:password@host:port``); ``token`` is a bearer token sent instead.
    """

    def __init__(
        self,
        endpoint: Optional[str] = None,
        token: Optional[str] = None,
        *,
        ca_file: Optional[str] = None,
        workspace: Optional[str] = None,
        home: Optional[str] = None,
        env: Optional[Mapping[str, str]] = None,
        connect_timeout: float = 5.0,
    ) -> None:
        env = os.environ if env is None else env
        home = home_dir(env) if home is None else home
        resolved = resolve_endpoint(env, home, endpoint=endpoint, token=token)
        if ca_file is not None:
            resolved = resolved._replace(ca_file=ca_file)
        if workspace is not None:
            resolved = resolved._replace(active_workspace=workspace)
        self.endpoint: Endpoint = resolved
        self.transport = Transport(resolved, user_name(env), user_id(home), home, connect_timeout)

    # --- the server and the caller ---------------------------------------------------------

    def health(self) -> Record:
        """GET /api/health: the daemon's version, auth mode and state."""
        return self.transport.json("GET", "/api/health")

    def whoami(self) -> Record:
        """Who the API server takes this client for: ``{id, name, role, via}``."""
        return self.transport.json("GET", API + "/users/me")

    # --- requests --------------------------------------------------------------------------

    def submit(self, operation: str, body: Mapping[str, Any], workspace: Optional[str] = None, idempotency_key: Optional[str] = None) -> str:
        """Submit an operation (``launch``, ``exec``, ``down``, ``jobs_launch``, ...) and return its request id.

        The daemon answers once the request is stored; run it to its end with :meth:`wait` or
        :meth:`result`. ``workspace`` defaults to the config's ``active_workspace``. Local paths
        in a task (workdir, file_mounts) are not uploaded by this client: they must be paths
        the API server can read.
        """
        headers: Dict[str, str] = {}
        chosen = workspace if workspace is not None else self.endpoint.active_workspace
        if chosen is not None:
            headers[WORKSPACE_HEADER] = chosen
        if idempotency_key is not None:
            headers[IDEMPOTENCY_KEY_HEADER] = idempotency_key
        answer = self.transport.json("POST", API + "/" + operation, body=dict(body), headers=headers)
        return str(answer["requestId"])

    def get(self, request_id: str) -> Record:
        """A request's record as it is now."""
        return self.transport.json("GET", fill_path(API + "/requests/:id", id=request_id))

    def wait(self, request_id: str, timeout: Optional[float] = None) -> Record:
        """Long-poll until the request has ended (SUCCEEDED, FAILED or CANCELLED) and return its record.

        With ``timeout`` (seconds) the record is returned as it is once that has passed, ended or
        not: check its ``status``.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            poll = float(MAX_POLL_SECONDS) if deadline is None else max(0.0, min(MAX_POLL_SECONDS, deadline - time.monotonic()))
            seconds = int(poll) if poll == int(poll) else round(poll, 3)
            record = self.transport.json(
                "GET",
                fill_path(API + "/requests/:id/wait", id=request_id),
                query={"timeout": seconds},
                timeout=poll + 30,
            )
            if record.get("status") in TERMINAL_STATUSES or (deadline is not None and time.monotonic() >= deadline):
                return record

    def result(self, request_id: str, timeout: Optional[float] = None) -> Any:
        """Wait for the request and return its result; a failed or cancelled request raises its SkyError."""
        record = self.wait(request_id, timeout)
        status = record.get("status")
        if status == "SUCCEEDED":
            return record.get("result")
        if status in ("FAILED", "CANCELLED"):
            error = record.get("error")
            if isinstance(error, dict):
                raise SkyError.from_info(error)
            raise SkyError("CANCELLED" if status == "CANCELLED" else "OPERATION_FAILED", "request {} ended {}".format(request_id, status))
        raise SkyError(
            "REQUEST_TIMEOUT",
            "request {} is still {} after {} s".format(request_id, status, timeout),
            hint="Wait for it again, or cancel it.",
            details={"requestId": request_id, "status": status},
        )

    def run(self, operation: str, body: Mapping[str, Any], workspace: Optional[str] = None, timeout: Optional[float] = None) -> Any:
        """Submit an operation and return its result once it has succeeded (see :meth:`result`)."""
        return self.result(self.submit(operation, body, workspace=workspace), timeout)

    def stream_logs(self, request_id: str, follow: bool = True) -> LogStream:
        """A request's log as an iterator of lines (server-sent events), to its end when following."""
        events = self.transport.events(fill_path(API + "/requests/:id/logs", id=request_id), {"follow": follow})
        return LogStream(events, "request " + request_id, self.endpoint.url)

    def cancel(self, request_id: Union[str, Sequence[str]]) -> Record:
        """Cancel requests: ``{cancelled: [...], alreadyFinished: [...]}``."""
        ids = [request_id] if isinstance(request_id, str) else list(request_id)
        return self.transport.json("POST", API + "/requests/cancel", body={"ids": ids})

    def requests(self, all_users: bool = False, status: Optional[Sequence[str]] = None, limit: Optional[int] = None) -> List[Record]:
        """Recent requests, newest first (the caller's unless ``all_users``)."""
        query = {"all_users": all_users or None, "status": ",".join(status) if status else None, "limit": limit}
        return list(self.transport.json("GET", API + "/requests", query=query)["items"])

    # --- clusters --------------------------------------------------------------------------

    def launch(
        self,
        task: Task,
        cluster: Optional[str] = None,
        *,
        idle_minutes_to_autostop: Optional[float] = None,
        down: Optional[bool] = None,
        dryrun: bool = False,
        workspace: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> Record:
        """Provision a cluster (or reuse one) and submit the task as a job on it.

        Returns the launch result ``{cluster, jobId, plan}`` once the job is queued (not once it
        has finished: follow it with :meth:`logs`).
        """
        body: Dict[str, Any] = {"task": task}
        if cluster is not None:
            body["cluster"] = cluster
        if idle_minutes_to_autostop is not None:
            body["idle_minutes_to_autostop"] = idle_minutes_to_autostop
        if down is not None:
            body["down"] = down
        if dryrun:
            body["dryrun"] = True
        return self.run("launch", body, workspace=workspace, timeout=timeout)

    def exec_(self, cluster: str, task: Task, *, workspace: Optional[str] = None, timeout: Optional[float] = None) -> Record:
        """Submit a task as a job on an existing UP cluster: ``{cluster, jobId}``."""
        return self.run("exec", {"cluster": cluster, "task": task}, workspace=workspace, timeout=timeout)

    def status(self, all_users: bool = False, names: Optional[Sequence[str]] = None) -> List[Record]:
        """Clusters (the caller's unless ``all_users``), optionally only those named."""
        query = {"all_users": all_users or None, "names": ",".join(names) if names else None}
        return list(self.transport.json("GET", API + "/clusters", query=query)["items"])

    def cluster(self, name: str) -> Record:
        """One cluster's record; CLUSTER_NOT_FOUND when there is none by that name."""
        return self.transport.json("GET", fill_path(API + "/clusters/:name", name=name))

    def queue(self, cluster: str, all_users: bool = False, skip_finished: bool = False) -> List[Record]:
        """A cluster's job queue, newest first."""
        query = {"all_users": all_users or None, "skip_finished": skip_finished or None}
        return list(self.transport.json("GET", fill_path(API + "/clusters/:name/jobs", name=cluster), query=query)["items"])

    def logs(self, cluster: str, job_id: int, follow: bool = True, tail: Optional[int] = None) -> LogStream:
        """A cluster job's log as lines (other ranks' lines prefixed ``(rank N)``); ``status`` is the job's at the end."""
        path = fill_path(API + "/clusters/:name/jobs/:job/logs", name=cluster, job=job_id)
        events = self.transport.events(path, {"follow": follow, "tail": tail})
        return LogStream(events, "the log of job {} on cluster {}".format(job_id, cluster), self.endpoint.url, rank_prefix=True)

    def cancel_jobs(self, cluster: str, job_ids: Optional[Sequence[int]] = None, all: bool = False) -> Record:
        """Cancel jobs in a cluster's queue: ``{cluster, cancelled, alreadyFinished}``."""
        body: Dict[str, Any] = {"cluster": cluster}
        if job_ids is not None:
            body["job_ids"] = list(job_ids)
        if all:
            body["all"] = True
        return self.run("cancel", body)

    def stop(self, cluster: str) -> Record:
        """Stop a cluster: ``{cluster, status}``."""
        return self.run("stop", {"cluster": cluster})

    def start(self, cluster: str) -> Record:
        """Start a stopped cluster: ``{cluster, status}``."""
        return self.run("start", {"cluster": cluster})

    def down(self, cluster: str) -> Record:
        """Tear a cluster down: ``{cluster, status}``."""
        return self.run("down", {"cluster": cluster})

    # --- managed jobs ----------------------------------------------------------------------

    def jobs_launch(self, task: Union[Task, Sequence[Task]], name: Optional[str] = None, workspace: Optional[str] = None) -> Record:
        """Submit a managed job (a task, or a pipeline of tasks run in order): ``{jobId, name, tasks}``."""
        tasks = [task] if isinstance(task, dict) else list(task)
        body: Dict[str, Any] = {"tasks": [{"task": t} for t in tasks]}
        if name is not None:
            body["name"] = name
        return self.run("jobs_launch", body, workspace=workspace)

    def jobs_queue(self, all_users: bool = False, skip_finished: bool = False, limit: Optional[int] = None) -> List[Record]:
        """Managed jobs, newest first (the caller's unless ``all_users``)."""
        query = {"all_users": all_users or None, "skip_finished": skip_finished or None, "limit": limit}
        return list(self.transport.json("GET", API + "/managed-jobs", query=query)["items"])

    def jobs_get(self, job_id: int) -> Record:
        """One managed job and its controller events: ``{job, events}``."""
        return self.transport.json("GET", fill_path(API + "/managed-jobs/:id", id=job_id))

    def jobs_cancel(
        self,
        job_ids: Optional[Sequence[int]] = None,
        *,
        name: Optional[str] = None,
        all: bool = False,
        all_users: bool = False,
    ) -> Record:
        """Cancel managed jobs (exactly one of ``job_ids``, ``name`` or ``all``): ``{cancelled, alreadyFinished}``."""
        body: Dict[str, Any] = {}
        if job_ids is not None:
            body["job_ids"] = list(job_ids)
        if name is not None:
            body["name"] = name
        if all:
            body["all"] = True
        if all_users:
            body["all_users"] = True
        return self.run("jobs_cancel", body)

    def job_logs(self, job_id: int, controller: bool = False, follow: bool = True) -> LogStream:
        """A managed job's log (its current task's, or the controller's) as lines; ``status`` is the managed job's at the end."""
        path = fill_path(API + "/managed-jobs/:id/logs", id=job_id)
        events = self.transport.events(path, {"follow": follow, "controller": controller or None})
        return LogStream(events, "the log of managed job {}".format(job_id), self.endpoint.url, rank_prefix=True)

    def jobs_wait(self, job_id: int, timeout: Optional[float] = None, interval: float = 1.0) -> Record:
        """Poll a managed job until it has ended (or ``timeout`` passed) and return its record."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.jobs_get(job_id)["job"]
            if job.get("status") in MANAGED_JOB_TERMINAL or (deadline is not None and time.monotonic() >= deadline):
                return job
            time.sleep(interval)
