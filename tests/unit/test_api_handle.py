"""The API's routes (Api.handle): status and body for a method, path and body, with a port driver
whose host side is a plain record (the port spec checks and id allocation are the real ones)."""

from __future__ import annotations

import json

import pytest

from rootlesskit_py.api.server import Api
from rootlesskit_py.errors import RootlessKitError
from rootlesskit_py.port import Options, PortDriver
from rootlesskit_py.port.spec import PortSpec, validate

INFO = {"apiVersion": "1.1.3", "version": "3.2.0", "stateDir": "/run/user/1000/rk", "childPID": 42,
        "portDriver": {"driver": "builtin", "protos": ["tcp", "udp"]}}


class RecordingDriver(PortDriver):
    """A port driver that publishes nothing: the API's behaviour, not forwarding, is under test."""

    name = "builtin"
    protos = ("tcp", "udp")

    def add_port(self, spec: PortSpec) -> int:
        validate(spec, self.ports)
        return self._take_id(spec)

    def remove_port(self, port_id: int) -> None:
        if port_id not in self.ports:
            raise RootlessKitError(f"unknown id: {port_id}")
        del self.ports[port_id]


@pytest.fixture
def api(tmp_path):
    return Api("/run/user/1000/rk", 42, None, RecordingDriver(Options(), str(tmp_path)))


def body_of(response) -> object:
    return json.loads(response.body) if response.body.strip() else None


SPEC = {"proto": "tcp", "parentIP": "127.0.0.1", "parentPort": 8080, "childPort": 80}


@pytest.mark.parametrize("method, path, body, status, expected", [
    ("GET", "/v1/info", b"", 200, INFO),
    ("GET", "/v1/info?pretty=1", b"", 200, INFO),  # the query is not part of the route
    ("POST", "/v1/info", b"", 405, None),
    ("GET", "/v1/ports", b"", 200, None),  # no ports: JSON null, as Go encodes a nil slice
    ("POST", "/v1/ports", json.dumps(SPEC).encode(), 201, {"id": 1, "spec": SPEC}),
    ("PUT", "/v1/ports", b"", 405, None),
    ("GET", "/v1/ports/1", b"", 405, None),
    ("DELETE", "/v1/ports/7", b"", 400, {"message": "unknown id: 7"}),
    ("GET", "/v2/info", b"", 404, None),
    ("GET", "/v1/ports/1/x", b"", 404, None),
])
def test_one_request(api, method, path, body, status, expected):
    response = api.handle(method, path, body)
    assert response.status == status
    if status == 404:
        assert response.body == b"404 page not found\n"
    elif status != 405:
        assert body_of(response) == expected


def test_add_list_remove(api):
    assert api.handle("POST", "/v1/ports", json.dumps(SPEC).encode()).status == 201
    other = dict(SPEC, proto="udp")
    assert body_of(api.handle("POST", "/v1/ports", json.dumps(other).encode())) == {"id": 2, "spec": other}
    assert body_of(api.handle("GET", "/v1/ports", b"")) == [{"id": 1, "spec": SPEC}, {"id": 2, "spec": other}]
    conflict = api.handle("POST", "/v1/ports", json.dumps(dict(SPEC, childPort=81)).encode())
    assert (conflict.status, body_of(conflict)) == (400, {"message": "conflict with ID 1"})
    removed = api.handle("DELETE", "/v1/ports/1", b"")
    assert (removed.status, removed.body) == (200, b"")
    assert body_of(api.handle("GET", "/v1/ports", b"")) == [{"id": 2, "spec": other}]
    assert body_of(api.handle("POST", "/v1/ports", json.dumps(SPEC).encode()))["id"] == 3  # ids are not reused


@pytest.mark.parametrize("body, message", [
    (b'{"proto": "tcp", "parentPort": "8080", "childPort": 80}',
     "json: cannot unmarshal string into Go struct field Spec.parentPort of type int"),
    (b"[]", "json: cannot unmarshal array into Go value of type port.Spec"),
    (b'{"proto": "tcp", "parentPort": 8080, "childPort": 0}', "invalid ChildPort: '\\x00'"),
    (b'{"proto": "tcpx", "parentPort": 8080, "childPort": 80}', 'unknown proto: "tcpx"'),
])
def test_add_refuses(api, body, message):
    response = api.handle("POST", "/v1/ports", body)
    assert (response.status, body_of(response)) == (400, {"message": message})
    assert body_of(api.handle("GET", "/v1/ports", b"")) is None  # nothing was added


def test_unparsable_body_is_a_400_with_a_message(api):
    response = api.handle("POST", "/v1/ports", b"{not json")
    assert response.status == 400 and body_of(response)["message"]


def test_bad_id_is_a_400(api):
    response = api.handle("DELETE", "/v1/ports/x", b"")
    assert response.status == 400 and "x" in body_of(response)["message"]


@pytest.mark.parametrize("method, path", [("GET", "/v1/ports"), ("POST", "/v1/ports"), ("DELETE", "/v1/ports/1")])
def test_without_a_port_driver(method, path):
    response = Api("/run/user/1000/rk", 42, None, None).handle(method, path, json.dumps(SPEC).encode())
    assert (response.status, body_of(response)) == (400, {"message": "no PortDriver is available"})
