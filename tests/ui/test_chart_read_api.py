"""The chart's readApi values: off by default; when on, the webhook gets the token file from
the named Secret and the flag that turns the read API on."""

from __future__ import annotations

from typing import Any

from tests.deploy.conftest import one, render, render_error


def webhook_pod(values: dict[str, Any] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = one(render(values), "Deployment")["spec"]["template"]["spec"]
    return spec


def test_off_by_default() -> None:
    pod = webhook_pod()
    [container] = pod["containers"]
    assert not any("read-api" in a for a in container["args"])
    assert all(v["name"] != "read-api" for v in pod["volumes"])


def test_enabled_mounts_the_secret_key_as_the_token_file() -> None:
    pod = webhook_pod({"readApi": {"enabled": True, "secretName": "tg-proxy", "secretKey": "k"}})
    [container] = pod["containers"]
    assert "--read-api-token-file=/etc/truthgate/read-api/token" in container["args"]
    mount = next(m for m in container["volumeMounts"] if m["name"] == "read-api")
    assert (mount["mountPath"], mount["readOnly"]) == ("/etc/truthgate/read-api", True)
    volume = next(v for v in pod["volumes"] if v["name"] == "read-api")
    assert volume["secret"]["secretName"] == "tg-proxy"
    assert volume["secret"]["items"] == [{"key": "k", "path": "token"}]


def test_an_unknown_read_api_value_is_refused() -> None:
    assert "secretname" in render_error({"readApi": {"secretname": "x"}}).lower()
