"""Airflow operators for sky, built on the sky_client package.

``sky_airflow.operators`` holds the work and imports nothing from Airflow (so it is tested
without it); ``sky_airflow.adapter`` turns it into Airflow operators where Airflow is installed.
"""

from .operators import SkyJobOperator, SkyLaunchOperator

__all__ = ["SkyJobOperator", "SkyLaunchOperator"]
