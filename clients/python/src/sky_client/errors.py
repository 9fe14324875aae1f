"""The one error type of the client: the API server's error model, carried over to Python."""

from typing import Any, Dict, Optional


class SkyError(Exception):
    """An error with a stable code from the API server's catalogue (CLUSTER_NOT_FOUND, ...).

    Errors the server answered keep its ``code``, ``message``, ``hint`` and ``details`` and
    the HTTP ``status``; errors found on this side (the server cannot be reached, a bad
    ``~/.sky/config.yaml``) use the same codes the sky CLI uses, with ``status`` None.
    """

    def __init__(
        self,
        code: str,
        message: str,
        hint: Optional[str] = None,
        status: Optional[int] = None,
        details: Optional[Dict[str, Any]] = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint
        self.status = status
        self.details = details or {}

    def __str__(self) -> str:
        text = "{}: {}".format(self.code, self.message)
        return text if self.hint is None else "{}\nhint: {}".format(text, self.hint)

    def __repr__(self) -> str:
        return "SkyError(code={!r}, message={!r}, status={!r})".format(self.code, self.message, self.status)

    @classmethod
    def from_info(cls, info: Any, status: Optional[int] = None) -> "SkyError":
        """Build from an error object ``{code, message, hint?, details?}`` (a body's or a request's)."""
        if not isinstance(info, dict):
            return cls("INTERNAL", "the API server sent an error without a body", status=status)
        details = info.get("details")
        return cls(
            str(info.get("code", "INTERNAL")),
            str(info.get("message", "")),
            hint=info.get("hint") if isinstance(info.get("hint"), str) else None,
            status=status,
            details=details if isinstance(details, dict) else None,
        )
