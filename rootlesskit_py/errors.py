"""The error type every layer raises to end a program with a message and an exit code."""


class RootlessKitError(Exception):
    """A fatal error: printed as `[rootlesskit:<role>] error: <message>`, exit status `code`."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def __str__(self) -> str:
        return self.message



def describe(error: BaseException) -> str:
    """The text for an error no layer turned into a RootlessKitError: for an OSError Go's PathError
    shape (`/proc/self/mountinfo: permission denied`), else the exception's type and text, so the
    program still ends with one line instead of a traceback."""
    if isinstance(error, RootlessKitError):
        return error.message
    if isinstance(error, OSError):
        from rootlesskit_py.util.gocompat import strerror

        return f"{error.filename}: {strerror(error)}" if error.filename else strerror(error)
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
