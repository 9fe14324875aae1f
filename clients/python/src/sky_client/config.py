"""Where the API server is and who this client is: resolved exactly as the sky CLI resolves them.

Endpoint: ``$SKYPILOT_API_SERVER_ENDPOINT``, then ``api_server.endpoint`` of ``~/.sky/config.yaml``,
then ``http://127.0.0.1:46580``. Credentials in the URL (``http://user:password@host``) are sent as
basic auth; a bearer token (``$SKYPILOT_API_SERVER_TOKEN``, then ``api_server.token``, which
``sky api login --token`` writes) is sent instead of them. A CA bundle for https comes from
``$SKYPILOT_API_SERVER_CA``, then ``api_server.ca_file``. ``active_workspace`` names the default
workspace. A personal daemon on loopback, reached without credentials, gets the local token
from ``~/.sky/api_server/local_token``.

There is no YAML library in the standard library, so ``config.yaml`` is read with a small parser
for the subset the CLI writes: top-level ``key: value`` lines and blocks of indented ones,
plain or quoted scalars, comments and blank lines. Anything else under ``api_server`` (flow
collections, anchors, multi-line scalars) is reported as CONFIG_INVALID with its line; other
top-level blocks are skipped unread.
"""

import base64
import getpass
import os
import re
import secrets
from typing import Dict, Mapping, NamedTuple, Optional, Tuple
from urllib.parse import unquote, urlsplit

from .errors import SkyError

ENDPOINT_ENV = "SKYPILOT_API_SERVER_ENDPOINT"
TOKEN_ENV = "SKYPILOT_API_SERVER_TOKEN"
CA_ENV = "SKYPILOT_API_SERVER_CA"
DEFAULT_ENDPOINT = "http://127.0.0.1:46580"

_WORKSPACE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_USER_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_LOCAL_TOKEN = re.compile(r"^skl_[A-Za-z0-9_-]{43}$")
_PRINTABLE = re.compile(r"^[\x21-\x7e]+$")


class ConfigValue(NamedTuple):
    """A string from the config file and where it was, for messages."""

    value: str
    where: str


class Endpoint(NamedTuple):
    """A resolved API server: its URL without credentials and what to send with each call."""

    url: str
    scheme: str
    host: str
    port: int
    base_path: str
    authorization: Optional[str]
    auth: str
    local: bool
    ca_file: Optional[str]
    source: str
    active_workspace: Optional[str]


# --- the YAML subset -------------------------------------------------------------------------


def _strip_comment(text: str) -> str:
    """Drop a trailing `` # comment`` that is outside quotes."""
    quote = ""
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"" and (i == 0 or text[i - 1] in " \t:"):
            quote = ch
        elif ch == "#" and (i == 0 or text[i - 1] in " \t"):
            return text[:i]
    return text


_DOUBLE_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "/": "/", "0": "\0", "r": "\r"}


def _scalar(raw: str, where: str) -> Tuple[object, str]:
    """A scalar's value and its YAML type name ('string', 'number', 'boolean', 'null')."""
    text = raw.strip()
    if text == "" or text in ("~", "null", "Null", "NULL"):
        return None, "null"
    if text[0] == '"':
        if len(text) < 2 or not text.endswith('"'):
            raise SkyError("CONFIG_INVALID", "{}: unterminated double-quoted string".format(where), hint="Close the quote on the same line.")
        out = []
        body = text[1:-1]
        i = 0
        while i < len(body):
            ch = body[i]
            if ch == "\\" and i + 1 < len(body):
                nxt = body[i + 1]
                if nxt in _DOUBLE_ESCAPES:
                    out.append(_DOUBLE_ESCAPES[nxt])
                    i += 2
                    continue
                if nxt == "u" and i + 5 < len(body):
                    out.append(chr(int(body[i + 2 : i + 6], 16)))
                    i += 6
                    continue
            out.append(ch)
            i += 1
        return "".join(out), "string"
    if text[0] == "'":
        if len(text) < 2 or not text.endswith("'"):
            raise SkyError("CONFIG_INVALID", "{}: unterminated single-quoted string".format(where), hint="Close the quote on the same line.")
        return text[1:-1].replace("''", "'"), "string"
    if text[0] in "[{&*!|>@`":
        raise SkyError(
            "CONFIG_INVALID",
            "{}: this client reads plain or quoted scalars only, not {!r}".format(where, text[:20]),
            hint="Write the value on one line, plain or in quotes (as sky api login writes it).",
        )
    if text in ("true", "True", "TRUE", "false", "False", "FALSE"):
        return text.lower() == "true", "boolean"
    if re.match(r"^[-+]?(\d[\d_]*(\.\d*)?|\.\d+)([eE][-+]?\d+)?$", text) or re.match(r"^0x[0-9a-fA-F]+$|^0o[0-7]+$", text):
        return text, "number"
    return text, "string"


