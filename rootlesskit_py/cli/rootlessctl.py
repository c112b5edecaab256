"""`rootlessctl`: the API client of `api.sock`, with urfave/cli's command layout and upstream's output."""

from __future__ import annotations

import os
import sys

from rootlesskit_py import names
from rootlesskit_py.util import flags, helptext
from rootlesskit_py.util.flags import App, Command, Flag, help_command, help_flag, version_flag
from rootlesskit_py.version import VERSION

_JSON = Flag("json", "bool", False, "Prints as JSON")

COMMANDS = [
    Command("list-ports", "List ports", args_usage="[flags]", flags=[_JSON, help_flag()]),
    Command("add-ports", "Add ports",
            args_usage="[flags] PARENTIP:PARENTPORT:CHILDPORT/PROTO [PARENTIP:PARENTPORT:CHILDPORT/PROTO...]",
            description='Add exposed ports. The port spec is similar to `docker run -p`. e.g. "127.0.0.1:8080:80/tcp".',
            flags=[_JSON, help_flag()]),
    Command("remove-ports", "Remove ports", args_usage="[flags] ID [ID...]", flags=[help_flag()]),
    Command("info", "Show info", args_usage="[flags]", flags=[_JSON, help_flag()]),
]
GLOBAL_FLAGS = [
    Flag("debug", "bool", False, "debug mode"),
    Flag("socket", "string", "", 'Path to api.sock (under the "rootlesskit --state-dir" directory), defaults to '
                                 "$ROOTLESSKIT_STATE_DIR/api.sock"),
    help_flag(),
    version_flag(),
]
# list-ports' table, upstream's: (heading, JSON key, whether the key is the spec's rather than the
# port.Status's own, the value shown when the key is missing), through Go's tabwriter with these
# minwidth and padding. native/rootlessctl.h prints the same table without the interpreter, from
# these (build.py hands them over).
PORT_TABLE = (("ID", "id", False, 0), ("PROTO", "proto", True, ""), ("PARENTIP", "parentIP", True, ""),
              ("PARENTPORT", "parentPort", True, 0), ("CHILDIP", "childIP", True, ""),
              ("CHILDPORT", "childPort", True, 0))
PORT_TABLE_MINWIDTH = PORT_TABLE_PADDING = 4
APP = App("rootlessctl", "RootlessKit API client", version=VERSION, flags=GLOBAL_FLAGS,
          commands=COMMANDS + [help_command()])


class _Failure(Exception):
    """An action's error: `error: <text>` on stderr, exit 1 (upstream's main)."""


def main(argv: list[str]) -> int:
    try:
        opts, rest = flags.parse(GLOBAL_FLAGS, argv)
    except flags.FlagError as e:
        return _usage_error(e, helptext.render_help(APP))
    if opts["version"] and not opts["help"]:
        sys.stdout.write(f"rootlessctl version {VERSION}\n")
        return 0
    if opts["help"] or not rest:
        sys.stdout.write(helptext.render_help(APP))
        return 0
    name, args = rest[0], rest[1:]
    if name in ("help", "h"):
        return _help(args[0] if args else "")
    command = next((c for c in COMMANDS if c.name == name), None)
    if command is None:
        sys.stderr.write(f"No help topic for '{name}'\n")
        return 3
    try:
        command_opts, args = flags.parse(command.flags, args)
    except flags.FlagError as e:
        return _usage_error(e, helptext.render_command_help(APP, command))
    if command_opts["help"]:
        sys.stdout.write(helptext.render_command_help(APP, command))
        return 0
    from rootlesskit_py.api.client import ApiError
    from rootlesskit_py.errors import RootlessKitError

    try:
        ACTIONS[name](opts["socket"], bool(command_opts.get("json")), args)
    except (_Failure, ApiError, RootlessKitError) as e:
        sys.stdout.flush()
        sys.stderr.write(f"error: {e}\n")
        return 1
    return 0


