"""Each operator's execute(context) against the real personal daemon, with a context dict as
Airflow would pass one (run by test/integration/python-client.test.ts)."""

import os
import sys
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
for path in (os.path.join(REPO, "clients", "python", "src"), os.path.dirname(HERE)):
    if path not in sys.path:
        sys.path.insert(0, path)

from sky_client import Client, SkyError  # noqa: E402

from sky_airflow import adapter  # noqa: E402
from sky_airflow.operators import SkyJobOperator, SkyLaunchOperator  # noqa: E402

LOCAL_URL = os.environ.get("SKY_TEST_LOCAL_URL", "")


def context() -> dict:
    run = uuid.uuid4().hex[:6]
    return {"ds": "2026-01-01", "ds_nodash": "20260101", "run_id": "manual__" + run, "short": run}


@unittest.skipUnless(LOCAL_URL, "no personal daemon (run through test/integration/python-client.test.ts)")
class OperatorTest(unittest.TestCase):
    def test_adapter_without_airflow_exports_the_plain_operators(self) -> None:
        if adapter.AIRFLOW:
            self.skipTest("Airflow is installed here")
        self.assertIs(adapter.SkyLaunchOperator, SkyLaunchOperator)
        self.assertIs(adapter.SkyJobOperator, SkyJobOperator)

    def test_launch_operator_runs_the_task_and_tears_down(self) -> None:
        ctx = context()
        op = SkyLaunchOperator(task_id="prepare", cluster="af-{ds_nodash}-{short}", task={"run": "echo prepared"}, down=True)
        with self.assertLogs("sky_airflow", level="INFO") as logs:
            out = op.execute(ctx)
        cluster = "af-20260101-" + ctx["short"]
        self.assertEqual(out, {"cluster": cluster, "job_id": 1, "status": "SUCCEEDED"})
        self.assertIn("prepared", [r.getMessage() for r in logs.records])
        self.assertNotIn(cluster, [c["name"] for c in Client().status()])

    def test_launch_operator_fails_with_the_job(self) -> None:
        ctx = context()
        op = SkyLaunchOperator(task_id="bad", cluster="af-bad-{short}", task={"run": "echo failing; exit 2"}, down=True)
        with self.assertRaises(SkyError) as caught:
            op.execute(ctx)
        self.assertEqual(caught.exception.code, "OPERATION_FAILED")
        self.assertIn("FAILED", caught.exception.message)
        self.assertNotIn("af-bad-" + ctx["short"], [c["name"] for c in Client().status()])

    def test_job_operator_runs_a_managed_job(self) -> None:
        ctx = context()
        op = SkyJobOperator(task_id="train", name="train-{short}", task={"run": "echo trained"}, client_factory=Client)
        with self.assertLogs("sky_airflow", level="INFO") as logs:
            out = op.execute(ctx)
        self.assertEqual(out["status"], "SUCCEEDED")
        self.assertIn("trained", [r.getMessage() for r in logs.records])
        job = Client().jobs_get(out["job_id"])["job"]
        self.assertEqual((job["status"], job.get("name")), ("SUCCEEDED", "train-" + ctx["short"]))

    def test_job_operator_on_kill_cancels(self) -> None:
        client = Client()
        op = SkyJobOperator(task_id="sleeper", task={"run": "sleep 600"})
        op.job_id = client.jobs_launch({"run": "sleep 600"})["jobId"]
        op.on_kill()
        self.assertEqual(client.jobs_wait(op.job_id, timeout=60)["status"], "CANCELLED")

    def test_unknown_argument_is_refused(self) -> None:
        with self.assertRaises(TypeError):
            SkyJobOperator(task_id="x", task={"run": "true"}, retries_typo=3)


if __name__ == "__main__":
    unittest.main()
