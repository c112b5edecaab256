"""The error type every layer raises to end a program with a message and an exit code."""


class RootlessKitError(Exception):
    """A fatal error: printed as `[rootlesskit:<role>] error: <message>`, exit status `code`."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def __str__(self) -> str:
        return self.message

