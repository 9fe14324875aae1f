"""The sky operators as Airflow operators, where Airflow is installed.

Each class subclasses Airflow's ``BaseOperator`` and the plain operator of
:mod:`sky_airflow.operators`, which does the work in ``execute(context)``. Without Airflow the
plain operators are exported under the same names, so a DAG file imports from here either way.
"""

from typing import Tuple

from .operators import SkyJobOperator as _PlainJob
from .operators import SkyLaunchOperator as _PlainLaunch

try:
    from airflow.models.baseoperator import BaseOperator
except ImportError:  # Airflow is not installed: the plain operators stand in.
    AIRFLOW = False
    SkyLaunchOperator = _PlainLaunch
    SkyJobOperator = _PlainJob
else:
    AIRFLOW = True

    class SkyLaunchOperator(_PlainLaunch, BaseOperator):  # type: ignore[no-redef,misc]
        """Airflow operator: launch a task on a cluster and follow its job (see the plain operator)."""

        template_fields: Tuple[str, ...] = ("cluster", "sky_task")
        ui_color = "#d6e4ff"

    class SkyJobOperator(_PlainJob, BaseOperator):  # type: ignore[no-redef,misc]
        """Airflow operator: run a managed job to its end (see the plain operator)."""

        template_fields: Tuple[str, ...] = ("job_name", "sky_task")
        ui_color = "#d6f5e3"

__all__ = ["AIRFLOW", "SkyJobOperator", "SkyLaunchOperator"]
