"""Endpoint and credential resolution, as the sky CLI resolves them (no daemon needed)."""

import base64
import os
import shutil
import tempfile
import unittest

import support  # noqa: F401 - puts sky_client on the path

from sky_client import Client, SkyError, parse_config, resolve_endpoint
from sky_client.config import read_local_token, user_id


class ConfigHome(unittest.TestCase):
    def setUp(self) -> None:
        self.home = tempfile.mkdtemp(prefix="sky-py-home-")
        os.makedirs(os.path.join(self.home, ".sky"))

    def tearDown(self) -> None:
        shutil.rmtree(self.home, ignore_errors=True)

    def write(self, text: str) -> None:
        with open(os.path.join(self.home, ".sky", "config.yaml"), "w", encoding="utf-8") as handle:
            handle.write(text)

    def resolve(self, **env: str):
        return resolve_endpoint(support.clean_env(HOME=self.home, **env), self.home)


class YamlSubsetTest(unittest.TestCase):
    def test_reads_what_the_cli_writes(self) -> None:
        root = parse_config(
            "# written by sky api login\n"
            "active_workspace: team-a  # default workspace\n"
            "api_server:\n"
            "  endpoint: 'http://bob:p#w@10.0.0.1:46580'\n"
            '  token: "skt_abc\\u0041"\n'
            "  ca_file: ~/.sky/ca.pem\n"
            "jobs:\n"
            "  controller: {resources: {cpus: 2}}\n"
            "  list:\n"
            "    - a\n",
            "config.yaml",
        )
        self.assertEqual(root["active_workspace"][0], "team-a")
        section = root["api_server"]
        self.assertEqual(section["endpoint"][0], "http://bob:p#w@10.0.0.1:46580")
        self.assertEqual(section["token"][0], "skt_abcA")
        self.assertEqual(section["ca_file"], ("~/.sky/ca.pem", "string", 6))

    def test_refuses_what_it_cannot_read_under_api_server(self) -> None:
        with self.assertRaises(SkyError) as caught:
            parse_config("api_server:\n  endpoint: {url: x}\n", "c.yaml")
        self.assertEqual(caught.exception.code, "CONFIG_INVALID")
        self.assertIn("c.yaml line 2", caught.exception.message)
        with self.assertRaises(SkyError):
            parse_config("- a\n- b\n", "c.yaml")


class ResolutionTest(ConfigHome):
    def test_default_endpoint(self) -> None:
        ep = self.resolve()
        self.assertEqual(ep.url, "http://127.0.0.1:46580")
        self.assertEqual(ep.auth, "none")
        self.assertTrue(ep.local)

    def test_config_file_then_environment(self) -> None:
        self.write("api_server:\n  endpoint: https://alice:s3cret@sky.example.com:8443/base/\n  ca_file: team-ca.pem\n")
        ep = self.resolve()
        self.assertEqual(ep.url, "https://sky.example.com:8443/base")
        self.assertEqual(ep.base_path, "/base")
        self.assertEqual(ep.port, 8443)
        self.assertEqual(ep.authorization, "Basic " + base64.b64encode(b"alice:s3cret").decode())
        self.assertEqual(ep.ca_file, os.path.join(self.home, ".sky", "team-ca.pem"))
        self.assertIn("config.yaml line 2", ep.source)
        ep = self.resolve(SKYPILOT_API_SERVER_ENDPOINT="http://127.0.0.2:1234")
        self.assertEqual((ep.url, ep.auth, ep.source), ("http://127.0.0.2:1234", "none", "$SKYPILOT_API_SERVER_ENDPOINT"))

    def test_token_beats_url_credentials(self) -> None:
        self.write("api_server:\n  endpoint: http://alice:pw@h:1\n  token: skt_fromconfig\n")
        self.assertEqual(self.resolve().authorization, "Bearer skt_fromconfig")
        self.assertEqual(self.resolve(SKYPILOT_API_SERVER_TOKEN="skt_env").authorization, "Bearer skt_env")
        self.assertEqual(Client(token="skt_arg", env=support.clean_env(HOME=self.home), home=self.home).endpoint.authorization, "Bearer skt_arg")

    def test_bad_values_name_where_they_are(self) -> None:
        self.write("api_server:\n  endpoint: 46580\n")
        with self.assertRaises(SkyError) as caught:
            self.resolve()
        self.assertEqual(caught.exception.code, "CONFIG_INVALID")
        self.assertIn("line 2 (api_server.endpoint): must be a URL string, got number", caught.exception.message)
        with self.assertRaises(SkyError) as caught:
            self.resolve(SKYPILOT_API_SERVER_ENDPOINT="ftp://h")
        self.assertIn("$SKYPILOT_API_SERVER_ENDPOINT", caught.exception.message)
        self.write("active_workspace: Not A Name\n")
        with self.assertRaises(SkyError) as caught:
            self.resolve()
        self.assertIn("active_workspace", caught.exception.message)

    def test_identity_and_local_token_files(self) -> None:
        first = user_id(self.home)
        self.assertRegex(first, r"^[0-9a-f]{8}$")
        self.assertEqual(user_id(self.home), first)
        self.assertIsNone(read_local_token(self.home))


