"""`--version` and `--help` are answered before the interpreter starts (native/fixed_answers.h).

The reference is the same executable's interpreter: `rootlesskit-py NAME ARG` selects the program
by its first argument, which the C side never answers, so both paths run side by side in the same
namespace, for every answered name and argument and for every default of --lxc-user-nic-binary."""

from __future__ import annotations

import pytest

from conftest import BIN_DIR, run
from rootlesskit_py.network.lxc_user_nic import BINARY_PATHS

NAMES = {"rootlesskit": "rootlesskit", "docker-rootlesskit": "rootlesskit", "rootlessctl": "rootlessctl"}
ARGS = ["--version", "-v", "--help", "-h"]
# each default --lxc-user-nic-binary; None: none of upstream's paths exists
LXC_PATHS = [None, *BINARY_PATHS]
SEPARATOR = "\n=== interpreter ===\n"


@pytest.fixture
def names(tmp_path):
    for name, target in [*NAMES.items(), ("rootlesskit-py", "rootlesskit")]:
        (tmp_path / name).symlink_to(BIN_DIR / target)
    return tmp_path


@pytest.mark.parametrize("lxc", LXC_PATHS)
@pytest.mark.parametrize("name", NAMES)
def test_answer_is_what_the_interpreter_writes(binary, names, name, lxc):
    """/usr/libexec and /usr/lib are hidden under tmpfs in a mount namespace (busybox and the
    executable are static), then only `lxc` is created: every variant of rootlesskit's help is chosen
    as the Python side chooses it."""
    create = f"busybox mkdir -p {lxc.rsplit('/', 1)[0]} && busybox touch {lxc} &&" if lxc else ""
    # the answered side runs without /proc, where the interpreter could not start: it must be C's answer
    checks = " ".join(f'busybox mount -t tmpfs none /proc && {{ {names}/{name} {arg}; echo "exit=$?"; busybox umount /proc; }}; '
                      f'echo "{SEPARATOR}"; '
                      f'{names}/rootlesskit-py {name} {arg}; echo "exit=$?"; echo "{SEPARATOR}";' for arg in ARGS)
    script = f"busybox mount -t tmpfs none /usr/libexec && busybox mount -t tmpfs none /usr/lib && {create} {checks}"
    result = run(["unshare", "-Urm", "/bin/busybox", "sh", "-c", script])
    assert result.returncode == 0 and result.stderr == "", result
    parts = result.stdout.split(f"{SEPARATOR}\n")[:-1]
    assert len(parts) == 2 * len(ARGS), result.stdout
    for arg, answered, interpreted in zip(ARGS, parts[::2], parts[1::2]):
        assert answered == interpreted, (name, arg)
        assert answered.endswith("exit=0\n")
    help_text = parts[ARGS.index("--help") * 2]
    default = f'(default: "{lxc}")' if lxc else None
    lxc_line = next(line for line in help_text.splitlines() if "--lxc-user-nic-binary" in line) \
        if NAMES[name] == "rootlesskit" else None
    if lxc_line is not None:
        assert (default in lxc_line) if default else ("default:" not in lxc_line), lxc_line


def test_answered_without_proc(binary):
    """No /proc: the interpreter could not start (test_broken_environment), but the answer needs none."""
    result = run(["unshare", "-Urm", "sh", "-c", 'mount -t tmpfs none /proc && exec "$@"', "sh",
                  str(BIN_DIR / "rootlessctl"), "--version"])
    assert (result.returncode, result.stdout, result.stderr) == (0, "rootlessctl version 3.2.0\n", "")


def test_everything_else_reaches_the_interpreter(binary):
    """Two arguments are not answered: a flag error after --version is the interpreter's own."""
    result = run([str(BIN_DIR / "rootlesskit"), "--version", "--no-such-flag"])
    assert result.returncode == 1
    assert "flag provided but not defined: -no-such-flag" in result.stderr, result
