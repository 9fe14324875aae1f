"""HTTP to the API server with http.client: one place for headers, TLS, timeouts and errors."""

import http.client
import json
import socket
import ssl
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple
from urllib.parse import quote, urlencode

from .config import Endpoint, read_local_token
from .errors import SkyError

API_VERSION = 1
API_VERSION_HEADER = "x-sky-api-version"
USER_NAME_HEADER = "x-sky-user-name"
USER_ID_HEADER = "x-sky-user-id"
LOCAL_TOKEN_HEADER = "x-sky-local-token"
WORKSPACE_HEADER = "x-sky-workspace"
IDEMPOTENCY_KEY_HEADER = "idempotency-key"

Query = Mapping[str, Any]


def fill_path(template: str, **params: Any) -> str:
    """Fill a ``:param`` route template, URL-encoding each value."""
    out = template
    for key, value in params.items():
        out = out.replace(":" + key, quote(str(value), safe=""))
    return out


def _query_string(query: Optional[Query]) -> str:
    pairs = []
    for key, value in (query or {}).items():
        if value is None:
            continue
        pairs.append((key, ("true" if value else "false") if isinstance(value, bool) else str(value)))
    return "" if not pairs else "?" + urlencode(pairs)


class Transport:
    """Sends calls to one endpoint as one user; every failure becomes a :class:`SkyError`."""

    def __init__(self, endpoint: Endpoint, user_name: str, user_id: str, home: str, connect_timeout: float = 5.0) -> None:
        self.endpoint = endpoint
        self._identity = {USER_NAME_HEADER: user_name, USER_ID_HEADER: user_id}
        self._home = home
        self._connect_timeout = connect_timeout
        # The local token proves to a personal daemon that this is its owner's account: it goes
        # to loopback endpoints without other credentials only, never to a team server.
        self._uses_local_token = endpoint.local and endpoint.auth == "none"
        self._local_token = read_local_token(home) if self._uses_local_token else None
        self._ssl: Optional[ssl.SSLContext] = None

    def _context(self) -> ssl.SSLContext:
        if self._ssl is None:
            ca = self.endpoint.ca_file
            if ca is not None:
                try:
                    with open(ca, "rb") as handle:
                        pem = handle.read()
                except OSError as err:
                    raise SkyError("CONFIG_INVALID", "cannot read the CA bundle {}: {}".format(ca, err.strerror), hint="Point api_server.ca_file (or $SKYPILOT_API_SERVER_CA) at the PEM certificate of the CA that signed the API server's certificate.")
                if b"-----BEGIN CERTIFICATE-----" not in pem:
                    raise SkyError("CONFIG_INVALID", "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)".format(ca), hint="Point api_server.ca_file at a PEM file.")
            self._ssl = ssl.create_default_context(cafile=ca)
        return self._ssl

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        host, port = self.endpoint.host, self.endpoint.port
        if self.endpoint.scheme == "https":
            return http.client.HTTPSConnection(host, port, timeout=timeout, context=self._context())
        return http.client.HTTPConnection(host, port, timeout=timeout)

    def _headers(self, body: Optional[bytes], accept: str, extra: Optional[Mapping[str, str]]) -> Dict[str, str]:
        headers = {"accept": accept, API_VERSION_HEADER: str(API_VERSION)}
        headers.update(self._identity)
        if self.endpoint.authorization is not None:
            headers["authorization"] = self.endpoint.authorization
        if self._local_token is not None:
            headers[LOCAL_TOKEN_HEADER] = self._local_token
        if body is not None:
            headers["content-type"] = "application/json"
        headers.update(extra or {})
        return headers

    def open(
        self,
        method: str,
        path: str,
        query: Optional[Query] = None,
        body: Any = None,
        headers: Optional[Mapping[str, str]] = None,
        timeout: float = 60.0,
        accept: str = "application/json",
    ) -> Tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        """Send a call; returns the open connection and its 2xx response, whose body the caller reads."""
        sent = self._local_token
        try:
            return self._attempt(method, path, query, body, headers, timeout, accept)
        except SkyError as err:
            # A personal daemon that made a new local token (or was restarted): read it again, retry once.
            if err.code != "UNAUTHENTICATED" or not self._uses_local_token:
                raise
            self._local_token = read_local_token(self._home)
            if self._local_token is None or self._local_token == sent:
                raise
            return self._attempt(method, path, query, body, headers, timeout, accept)

    def _attempt(
        self,
        method: str,
        path: str,
        query: Optional[Query],
        body: Any,
        headers: Optional[Mapping[str, str]],
        timeout: float,
        accept: str,
    ) -> Tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        data = None if body is None else json.dumps(body).encode("utf-8")
        target = self.endpoint.base_path + path + _query_string(query)
        conn = self._connection(self._connect_timeout)
        try:
            conn.connect()
            if conn.sock is not None:
                conn.sock.settimeout(timeout)
            conn.request(method, target, body=data, headers=self._headers(data, accept, headers))
            res = conn.getresponse()
        except SkyError:
            conn.close()
            raise
        except ssl.SSLCertVerificationError as err:
            conn.close()
            raise SkyError(
                "SERVER_CERT_INVALID",
                "the API server's certificate at {} was rejected: {}".format(self.endpoint.url, err.verify_message or err.reason),
                hint="Point api_server.ca_file in ~/.sky/config.yaml (or $SKYPILOT_API_SERVER_CA) at the PEM certificate of the CA that signed it.",
            )
        except (OSError, http.client.HTTPException) as err:
            conn.close()
            raise self._unreachable(err)
        try:
            self._check(res, method, path)
        except BaseException:
            conn.close()
            raise
        return conn, res

    def _check(self, res: http.client.HTTPResponse, method: str, path: str) -> None:
        version = res.getheader(API_VERSION_HEADER)
        if version is not None and version != str(API_VERSION):
            res.read()
            fix = "upgrade the API server" if version.isdigit() and API_VERSION > int(version) else "upgrade this client"
            raise SkyError(
                "VERSION_MISMATCH",
                "this client speaks API v{} but the API server at {} speaks v{}: {}".format(API_VERSION, self.endpoint.url, version, fix),
                hint="Use a client and API server that speak the same API version.",
                details={"client": API_VERSION, "server": version},
            )
        if 200 <= res.status < 300:
            return
        text = res.read().decode("utf-8", "replace")
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
            info = parsed["error"]
            if isinstance(info.get("code"), str) and isinstance(info.get("message"), str):
                raise SkyError.from_info(info, status=res.status)
        raise SkyError(
            "INTERNAL",
            "the API server at {} answered {} {} with HTTP {}".format(self.endpoint.url, method, path, res.status),
            hint="Check that the endpoint points at a sky API server.",
            status=res.status,
            details={"status": res.status},
        )

    def _unreachable(self, err: BaseException) -> SkyError:
        url = self.endpoint.url
        if isinstance(err, ConnectionRefusedError):
            reason, code = "connection refused", "ECONNREFUSED"
        elif isinstance(err, socket.timeout):
            reason, code = "no answer in time", "ETIMEDOUT"
        elif isinstance(err, socket.gaierror):
            reason, code = "host not found", "ENOTFOUND"
        elif isinstance(err, ssl.SSLError):
            reason, code = "TLS failed: {}".format(err.reason), "TLS"
        else:
            reason, code = str(err) or type(err).__name__, type(err).__name__
        hint = (
            "Start it with: sky api start"
            if self.endpoint.local
            else "Check that the API server is up and that {} names it; a remote API server is never started automatically.".format(self.endpoint.source)
        )
        return SkyError("SERVER_UNREACHABLE", "cannot reach API server at {} ({})".format(url, reason), hint=hint, details={"reason": code})

    def json(
        self,
        method: str,
        path: str,
        query: Optional[Query] = None,
        body: Any = None,
        headers: Optional[Mapping[str, str]] = None,
        timeout: float = 60.0,
    ) -> Any:
        """Send a call and parse its JSON answer."""
        conn, res = self.open(method, path, query, body, headers, timeout)
        try:
            text = res.read()
        except (OSError, http.client.HTTPException) as err:
            raise self._unreachable(err)
        finally:
            conn.close()
        try:
            return json.loads(text.decode("utf-8"))
        except ValueError:
            raise SkyError("INTERNAL", "the API server at {} answered {} with invalid JSON".format(self.endpoint.url, path), hint="Check that the endpoint points at a sky API server.")

    def events(self, path: str, query: Optional[Query] = None, idle_timeout: float = 45.0) -> Iterator[Tuple[str, str]]:
        """Server-sent events of a stream as ``(event, data)`` pairs, until the server ends it.

        The daemon sends a heartbeat comment every 10 s, so ``idle_timeout`` without a byte means
        a dead connection (SERVER_UNREACHABLE), never a quiet job.
        """
        conn, res = self.open("GET", path, query, timeout=idle_timeout, accept="text/event-stream")
        event = ""
        data: List[str] = []
        try:
            while True:
                try:
                    raw = res.readline()
                except (OSError, http.client.HTTPException) as err:
                    raise self._unreachable(err)
                if raw == b"":
                    return
                line = raw.decode("utf-8").rstrip("\r\n")
                if line == "":
                    if data:
                        yield (event or "message", "\n".join(data))
                    event, data = "", []
                elif line.startswith(":"):
                    continue
                else:
                    field, _, value = line.partition(":")
                    value = value[1:] if value.startswith(" ") else value
                    if field == "event":
                        event = value
                    elif field == "data":
                        data.append(value)
        finally:
            conn.close()