def parse_config(text: str, file: str) -> Dict[str, object]:
    """Parse the YAML subset into ``{key: (value, type, line)}`` for top-level scalars and
    ``{key: {sub: (value, type, line)}}`` for blocks, keeping line numbers for messages.

    Only ``api_server`` and ``active_workspace`` are read strictly: what the CLI itself reads
    must not be misread, while other keys (the daemon's settings) may use any YAML.
    """
    root: Dict[str, object] = {}
    block: Optional[Dict[str, object]] = None
    block_key = ""
    block_indent: Optional[int] = None
    strict = ("api_server", "active_workspace")
    for number, line in enumerate(text.splitlines(), start=1):
        where = "{} line {}".format(file, number)
        content = _strip_comment(line).rstrip()
        if content.strip() == "" or content.strip() in ("---", "..."):
            continue
        indent = len(content) - len(content.lstrip(" "))
        stripped = content.strip()
        if indent == 0:
            block = None
            block_indent = None
            key, sep, rest = stripped.partition(":")
            if sep == "" or (rest != "" and not rest[0] in " \t") or key.startswith("-"):
                raise SkyError(
                    "CONFIG_INVALID",
                    "{}: the file must be a mapping of keys (e.g. \"api_server:\")".format(where),
                    hint="See sky.config.example.yaml for the layout.",
                )
            block_key = key.strip()
            if rest.strip() == "":
                block = {}
                root[block_key] = block
                continue
            try:
                value, kind = _scalar(rest, where)
            except SkyError:
                if block_key in strict:
                    raise
                value, kind = None, "other"
            root[block_key] = (value, kind, number)
            continue
        if block is None:
            if block_key == "":
                raise SkyError("CONFIG_INVALID", "{}: unexpected indentation".format(where), hint="Top-level keys start at column 1.")
            continue  # the continuation of a top-level value
        if block_indent is None:
            block_indent = indent
        if indent > block_indent:
            continue  # inside a nested key (any it names is refused below)
        if indent < block_indent or "\t" in line[:indent]:
            if block_key == "api_server":
                raise SkyError("CONFIG_INVALID", "{} (api_server): inconsistent indentation".format(where), hint="Indent every api_server setting by the same number of spaces.")
            continue
        key, sep, rest = stripped.partition(":")
        if sep == "" or (rest != "" and not rest[0] in " \t"):
            if block_key == "api_server":
                raise SkyError("CONFIG_INVALID", "{}: api_server must be a mapping".format(where), hint="Write it as \"api_server:\" followed by an indented \"endpoint: http://host:port\".")
            continue
        if block_key != "api_server":
            continue
        value, kind = _scalar(rest, where) if rest.strip() != "" else (None, "block")
        block[key.strip()] = (value, kind, number)
    return root


# --- resolution ------------------------------------------------------------------------------


