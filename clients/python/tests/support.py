"""Shared by the tests: makes ``sky_client`` importable from the source tree and reads the
endpoints the Node runner (test/integration/python-client.test.ts) started."""

import os
import sys
import unittest
from typing import Dict

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
if SRC not in sys.path:
    sys.path.insert(0, SRC)

#: The personal daemon (local driver): its URL is $SKYPILOT_API_SERVER_ENDPOINT and $HOME is its home.
LOCAL_URL = os.environ.get("SKY_TEST_LOCAL_URL", "")
#: A team daemon with basic auth, its first admin's name and password.
TEAM_URL = os.environ.get("SKY_TEST_TEAM_URL", "")
TEAM_USER = os.environ.get("SKY_TEST_TEAM_USER", "")
TEAM_PASSWORD = os.environ.get("SKY_TEST_TEAM_PASSWORD", "")

#: A basic-auth team daemon serving HTTPS with a certificate of a throwaway CA (and a CA that did not sign it).
TLS_URL = os.environ.get("SKY_TEST_TLS_URL", "")
TLS_CA = os.environ.get("SKY_TEST_TLS_CA", "")
TLS_OTHER_CA = os.environ.get("SKY_TEST_TLS_OTHER_CA", "")

needs_local = unittest.skipUnless(LOCAL_URL, "no personal daemon (run through test/integration/python-client.test.ts)")
needs_tls = unittest.skipUnless(TLS_URL, "no HTTPS daemon (run through test/integration/python-client.test.ts; it needs openssl)")
needs_team = unittest.skipUnless(TEAM_URL, "no team daemon (run through test/integration/python-client.test.ts)")


def with_credentials(url: str, user: str, password: str) -> str:
    """The URL with user:password@ before its host."""
    scheme, _, rest = url.partition("://")
    return "{}://{}:{}@{}".format(scheme, user, password, rest)


def clean_env(**extra: str) -> Dict[str, str]:
    """The environment without any sky endpoint setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKYPILOT_API_SERVER_")}
    env.update(extra)
    return env
