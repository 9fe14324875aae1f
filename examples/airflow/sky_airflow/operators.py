"""What the sky operators do, without Airflow: each ``execute(context)`` runs one unit of work
through the sky API server and returns what Airflow would push to XCom.

They take the same arguments in Airflow (through :mod:`sky_airflow.adapter`) and outside it, so
a DAG's tasks can be run and tested with a plain context dict.
"""

import logging
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Union

from sky_client import Client, SkyError

Task = Dict[str, Any]
log = logging.getLogger("sky_airflow")


class _SkyOperatorBase:
    """Holds the client settings; ``client_factory`` lets a DAG (or a test) choose how to connect."""

    def __init__(
        self,
        *,
        endpoint: Optional[str] = None,
        token: Optional[str] = None,
        workspace: Optional[str] = None,
        client_factory: Optional[Callable[[], Client]] = None,
        **kwargs: Any,
    ) -> None:
        # Airflow's own arguments (task_id, retries, ...) go to BaseOperator through the adapter;
        # a plain operator keeps task_id only (for logs), and refuses anything else it does not know.
        mro = type(self).__mro__
        if mro[mro.index(_SkyOperatorBase) + 1] is object:
            self.task_id = kwargs.pop("task_id", type(self).__name__)
        super().__init__(**kwargs)  # type: ignore[call-arg]
        self.endpoint = endpoint
        self.token = token
        self.workspace = workspace
        self._client_factory = client_factory

    def client(self) -> Client:
        """A client of the configured endpoint (default: resolved as the sky CLI resolves it)."""
        if self._client_factory is not None:
            return self._client_factory()
        return Client(self.endpoint, self.token, workspace=self.workspace)

    @staticmethod
    def _render(value: str, context: Mapping[str, Any]) -> str:
        """``{ds_nodash}``-style placeholders filled from the context, for names unique per run
        outside Airflow (in Airflow, Jinja has rendered ``{{ ds_nodash }}`` already)."""
        try:
            return value.format(**{k: v for k, v in context.items() if isinstance(v, (str, int))})
        except (KeyError, IndexError, ValueError):
            return value


class SkyLaunchOperator(_SkyOperatorBase):
    """Launch a task on a cluster (created if needed), follow its job's log to the end, and
    optionally tear the cluster down. Fails (raises SkyError) when the job does not succeed.

    ``cluster`` may hold context placeholders, e.g. ``"train-{ds_nodash}"``.
    Returns ``{cluster, job_id, status}``.
    """

    def __init__(
        self,
        *,
        task: Task,
        cluster: str,
        down: bool = False,
        idle_minutes_to_autostop: Optional[float] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        # Attribute names Airflow's BaseOperator does not use itself.
        self.sky_task = task
        self.cluster = cluster
        self.down = down
        self.idle_minutes_to_autostop = idle_minutes_to_autostop

    def execute(self, context: Mapping[str, Any]) -> Dict[str, Any]:
        client = self.client()
        cluster = self._render(self.cluster, context)
        try:
            launched = client.launch(self.sky_task, cluster=cluster, idle_minutes_to_autostop=self.idle_minutes_to_autostop, workspace=self.workspace)
            job_id = int(launched["jobId"])
            log.info("sky: job %s on cluster %s", job_id, cluster)
            stream = client.logs(cluster, job_id)
            for line in stream:
                log.info("%s", line)
            status = stream.status or "UNKNOWN"
        finally:
            if self.down:
                try:
                    client.down(cluster)
                except SkyError as err:
                    if err.code != "CLUSTER_NOT_FOUND":
                        raise
        if status != "SUCCEEDED":
            raise SkyError("OPERATION_FAILED", "job {} on cluster {} ended {}".format(job_id, cluster, status), hint="See its log above, or: sky logs {} {}".format(cluster, job_id))
        return {"cluster": cluster, "job_id": job_id, "status": status}


class SkyJobOperator(_SkyOperatorBase):
    """Run a managed job (a task, or a pipeline of tasks): the daemon provisions a cluster for
    each task, recovers it, and tears it down. Follows the job's log until it ends; fails
    (raises SkyError) when it does not succeed. ``on_kill`` cancels it.

    Returns ``{job_id, status}``.
    """

    def __init__(self, *, task: Union[Task, Sequence[Task]], name: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sky_task = task
        self.job_name = name
        self.job_id: Optional[int] = None

    def execute(self, context: Mapping[str, Any]) -> Dict[str, Any]:
        client = self.client()
        name = None if self.job_name is None else self._render(self.job_name, context)
        launched = client.jobs_launch(self.sky_task, name=name, workspace=self.workspace)
        self.job_id = int(launched["jobId"])
        log.info("sky: managed job %s", self.job_id)
        stream = client.job_logs(self.job_id)
        for line in stream:
            log.info("%s", line)
        status = stream.status or client.jobs_wait(self.job_id)["status"]
        if status != "SUCCEEDED":
            raise SkyError("OPERATION_FAILED", "managed job {} ended {}".format(self.job_id, status), hint="See: sky jobs logs --controller {}".format(self.job_id))
        return {"job_id": self.job_id, "status": status}

    def on_kill(self) -> None:
        """Airflow calls this when the task is killed: the managed job is cancelled with it."""
        if self.job_id is not None:
            self.client().jobs_cancel([self.job_id])
