"""The egress guard's address rules, on their own (the attacks themselves are in tests/security)."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config.egress import EgressPolicy, EgressRefused, address_refusal, ip_of, literal_ip, url_check

REFUSED = ["127.0.0.1", "127.8.9.10", "10.0.0.8", "172.16.5.4", "192.168.1.1", "169.254.169.254", "169.254.1.1",
           "100.64.0.1", "100.100.100.200", "0.0.0.0", "224.0.0.1", "240.0.0.1", "255.255.255.255", "::1", "::",
           "fe80::1", "fc00::1", "fd00:ec2::254", "ff02::1", "::127.0.0.1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
           "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "2002:7f00:1::", "2002:a00:1::1", "2001:db8::1",
           "2001:0:4136:e378:8000:63bf:80ff:fffe"]
ALLOWED = ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "64:ff9b::808:808", "2002:808:808::1"]


@pytest.mark.parametrize("address", REFUSED)
def test_internal_addresses_are_refused(address: str) -> None:
    assert address_refusal(ip_of(address)) is not None


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_pass(address: str) -> None:
    assert address_refusal(ip_of(address)) is None


@pytest.mark.parametrize(("spelling", "address"), [("2130706433", "127.0.0.1"), ("0177.0.0.1", "127.0.0.1"),
                                                   ("0x7f.1", "127.0.0.1"), ("127.1", "127.0.0.1"),
                                                   ("[::1]", "::1"), ("example.com", None)])
def test_every_ipv4_spelling_a_socket_accepts_is_read_as_its_address(spelling: str, address: str | None) -> None:
    assert literal_ip(spelling) == (None if address is None else ipaddress.ip_address(address))


_INTERNAL_V4 = st.one_of(*(st.integers(int(n.network_address), int(n.broadcast_address)).map(ipaddress.IPv4Address)
                           for n in map(ipaddress.ip_network, ("127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12",
                                                               "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10"))))


@given(_INTERNAL_V4)
def test_an_internal_ipv4_address_is_refused_in_every_ipv6_wrapping(inner: ipaddress.IPv4Address) -> None:
    value = int(inner)
    wrappings = [ipaddress.IPv6Address(value), ipaddress.IPv6Address((0xFFFF << 32) | value),
                 ipaddress.IPv6Address((0x64FF9B << 96) | value), ipaddress.IPv6Address((0x2002 << 112) | (value << 80))]
    assert address_refusal(inner) is not None
    for wrapped in wrappings:
        assert address_refusal(wrapped) is not None, wrapped


def test_the_operator_allow_list_opens_networks_and_hosts_but_never_the_metadata_service(settings: Any) -> None:
    settings.EGRESS_ALLOWED_NETWORKS = ["10.20.0.0/16", "llm.internal", "169.254.0.0/16"]
    allowed = EgressPolicy.from_settings()
    assert allowed.refusal(host="10.20.3.4", address=ip_of("10.20.3.4")) is None
    assert allowed.refusal(host="llm.internal", address=ip_of("10.99.0.1")) is None
    assert allowed.refusal(host="other.internal", address=ip_of("10.99.0.1")) is not None
    assert allowed.refusal(host="169.254.169.254", address=ip_of("169.254.169.254")) is not None


def test_a_url_is_checked_after_resolution_with_a_reason() -> None:
    with pytest.raises(EgressRefused, match="loopback"):
        url_check("http://localhost:8000/v1")
    with pytest.raises(EgressRefused, match="http and https"):
        url_check("file:///etc/passwd")
