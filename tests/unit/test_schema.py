"""The API's JSON documents: Go's encoding (key order, omitempty, HTML escapes), Go's decoding rules
for port specs, and the nesting bound that keeps the decoder off deep recursion."""

from __future__ import annotations

import json

import pytest

from rootlesskit_py.api import schema


@pytest.mark.parametrize("data, depth", [
    (b"", 0), (b"{}", 1), (b'{"a":[1,{"b":2}]}', 3), (b"[" * 100000, 100000),
    (b'["[[[", "\\"[[", {}]', 2),  # brackets in strings, escaped quotes included, do not count
    (b"]]][[", 2 - 3),
    (b'["\\\\", ["\\\\\\"["]]', 2),  # an escaped backslash ends before the quote; an escaped quote does not
    (b'"' + b'\\"' * 100000 + b"[", 1),  # no string ends: the bracket counts (the decoder refuses it anyway)
])
def test_nesting_counts_brackets_outside_strings(data, depth):
    assert schema.nesting(data) == depth


def test_decode_refuses_deep_nesting_before_decoding():
    assert schema.decode(b"[" * 100 + b"]" * 100) is not None
    with pytest.raises(ValueError, match="nested deeper than 100 levels"):
        schema.decode(b"[" * 101 + b"]" * 101)


@pytest.mark.parametrize("text, char", [(b"NaN", "N"), (b"[Infinity]", "I"), (b'{"a":-Infinity}', "I")])
def test_decode_refuses_what_json_does_not_allow(text, char):
    with pytest.raises(ValueError, match=f"invalid character '{char}' looking for beginning of value"):
        schema.decode(text)


def test_port_spec_is_decoded_as_go_decodes_it():
    spec = schema.PortSpec.from_json({"PROTO": "tcp", "parentport": 8080, "childPort": 80, "extra": [1],
                                      "childIP": None})
    assert spec == schema.PortSpec("tcp", "", 8080, 80, "")
    assert schema.go_json(spec.to_json()) == '{"proto":"tcp","parentPort":8080,"childPort":80}'
    assert str(spec) == "{tcp  8080 80 }"


@pytest.mark.parametrize("value, message", [
    ([1], "json: cannot unmarshal array into Go value of type port.Spec"),
    ({"parentPort": "80"}, "json: cannot unmarshal string into Go struct field Spec.parentPort of type int"),
    ({"parentPort": 80.5}, "json: cannot unmarshal number 80.5 into Go struct field Spec.parentPort of type int"),
    ({"parentPort": 1 << 63}, f"json: cannot unmarshal number {1 << 63} into Go struct field Spec.parentPort of type int"),
    ({"proto": 6}, "json: cannot unmarshal number into Go struct field Spec.proto of type string"),
])
def test_port_spec_refuses_what_go_refuses(value, message):
    with pytest.raises(ValueError) as error:
        schema.PortSpec.from_json(value)
    assert str(error.value) == message


def test_info_leaves_out_absent_and_empty_fields():
    network = schema.network_driver_info("slirp4netns", ["10.0.2.3"], "10.0.2.100")
    ports = schema.port_driver_info("builtin", ("tcp",))
    assert schema.go_json(schema.info("3.2.0", "/s<&>", 42, network, ports)) == (
        '{"apiVersion":"1.1.3","version":"3.2.0","stateDir":"/s\\u003c\\u0026\\u003e","childPID":42,'
        '"networkDriver":{"driver":"slirp4netns","dns":["10.0.2.3"],"childIP":"10.0.2.100"},'
        '"portDriver":{"driver":"builtin","protos":["tcp"]}}')
    assert schema.info("3.2.0", "/s", 1, None, None) == {"apiVersion": "1.1.3", "version": "3.2.0",
                                                         "stateDir": "/s", "childPID": 1}
    assert schema.network_driver_info("lxc-user-nic", dynamic_child_ip=True) == {"driver": "lxc-user-nic",
                                                                                 "dynamicChildIP": True}


def test_ipv6_and_extra_follow_the_v3_2_openapi():
    """API 1.1.2's networkDriver.ipv6 and 1.1.3's portDriver.extra: last in their structs, left out
    when false or empty, extra's keys in Go's (sorted) map order."""
    network = schema.network_driver_info("pasta", ["10.0.2.3"], "10.0.2.100", ipv6=True)
    ports = schema.port_driver_info("builtin", ("tcp",), extra={"z": "1", "sourceIPTransparentBackend": "nft"})
    assert schema.go_json({"n": network, "p": ports}) == (
        '{"n":{"driver":"pasta","dns":["10.0.2.3"],"childIP":"10.0.2.100","ipv6":true},'
        '"p":{"driver":"builtin","protos":["tcp"],"extra":{"sourceIPTransparentBackend":"nft","z":"1"}}}')
    assert "ipv6" not in schema.network_driver_info("pasta", ipv6=False)
    assert "extra" not in schema.port_driver_info("builtin", (), extra={})
    raw = {"networkDriver": {"ipv6": True, "driver": "slirp4netns"},
           "portDriver": {"extra": {"sourceIPTransparentBackend": "iptables", "n": 1}, "driver": "builtin"}}
    assert schema.reencode_info(raw)["networkDriver"] == {"driver": "slirp4netns", "ipv6": True}
    assert schema.reencode_info(raw)["portDriver"] == {"driver": "builtin", "protos": None,
                                                      "extra": {"sourceIPTransparentBackend": "iptables"}}


def test_received_documents_are_reencoded_as_go_rootlessctl_prints_them():
    raw = {"portDriver": {"protos": None, "driver": "none", "x": 1}, "childPID": 7, "stateDir": "/s",
           "version": "2.0.2", "apiVersion": "1.1.1", "networkDriver": {"driver": "host", "dns": []}}
    assert list(schema.reencode_info(raw)) == ["apiVersion", "version", "stateDir", "childPID", "networkDriver",
                                               "portDriver"]
    assert schema.reencode_info(raw)["networkDriver"] == {"driver": "host"}
    assert schema.reencode_info(raw)["portDriver"] == {"driver": "none", "protos": None}
    assert schema.reencode_port_status({"spec": {"childPort": 80, "proto": "udp"}, "id": 3}) == {
        "id": 3, "spec": {"proto": "udp", "childPort": 80}}


@pytest.mark.parametrize("indent", ["", "    ", "\t"])
def test_go_json_writes_what_json_dumps_writes(indent):
    """go_json does without the json module (its import was most of the API's first answer); what it
    writes must still be json.dumps's text, before the escapes Go adds."""
    values = [{}, [], (), [[]], [{}], {"k": {"l": []}}, "plain", 0, -7, 10**20, 1.5, -0.0, float("nan"), float("inf"),
              -float("inf"), None, True, False, (1, "two"), {3: "int key", None: "n", 2.5: "f", False: "b"},
              {"a": 1, "b": [1, 2, {"c": None, "d": True, "e": False}], "s": "q\"\\<>&\u2028\u2029\x01\x1f\x7fé\U0001f600"}]
    for value in values:
        if indent:
            text = json.dumps(value, indent=indent, ensure_ascii=False)
        else:
            text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        go = text.translate({ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026"})
        assert schema.go_json(value, indent) == go.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"), value
    with pytest.raises(TypeError):
        schema.go_json({"set": {1}})