def _usage_error(error: flags.FlagError, help_text: str) -> int:
    sys.stdout.write(f"Incorrect Usage: {error}\n\n{help_text}")
    sys.stdout.flush()
    sys.stderr.write(f"error: {error}\n")
    return 1


def _help(topic: str) -> int:
    if not topic:
        sys.stdout.write(helptext.render_help(APP))
        return 0
    command = next((c for c in COMMANDS if c.name == topic), None)
    if command is None:
        sys.stderr.write(f"No help topic for '{topic}'\n")
        return 3
    sys.stdout.write(helptext.render_command_help(APP, command))
    return 0


def _client(socket_path: str):
    from rootlesskit_py.api.client import Client

    if not socket_path:
        state_dir = os.environ.get(names.ENV_STATE_DIR, "")
        if not state_dir:
            raise _Failure("please specify --socket or set $ROOTLESSKIT_STATE_DIR")
        socket_path = os.path.join(state_dir, names.STATE_API_SOCK)
    return Client(socket_path)


def list_ports(socket_path: str, as_json: bool, _args: list[str]) -> None:
    from rootlesskit_py.api import schema

    statuses = _client(socket_path).list_ports()
    if as_json:
        sys.stdout.write("".join(schema.go_json(schema.reencode_port_status(s)) + "\n" for s in statuses))
        return
    rows = ["".join(f"{heading}\t" for heading, *_ in PORT_TABLE)]
    for status in statuses:
        spec = status.get("spec") or {}
        cells = ((spec if in_spec else status).get(key, missing) for _, key, in_spec, missing in PORT_TABLE)
        rows.append("".join(f"{cell}\t" for cell in cells))
    from rootlesskit_py.util.tabwriter import tabwrite

    sys.stdout.write(tabwrite("\n".join(rows) + "\n", minwidth=PORT_TABLE_MINWIDTH, padding=PORT_TABLE_PADDING))


def add_ports(socket_path: str, as_json: bool, args: list[str]) -> None:
    from rootlesskit_py.api import schema
    from rootlesskit_py.port.spec import parse

    if not args:
        raise _Failure("no port specified")
    specs = [parse(text) for text in args]  # all of them first, as upstream
    client = _client(socket_path)
    for spec in specs:
        status = client.add_port(spec)
        sys.stdout.write((schema.go_json(schema.reencode_port_status(status)) if as_json else str(status.get("id"))) + "\n")
        sys.stdout.flush()


def remove_ports(socket_path: str, _as_json: bool, args: list[str]) -> None:
    from rootlesskit_py.util.gocompat import go_atoi

    if not args:
        raise _Failure("no ID specified")
    try:
        ids = [go_atoi(text) for text in args]
    except ValueError as e:
        raise _Failure(str(e)) from None
    client = _client(socket_path)
    for port_id in ids:
        client.remove_port(port_id)
        sys.stdout.write(f"{port_id}\n")
        sys.stdout.flush()


def info(socket_path: str, as_json: bool, _args: list[str]) -> None:
    from rootlesskit_py.api import schema

    document = schema.reencode_info(_client(socket_path).info())
    if as_json:
        sys.stdout.write(schema.go_json(document, indent="    ") + "\n")
        return
    lines = [f"- REST API version: {document['apiVersion']}", f"- Implementation version: {document['version']}",
             f"- State Directory: {document['stateDir']}", f"- Child PID: {document['childPID']}"]
    network = document.get("networkDriver")
    if network is not None:
        lines += [f"- Network Driver: {network['driver']}", f"  - DNS: [{' '.join(network.get('dns', []))}]"]
        if "childIP" in network:
            lines.append(f"  - IP: {network['childIP']}")
    port_driver = document.get("portDriver")
    if port_driver is not None:
        lines += [f"- Port Driver: {port_driver['driver']}",
                  f"  - Supported protocols: [{' '.join(port_driver['protos'] or [])}]"]
    sys.stdout.write("\n".join(lines) + "\n")


ACTIONS = {"list-ports": list_ports, "add-ports": add_ports, "remove-ports": remove_ports, "info": info}
