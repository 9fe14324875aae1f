"""The client against a real personal daemon with the local driver: clusters, jobs, requests, errors."""

import unittest
import uuid

import support  # noqa: F401 - puts sky_client on the path

from sky_client import Client, SkyError


@support.needs_local
class LiveClusterTest(unittest.TestCase):
    """One cluster through its life: launch, logs, exec, wait, stream, status, queue, down."""

    client: Client
    cluster: str

    @classmethod
    def setUpClass(cls) -> None:
        # Resolved from the environment as the CLI would: $SKYPILOT_API_SERVER_ENDPOINT, and the
        # local token in $HOME/.sky/api_server (the daemon's home).
        cls.client = Client()
        cls.cluster = "py-" + uuid.uuid4().hex[:8]

    @classmethod
    def tearDownClass(cls) -> None:
        try:
            cls.client.down(cls.cluster)
        except SkyError:
            pass

    def test_cluster_lifecycle(self) -> None:
        self.assertEqual(self.client.endpoint.url, support.LOCAL_URL)
        self.assertEqual(self.client.whoami()["via"], "local")
        launched = self.client.launch({"name": "hello", "run": "echo hello from $SKYPILOT_TASK_ID\necho second line"}, cluster=self.cluster)
        self.assertEqual(launched["cluster"], self.cluster)
        self.assertEqual(launched["plan"]["driver"], "local")
        job = launched["jobId"]
        stream = self.client.logs(self.cluster, job)
        lines = list(stream)
        self.assertEqual(stream.status, "SUCCEEDED")
        self.assertTrue(lines[0].startswith("hello from "), lines)
        self.assertEqual(lines[1], "second line")

        # exec as a raw request: submit, stream the request's log, wait for its record.
        request_id = self.client.submit("exec", {"cluster": self.cluster, "task": {"run": "echo exec-ran; exit 3"}})
        request_lines = list(self.client.stream_logs(request_id))
        record = self.client.wait(request_id, timeout=60)
        self.assertEqual(record["status"], "SUCCEEDED")
        self.assertEqual(record["name"], "exec")
        exec_job = record["result"]["jobId"]
        self.assertTrue(any(str(exec_job) in line for line in request_lines), request_lines)
        exec_log = self.client.logs(self.cluster, exec_job)
        self.assertEqual(list(exec_log), ["exec-ran"])
        self.assertEqual(exec_log.status, "FAILED")

        typed = self.client.exec_(self.cluster, {"run": "echo typed"})
        self.assertEqual(list(self.client.logs(self.cluster, typed["jobId"])), ["typed"])

        clusters = {c["name"]: c for c in self.client.status()}
        self.assertEqual(clusters[self.cluster]["status"], "UP")
        queue = {j["id"]: j["status"] for j in self.client.queue(self.cluster)}
        self.assertEqual(queue[job], "SUCCEEDED")
        self.assertEqual(queue[exec_job], "FAILED")

        self.assertEqual(self.client.down(self.cluster)["status"], "TERMINATED")
        self.assertNotIn(self.cluster, [c["name"] for c in self.client.status()])
        with self.assertRaises(SkyError) as caught:
            self.client.cluster(self.cluster)
        self.assertEqual((caught.exception.code, caught.exception.status), ("CLUSTER_NOT_FOUND", 404))


@support.needs_local
class LiveRequestTest(unittest.TestCase):
    def setUp(self) -> None:
        self.client = Client()

    def test_failed_request_raises_its_error(self) -> None:
        with self.assertRaises(SkyError) as caught:
            self.client.down("py-never-launched")
        self.assertEqual(caught.exception.code, "CLUSTER_NOT_FOUND")
        self.assertTrue(caught.exception.hint)
        with self.assertRaises(SkyError) as caught:
            self.client.exec_("py-never-launched", {"run": "true"})
        self.assertEqual(caught.exception.code, "CLUSTER_NOT_FOUND")

    def test_validation_error_carries_status(self) -> None:
        with self.assertRaises(SkyError) as caught:
            self.client.submit("launch", {"task": {"run": "true"}, "cluster": "0-not a name"})
        self.assertEqual((caught.exception.code, caught.exception.status), ("VALIDATION_FAILED", 400))
        with self.assertRaises(SkyError) as caught:
            self.client.get("no-such-request")
        self.assertEqual((caught.exception.code, caught.exception.status), ("REQUEST_NOT_FOUND", 404))

    def test_cancel_and_wait_timeout(self) -> None:
        request_id = self.client.submit("ping", {"sleep": 30})
        pending = self.client.wait(request_id, timeout=0.5)
        self.assertIn(pending["status"], ("PENDING", "RUNNING"))
        answer = self.client.cancel(request_id)
        self.assertEqual(answer["cancelled"], [request_id])
        self.assertEqual(self.client.wait(request_id)["status"], "CANCELLED")
        with self.assertRaises(SkyError) as caught:
            self.client.result(request_id)
        self.assertEqual(caught.exception.code, "CANCELLED")

    def test_request_log_stream(self) -> None:
        request_id = self.client.submit("ping", {"sleep": 1})
        stream = self.client.stream_logs(request_id)
        lines = list(stream)
        self.assertEqual(stream.status, "SUCCEEDED")
        self.assertTrue(lines, "a sleeping ping logs once a second")
        self.assertTrue(self.client.result(request_id)["pong"])


@support.needs_local
class LiveManagedJobTest(unittest.TestCase):
    def test_managed_job(self) -> None:
        client = Client()
        launched = client.jobs_launch({"run": "echo managed hello"}, name="py-managed")
        job_id = launched["jobId"]
        stream = client.job_logs(job_id)
        self.assertIn("managed hello", list(stream))
        self.assertEqual(stream.status, "SUCCEEDED")
        self.assertEqual(client.jobs_wait(job_id, timeout=60)["status"], "SUCCEEDED")
        self.assertIn(job_id, [j["id"] for j in client.jobs_queue()])

        sleeper = client.jobs_launch({"run": "sleep 600"}, name="py-sleeper")["jobId"]
        cancelled = client.jobs_cancel([sleeper])
        self.assertEqual(cancelled["cancelled"], [sleeper])
        self.assertEqual(client.jobs_wait(sleeper, timeout=60)["status"], "CANCELLED")
        with self.assertRaises(SkyError) as caught:
            client.jobs_get(999999)
        self.assertEqual((caught.exception.code, caught.exception.status), ("MANAGED_JOB_NOT_FOUND", 404))


if __name__ == "__main__":
    unittest.main()