class UnreachableTest(ConfigHome):
    def test_connection_refused_is_server_unreachable(self) -> None:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        client = Client("http://127.0.0.1:{}".format(port), env=support.clean_env(HOME=self.home), home=self.home)
        with self.assertRaises(SkyError) as caught:
            client.whoami()
        self.assertEqual(caught.exception.code, "SERVER_UNREACHABLE")
        self.assertEqual(caught.exception.details["reason"], "ECONNREFUSED")


@support.needs_team
class ConfigFileAgainstTeamDaemon(ConfigHome):
    """A temp HOME whose ~/.sky/config.yaml names the team daemon, as sky api login leaves it."""

    def test_basic_auth_from_config_file(self) -> None:
        url = support.with_credentials(support.TEAM_URL, support.TEAM_USER, support.TEAM_PASSWORD)
        self.write("api_server:\n  endpoint: {}\n".format(url))
        client = Client(env=support.clean_env(HOME=self.home), home=self.home)
        self.assertEqual(client.endpoint.url, support.TEAM_URL)
        me = client.whoami()
        self.assertEqual((me["name"], me["via"]), (support.TEAM_USER, "basic"))

    def test_token_from_config_file(self) -> None:
        admin = Client(support.with_credentials(support.TEAM_URL, support.TEAM_USER, support.TEAM_PASSWORD), env=support.clean_env(HOME=self.home), home=self.home)
        created = admin.transport.json("POST", "/api/v1/tokens", body={"name": "py-config-test"})
        self.write("api_server:\n  endpoint: {}\n  token: {}\n".format(support.TEAM_URL, created["token"]))
        me = Client(env=support.clean_env(HOME=self.home), home=self.home).whoami()
        self.assertEqual((me["name"], me["via"]), (support.TEAM_USER, "token"))
        self.write("api_server:\n  endpoint: {}\n  token: skt_not_a_real_token\n".format(support.TEAM_URL))
        with self.assertRaises(SkyError) as caught:
            Client(env=support.clean_env(HOME=self.home), home=self.home).whoami()
        self.assertEqual((caught.exception.code, caught.exception.status), ("UNAUTHENTICATED", 401))

    def test_wrong_password_is_unauthenticated(self) -> None:
        client = Client(support.with_credentials(support.TEAM_URL, support.TEAM_USER, "wrong-password"), env=support.clean_env(HOME=self.home), home=self.home)
        with self.assertRaises(SkyError) as caught:
            client.whoami()
        self.assertEqual(caught.exception.code, "UNAUTHENTICATED")
        self.assertEqual(caught.exception.status, 401)
        self.assertTrue(caught.exception.message)
        self.assertNotIn("wrong-password", str(caught.exception))


@support.needs_tls
class CaFileAgainstHttpsDaemon(ConfigHome):
    """api_server.ca_file verifies an https endpoint; a certificate no trusted CA signed is refused."""

    def test_ca_file_from_config(self) -> None:
        url = support.with_credentials(support.TLS_URL, support.TEAM_USER, support.TEAM_PASSWORD)
        shutil.copy(support.TLS_CA, os.path.join(self.home, ".sky", "team-ca.pem"))
        self.write("api_server:\n  endpoint: {}\n  ca_file: team-ca.pem\n".format(url))
        client = Client(env=support.clean_env(HOME=self.home), home=self.home)
        self.assertEqual(client.endpoint.ca_file, os.path.join(self.home, ".sky", "team-ca.pem"))
        self.assertEqual(client.whoami()["name"], support.TEAM_USER)

    def test_untrusted_certificate_is_refused(self) -> None:
        url = support.with_credentials(support.TLS_URL, support.TEAM_USER, support.TEAM_PASSWORD)
        for ca in (None, support.TLS_OTHER_CA):
            env = support.clean_env(HOME=self.home, SKYPILOT_API_SERVER_ENDPOINT=url)
            if ca is not None:
                env["SKYPILOT_API_SERVER_CA"] = ca
            with self.assertRaises(SkyError) as caught:
                Client(env=env, home=self.home).whoami()
            self.assertEqual(caught.exception.code, "SERVER_CERT_INVALID")
            self.assertNotIn(support.TEAM_PASSWORD, str(caught.exception))


if __name__ == "__main__":
    unittest.main()