def _read_api_server(file: str) -> Dict[str, ConfigValue]:
    """``api_server.endpoint``, ``.token``, ``.ca_file`` and ``active_workspace`` of the config file."""
    try:
        with open(file, "r", encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        return {}
    except OSError as err:
        raise SkyError("CONFIG_INVALID", "cannot read {}: {}".format(file, err.strerror), hint="Fix the file permissions or remove the file.")
    root = parse_config(text, file)
    out: Dict[str, ConfigValue] = {}
    workspace = root.get("active_workspace")
    if isinstance(workspace, tuple) and workspace[1] != "null":
        where = "{} line {} (active_workspace)".format(file, workspace[2])
        if workspace[1] != "string" or not _WORKSPACE.match(str(workspace[0])):
            raise SkyError(
                "CONFIG_INVALID",
                "{}: must be a workspace name (lowercase letters, digits, \"-\" or \"_\")".format(where),
                hint="Write it as active_workspace: NAME (see sky workspace list).",
            )
        out["active_workspace"] = ConfigValue(str(workspace[0]), where)
    section = root.get("api_server")
    if section is None:
        return out
    if isinstance(section, tuple):
        if section[1] == "null":
            return out
        raise SkyError(
            "CONFIG_INVALID",
            "{} line {}: api_server must be a mapping".format(file, section[2]),
            hint="Write it as \"api_server:\" followed by an indented \"endpoint: http://host:port\".",
        )
    assert isinstance(section, dict)
    examples = {
        "endpoint": ("a URL string", "endpoint: http://host:port"),
        "token": ("a string", "token: <the token sky users token create printed>"),
        "ca_file": ("a file path", "ca_file: ~/.sky/team-ca.pem"),
    }
    for key, (what, example) in examples.items():
        entry = section.get(key)
        if entry is None or entry[1] == "null":
            continue
        where = "{} line {} (api_server.{})".format(file, entry[2], key)
        if entry[1] != "string":
            got = "a nested block" if entry[1] == "block" else entry[1]
            raise SkyError("CONFIG_INVALID", "{}: must be {}, got {}".format(where, what, got), hint="Write it as {}".format(example))
        out[key] = ConfigValue(str(entry[0]), where)
    return out


def _config_path(value: str, home: str, base: str) -> str:
    """``~/`` is the home directory; a relative path is relative to ``base``."""
    text = value.strip()
    if text == "~":
        text = home
    elif text.startswith("~/"):
        text = os.path.join(home, text[2:])
    return text if os.path.isabs(text) else os.path.abspath(os.path.join(base, text))


def is_local_host(host: str) -> bool:
    """Loopback names and addresses: the machine this client runs on."""
    bare = host.strip("[]").lower()
    return bare in ("localhost", "::1") or re.match(r"^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$", bare) is not None


def parse_endpoint(
    raw: str,
    source: str,
    token: Optional[ConfigValue] = None,
    ca_file: Optional[str] = None,
    active_workspace: Optional[str] = None,
) -> Endpoint:
    """Parse an endpoint URL; credentials in it become basic auth unless a token is given."""
    text = raw.strip()
    masked = re.sub(r"//[^/@\s]*@", "//***@", text)
    try:
        parts = urlsplit(text)
        port_number = parts.port
    except ValueError:
        raise SkyError("CONFIG_INVALID", "{}: \"{}\" is not a URL".format(source, masked), hint="Use a URL like http://127.0.0.1:46580 (credentials, if any, go before the host: user:password@host).")
    if parts.scheme not in ("http", "https"):
        raise SkyError(
            "CONFIG_INVALID",
            "{}: the API server URL must start with http:// or https://, got {}://".format(source, parts.scheme),
            hint="Use a URL like http://127.0.0.1:46580.",
        )
    if not parts.hostname:
        raise SkyError("CONFIG_INVALID", "{}: \"{}\" is not a URL".format(source, masked), hint="Use a URL like http://127.0.0.1:46580.")
    authorization: Optional[str] = None
    auth = "none"
    if parts.username is not None or parts.password is not None:
        pair = "{}:{}".format(unquote(parts.username or ""), unquote(parts.password or ""))
        authorization = "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")
        auth = "basic"
    bearer = token.value.strip() if token is not None else ""
    if bearer != "":
        if not _PRINTABLE.match(bearer):
            raise SkyError(
                "CONFIG_INVALID",
                "{}: a token is printable ASCII without spaces".format(token.where if token else "the token"),
                hint="Copy the token exactly as sky users token create printed it.",
            )
        authorization = "Bearer " + bearer
        auth = "token"
    host = parts.hostname
    port = port_number if port_number is not None else (443 if parts.scheme == "https" else 80)
    base_path = parts.path.rstrip("/")
    netloc = parts.netloc.rpartition("@")[2]
    return Endpoint(
        url="{}://{}{}".format(parts.scheme, netloc, base_path),
        scheme=parts.scheme,
        host=host,
        port=port,
        base_path=base_path,
        authorization=authorization,
        auth=auth,
        local=is_local_host(host),
        ca_file=ca_file,
        source=source,
        active_workspace=active_workspace,
    )


