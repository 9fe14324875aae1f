"""sky_client: a Python client for the sky API server's REST API, standard library only.

    from sky_client import Client, SkyError

    client = Client()  # endpoint and credentials resolved as the sky CLI resolves them
    result = client.launch({"run": "echo hello"}, cluster="dev")
    for line in client.logs("dev", result["jobId"]):
        print(line)
    client.down("dev")
"""

from .client import MANAGED_JOB_TERMINAL, TERMINAL_STATUSES, Client, LogStream
from .config import Endpoint, parse_config, resolve_endpoint
from .errors import SkyError

__all__ = [
    "Client",
    "Endpoint",
    "LogStream",
    "MANAGED_JOB_TERMINAL",
    "SkyError",
    "TERMINAL_STATUSES",
    "parse_config",
    "resolve_endpoint",
]
__version__ = "0.1.0"
