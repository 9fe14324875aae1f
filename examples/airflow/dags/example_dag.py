"""An example DAG: prepare data on a cluster, then train as a managed job.

Install sky_client and sky_airflow where the Airflow scheduler and workers run (see the README),
and point them at the API server with ~/.sky/config.yaml or $SKYPILOT_API_SERVER_ENDPOINT.
"""

from datetime import datetime

from airflow import DAG

from sky_airflow.adapter import SkyJobOperator, SkyLaunchOperator

with DAG(dag_id="sky_example", start_date=datetime(2026, 1, 1), schedule=None, catchup=False, tags=["sky"]) as dag:
    prepare = SkyLaunchOperator(
        task_id="prepare",
        cluster="prep-{{ ds_nodash }}",
        task={"name": "prepare", "resources": {"cpus": 1}, "run": "echo preparing data for {{ ds }}"},
        down=True,
    )
    train = SkyJobOperator(
        task_id="train",
        name="train-{{ ds_nodash }}",
        task={"name": "train", "resources": {"cpus": 2}, "run": "echo training; sleep 5; echo done"},
    )
    prepare >> train