def resolve_endpoint(
    env: Optional[Mapping[str, str]] = None,
    home: Optional[str] = None,
    endpoint: Optional[str] = None,
    token: Optional[str] = None,
) -> Endpoint:
    """The endpoint, credentials, CA bundle and active workspace this environment resolves to.

    ``endpoint`` and ``token``, when given (the Client's arguments), come first, as ``--endpoint``
    and ``--token`` would.
    """
    env = os.environ if env is None else env
    home = home_dir(env) if home is None else home
    sky_dir = os.path.join(home, ".sky")
    from_env = env.get(ENDPOINT_ENV, "")
    if endpoint is None and from_env.strip() != "":
        # A bad $SKYPILOT_API_SERVER_ENDPOINT is reported as such, before the config file is read.
        parse_endpoint(from_env, "$" + ENDPOINT_ENV)
    config = _read_api_server(os.path.join(sky_dir, "config.yaml"))
    bearer: Optional[ConfigValue] = None
    if token is not None and token.strip() != "":
        bearer = ConfigValue(token, "the token argument")
    elif env.get(TOKEN_ENV, "").strip() != "":
        bearer = ConfigValue(env[TOKEN_ENV], "$" + TOKEN_ENV)
    elif "token" in config and config["token"].value.strip() != "":
        bearer = config["token"]
    ca_file: Optional[str] = None
    if env.get(CA_ENV, "").strip() != "":
        ca_file = _config_path(env[CA_ENV], home, os.getcwd())
    elif "ca_file" in config and config["ca_file"].value.strip() != "":
        ca_file = _config_path(config["ca_file"].value, home, sky_dir)
    workspace = config["active_workspace"].value if "active_workspace" in config else None
    if endpoint is not None:
        return parse_endpoint(endpoint, "the endpoint argument", bearer, ca_file, workspace)
    if from_env.strip() != "":
        return parse_endpoint(from_env, "$" + ENDPOINT_ENV, bearer, ca_file, workspace)
    if "endpoint" in config:
        return parse_endpoint(config["endpoint"].value, config["endpoint"].where, bearer, ca_file, workspace)
    return parse_endpoint(DEFAULT_ENDPOINT, "the default endpoint", bearer, ca_file, workspace)


# --- identity --------------------------------------------------------------------------------


def home_dir(env: Optional[Mapping[str, str]] = None) -> str:
    """$HOME (as node's os.homedir() reads it), else the account's home."""
    env = os.environ if env is None else env
    home = env.get("HOME", "")
    return home if home != "" else os.path.expanduser("~")


def user_name(env: Optional[Mapping[str, str]] = None) -> str:
    """The login name, made safe for an HTTP header (printable ASCII, at most 64 characters)."""
    env = os.environ if env is None else env
    try:
        import pwd

        name = pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):
        name = env.get("USER") or env.get("LOGNAME") or ""
        if name == "":
            try:
                name = getpass.getuser()
            except Exception:  # noqa: BLE001 - no account name at all: fall back below
                name = ""
    cleaned = re.sub(r"[^\x20-\x7e]", "_", name)[:64]
    return cleaned or "unknown"


def _read_user_id(file: str) -> Optional[str]:
    try:
        with open(file, "r", encoding="utf-8") as handle:
            text = handle.read().strip()
    except FileNotFoundError:
        return None
    if not _USER_ID.match(text):
        raise SkyError("CONFIG_INVALID", "{} does not hold a user id (expected 8 hex characters)".format(file), hint="Delete {} to get a new user id.".format(file))
    return text


def user_id(home: str) -> str:
    """The caller's user id in ``~/.sky/user_hash``, shared with the CLI; created once if missing.

    Creation writes a private temp file and hard-links it into place, so concurrent first runs
    (of this client or the CLI) agree on one id.
    """
    sky_dir = os.path.join(home, ".sky")
    file = os.path.join(sky_dir, "user_hash")
    existing = _read_user_id(file)
    if existing is not None:
        return existing
    os.makedirs(sky_dir, exist_ok=True)
    tmp = "{}.{}.{}".format(file, os.getpid(), secrets.token_hex(4))
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(secrets.token_hex(4) + "\n")
    try:
        os.link(tmp, file)
    except FileExistsError:
        pass
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass
    made = _read_user_id(file)
    if made is None:
        raise SkyError("CONFIG_INVALID", "{} vanished while it was being created".format(file))
    return made


def read_local_token(home: str) -> Optional[str]:
    """The personal daemon's local token (None when missing or unreadable)."""
    try:
        with open(os.path.join(home, ".sky", "api_server", "local_token"), "r", encoding="utf-8") as handle:
            text = handle.read().strip()
    except OSError:
        return None
    return text if _LOCAL_TOKEN.match(text) else None
