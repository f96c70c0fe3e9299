"""A server upgraded to a protocol this build does not speak refuses it by name (close 4406
BAD_VERSION). The app stops retrying, says what is happening, asks its service worker for the
new build, and keeps the outbox for it."""

from __future__ import annotations

import re
import uuid
from typing import Any

from tests.browser.test_pwa import create_customer, login, unsent, wait_state
from tests.conftest import LiveServer


def test_an_app_too_old_for_the_server_says_so_and_keeps_its_work(
    context: Any, live_server: LiveServer, screenshot: Any
) -> None:
    page = context.new_page()
    login(page, live_server, "rep2")
    context.set_offline(True)
    wait_state(page, "offline")
    customer = create_customer(page, f"杭州西湖精密仪器有限公司 {uuid.uuid4().hex[:6]}")
    assert unsent(page) == 1

    refused: list[str] = []

    def too_new(ws: Any) -> None:  # what a server a protocol version ahead answers
        refused.append(ws.url)
        ws.close(code=4406, reason="protocol version 2 is not supported; this server speaks 3")

    page.route_web_socket(re.compile(r"/sync(\?|$)"), too_new)
    page.evaluate("""() => {
        window.__updateChecks = 0;
        const get = navigator.serviceWorker.getRegistration.bind(navigator.serviceWorker);
        navigator.serviceWorker.getRegistration = async (...a) => {
          const reg = await get(...a);
          const update = reg.update.bind(reg);
          reg.update = () => { window.__updateChecks += 1; return update(); };
          return reg;
        };
    }""")
    context.set_offline(False)
    wait_state(page, "stopped")
    assert refused
    page.wait_for_function("window.__updateChecks >= 1")
    bar = page.inner_text("#syncbar .state")
    assert "版本过旧" in bar, bar
    screenshot(page, "version-too-old")
    tries = len(refused)
    assert unsent(page) == 1  # the card waits for the new build
    assert page.evaluate("window.waiqin.sync.status.state") == "stopped"
    assert len(refused) == tries  # no retry loop against a server that will refuse again
    assert customer
