"""Whether the Hugging Face hub can be reached, found out in seconds and said once.

huggingface_hub retries every file of a from_pretrained for minutes (each retry logged twice) when
the hub is unreachable; one TCP connect to the hub (or the configured proxy) answers sooner.
"""

from __future__ import annotations

import socket
import threading
import urllib.request
from urllib.parse import urlparse

HUB_CHECK_TIMEOUT_S = 5.0


def hub_problem(timeout_s: float = HUB_CHECK_TIMEOUT_S) -> str | None:
    """None when the hub (HF_ENDPOINT, or the https proxy) accepts a connection; otherwise why
    not. HF_HUB_OFFLINE is not checked here: in offline mode huggingface_hub does not retry."""
    from huggingface_hub import constants

    endpoint = urlparse(constants.ENDPOINT)
    proxy = urllib.request.getproxies().get(endpoint.scheme)
    target = urlparse(proxy) if proxy else endpoint
    host = target.hostname or ""
    port = target.port or (443 if target.scheme == "https" else 80)
    where = f"{'proxy ' if proxy else ''}{host}:{port}"
    outcome: list[str] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout_s):
                outcome.append("")
        except OSError as err:
            outcome.append(err.strerror or str(err) or type(err).__name__)

    # getaddrinfo has no timeout of its own: the thread bounds it.
    thread = threading.Thread(target=probe, name="hub check", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if not outcome:
        return f"{where} did not answer within {timeout_s:g} s"
    return f"{where}: {outcome[0]}" if outcome[0] else None


def cached_locally(model: str) -> bool:
    """Whether the hub id's config is in the local Hugging Face cache (an earlier download)."""
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(model, "config.json"), str)


def unreachable_message(model: str, problem: str) -> str:
    """The one error for a hub id that is neither reachable nor cached, with what to do."""
    return (
        f"cannot reach the Hugging Face hub ({problem}) and {model} is not in the local cache: "
        "check the network (or HTTPS_PROXY / HF_ENDPOINT), run `wyoming-verba download` where "
        "the hub is reachable, or set csm.model to a local directory with the model"
    )
