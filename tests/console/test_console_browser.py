"""The console in a real headless Chromium while clients run jobs over HTTP.

Debian's ``chromium`` + ``chromedriver``, driven by Selenium with
``Service(executable_path=<chromedriver on PATH>)``: selenium-manager never
runs, so nothing is downloaded. A missing browser or driver is the suite's
one rule (``need_tool``: a skip with the install line here, a failure in CI).
Every figure is printed, none asserted (the 100,000-job load time is reported).
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import need_tool
from http_api import DONE, PROVIDERS, Api, error_code

from mockserver.config import LimitsConfig, MockConfig, SecurityConfig

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture
def browser() -> Iterator[Any]:
    """A fresh headless Chromium (1440x1000), quit at teardown."""
    need_tool("chromium")
    driver_path = need_tool("chromedriver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="genmock-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage", "--window-size=1440,1000",
                 f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def screenshot(browser: Any) -> Callable[[str], Path]:
    """``screenshot("jobs")`` writes docs/screenshots/jobs.png (the README shows them)."""

    def take(name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        browser.save_screenshot(str(path))
        return path

    return take


def wait_for(check: Callable[[], Any], timeout: float = 15.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except Exception as error:  # the page is re-rendering: try again
            last = error
        if last and not isinstance(last, Exception):
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what or check}: {last!r}")


def js(browser: Any, script: str) -> Any:
    return browser.execute_script(script)


def click(browser: Any, selector: str) -> None:
    js(browser, f"document.querySelector({selector!r}).click()")


def states_on_page(browser: Any) -> dict[str, str]:
    return dict(js(browser, """return [...document.querySelectorAll('#jobs-table tr.row')]
        .map(r => [r.dataset.id, r.querySelector('.state').dataset.state]);""") or [])


def test_console_follows_clients_live_and_drives_the_mock(
    make_app: Any, serve_app: Any, webhook_receiver: Any, browser: Any,
    screenshot: Any,
) -> None:
    served = serve_app(make_app())
    http = httpx.Client(base_url=served.url, timeout=10)
    browser.get(served.url + "/")  # redirected to /_mock/ui
    assert browser.current_url.endswith("/_mock/ui")
    wait_for(lambda: js(browser, "return document.getElementById('live').className") == "live on",
             what="the event stream")
    js(browser, "window.__sameDocument = true")  # gone if the page were reloaded

    apis = {p: Api(http, p, f"console-{p}-key") for p in PROVIDERS}
    jobs = {p: api.create_ok(webhook=webhook_receiver.url) for p, api in apis.items()}
    seen = wait_for(lambda: set(jobs.values()) <= set(states_on_page(browser)) and
                    states_on_page(browser), what="the three jobs on the page")
    assert {seen[j] for j in jobs.values()} == {"queued"}
    for provider, api in apis.items():  # polls the timeline will show
        api.poll(jobs[provider])
    http.post("/_mock/clock/advance", json={"seconds": 10})
    wait_for(lambda: all(states_on_page(browser).get(j) == "running" for j in jobs.values()),
             what="every job running on the page")
    for provider, api in apis.items():
        api.poll(jobs[provider])
    http.post("/_mock/clock/advance", json={"seconds": 3600, "wait": True})
    final = wait_for(lambda: all(states_on_page(browser).get(j) == "succeeded"
                                 for j in jobs.values()) and states_on_page(browser),
                     what="every job succeeded on the page")
    assert all(final[j] == "succeeded" for j in jobs.values())
    for provider, api in apis.items():
        assert api.status(jobs[provider]) == DONE[provider]
    webhook_receiver.wait_for(3)
    assert js(browser, "return window.__sameDocument") is True

    # The timeline of one job: its polls and its webhook attempt, drawn as events.
    browser.set_window_size(1440, 1400)
    click(browser, f"#jobs-table tr.row[data-id='{jobs['wavespeed']}']")
    wait_for(lambda: js(browser, "return document.querySelectorAll("
                                 "'#timeline li[data-kind=webhook_attempt]').length"),
             what="webhook attempts in the timeline")
    kinds = js(browser, "return [...document.querySelectorAll('#timeline li')]"
                        ".map(li => li.dataset.kind)")
    assert kinds.count("poll") >= 2 and "create" in kinds and "transition" in kinds
    assert "credit" in kinds and "webhook_attempt" in kinds
    text = js(browser, "return document.getElementById('timeline').innerText")
    assert "completed" in text and "HTTP 200" in text
    screenshot("jobs")
    browser.set_window_size(1440, 1000)

    # Webhooks: grouped, resend one, see the new attempt.
    click(browser, "a[data-page=webhooks]")
    wait_for(lambda: js(browser, "return document.querySelectorAll("
                                 "'#delivered .delivery').length") == 3, what="3 delivered")
    first = js(browser, "return document.querySelector('#delivered button.resend').dataset.id")
    click(browser, f"#delivered button.resend[data-id='{first}']")
    webhook_receiver.wait_for(4)
    wait_for(lambda: js(browser, "return document.querySelectorAll('#delivered .delivery')"
                                 ".length") == 4, what="the resent delivery, delivered")
    assert "Resent as" in js(browser, "return document.getElementById('webhook-notice').innerText")
    resent = [d for d in http.get("/_mock/webhooks").json()["deliveries"] if d["resend_of"]]
    assert resent[0]["resend_of"] == first and resent[0]["attempts"][0]["outcome"] == "delivered"
    screenshot("webhooks")

    # Clock: advance from the page.
    before = http.get("/_mock/clock").json()["now"]
    click(browser, "a[data-page=clock]")
    wait_for(lambda: js(browser, "return document.getElementById('advance-seconds')"),
             what="the clock page")
    js(browser, "document.getElementById('advance-seconds').value = '120'")
    click(browser, "#advance-btn")
    wait_for(lambda: "Advanced 120" in js(
        browser, "return document.getElementById('clock-notice').innerText"), what="advanced")
    assert http.get("/_mock/clock").json()["now"] == before + 120
    # Queue a scenario from the form, then clear the queue.
    js(browser, """document.getElementById('q-scenario').value = 'webhook_refused';
        document.getElementById('q-provider').value = 'wavespeed';
        document.getElementById('q-endpoint').value = 'create';
        document.getElementById('q-times').value = '2';""")
    click(browser, "#queue-form button[type=submit]")
    wait_for(lambda: "webhook_refused" in js(
        browser, "return document.getElementById('queued').innerText"), what="the queued row")
    queued = http.get("/_mock/scenarios").json()["queued"]
    assert [q["scenario"] for q in queued] == ["webhook_refused"]
    assert queued[0]["match"]["provider"] == "wavespeed"
    screenshot("clock")
    click(browser, "#clear-queue")
    wait_for(lambda: http.get("/_mock/scenarios").json()["stored"] == 0, what="cleared")

    # Accounts: edit a balance in place; the next create is answered 402.
    click(browser, "a[data-page=accounts]")
    wait_for(lambda: js(browser, "return document.querySelectorAll('#accounts-table tr.row')"
                                 ".length") == 3, what="three keys")
    fingerprint = next(k["fingerprint"] for k in http.get("/_mock/accounts").json()["keys"]
                       if k["used_with"] == ["eachlabs"])
    click(browser, f"#accounts-table tr.row[data-fp='{fingerprint}']")
    wait_for(lambda: js(browser, "return document.getElementById('balance-eachlabs')"),
             what="the key's balances")
    js(browser, "document.getElementById('balance-eachlabs').value = '0'")
    click(browser, "button.save-account[data-provider=eachlabs]")
    wait_for(lambda: "Saved" in js(
        browser, "return document.getElementById('account-notice').innerText"), what="saved")
    refused = apis["eachlabs"].create()
    assert refused.status_code == 402, refused.text
    assert error_code("eachlabs", refused) in (None, 402)
    time.sleep(0.8)  # the page re-reads the key after a save
    screenshot("accounts")

    # Requests: a create with a misspelt model, and the console's "did you mean".
    misspelt = http.post("/eachlabs/v1/prediction/", headers={
        "X-API-Key": "console-eachlabs-2"}, json={
            "model": "wan-2-5-preview-image-to-vide",
            "input": {"image_url": "https://example.com/a.png", "prompt": "a cat"}})
    assert misspelt.status_code == 404
    click(browser, "a[data-page=requests]")
    wait_for(lambda: js(browser, "return document.querySelectorAll('#requests-table tr.row')"
                                 ".length"), what="the journal")
    seq = http.get("/_mock/requests?limit=1").json()["requests"][0]["seq"]
    click(browser, f"#requests-table tr.row[data-seq='{seq}']")
    near = wait_for(lambda: js(browser, "const n = document.getElementById('near-miss');"
                                        "return n && n.innerText"), what="the near miss")
    assert "did you mean wan-2-5-preview-image-to-video" in near
    headers = js(browser, "return document.getElementById('request-detail').innerText")
    assert "console-eachlabs-2" not in headers and "***" in headers  # keys masked
    screenshot("requests")
    # The page itself adds nothing to the journal (no favicon request, admin calls unjournaled).
    paths = {r["path"] for r in http.get("/_mock/requests?limit=500").json()["requests"]}
    assert not any(p.startswith("/_mock") or p == "/favicon.ico" for p in paths), paths

    # Trigger: a job of a chosen provider, model and scenario, with a webhook.
    click(browser, "a[data-page=trigger]")
    wait_for(lambda: js(browser, "return document.getElementById('t-provider')"),
             what="the trigger form")
    js(browser, """const p = document.getElementById('t-provider'); p.value = 'wavespeed';
        p.dispatchEvent(new Event('change'));
        document.getElementById('t-scenario').value = 'job_failed';""")
    js(browser, f"document.getElementById('t-webhook').value = {webhook_receiver.url!r}")
    click(browser, "#trigger-btn")
    wait_for(lambda: js(browser, "return document.getElementById('trigger-ok')"),
             what="the triggered job")
    job = js(browser, "return window.genmockConsole.lastTrigger.job")
    assert job["provider"] == "wavespeed" and job["scenario"] == "job_failed"
    screenshot("trigger")
    http.post("/_mock/clock/advance", json={"seconds": 3600, "wait": True})
    assert http.get(f"/_mock/jobs/{job['id']}").json()["state"] == "failed"
    http.close()


def test_the_console_with_100000_jobs_loads_one_page(
    make_app: Any, serve_app: Any, browser: Any
) -> None:
    limits = LimitsConfig(jobs=100_000, job_bytes=1 << 40)
    app = make_app(config=MockConfig(limits=limits))
    state = app.state.mock
    served = serve_app(app)
    with httpx.Client(base_url=served.url) as http:
        Api(http, "eachlabs", "bulk-key").create_ok()
    template = next(state.world.jobs())
    for index in range(100_000 - 1):
        state.world.add(dataclasses.replace(
            template, id=f"{index:08x}-0000-4000-8000-000000000000",
            input=dict(template.input)))
    assert len(state.world) == 100_000
    browser.get(served.url + "/_mock/ui")
    rows = wait_for(lambda: js(browser, "return document.querySelectorAll("
                                        "'#jobs-table tr.row').length"), what="the first page")
    assert rows == 50
    assert "100000 stored" in js(browser, "return document.querySelector('.pager').innerText")
    first_list_ms = js(browser, "return window.genmockConsole.firstList")
    timing = js(browser, "const t = performance.getEntriesByType('navigation')[0];"
                         "return [t.responseEnd, t.domContentLoadedEventEnd];")
    fetched = js(browser, "return performance.getEntriesByType('resource')"
                          ".filter(e => e.name.includes('/_mock/jobs?'))"
                          ".map(e => e.transferSize)")
    print(f"\n100,000 jobs: first job list on screen {first_list_ms:.0f} ms after navigation "
          f"start (HTML {timing[0]:.0f} ms, DOMContentLoaded {timing[1]:.0f} ms); the jobs "
          f"page fetched {fetched} bytes")
    assert fetched and max(fetched) < 200_000  # one page, never the store
    # Older pages come from the server too.
    click(browser, "#older")
    wait_for(lambda: js(browser, "return window.genmockConsole.view.cursor"), what="page 2")


class _AttackerPage(BaseHTTPRequestHandler):
    html = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/html")
        self.send_header("content-length", str(len(self.html)))
        self.end_headers()
        self.wfile.write(self.html)

    def log_message(self, *args: Any) -> None:
        pass


def test_a_cross_site_page_cannot_drive_the_console(
    make_app: Any, serve_app: Any, browser: Any
) -> None:
    served = serve_app(make_app())
    target = served.url  # http://127.0.0.1:<port>; the attacker is on http://localhost:<other>
    _AttackerPage.html = f"""<!doctype html><html><body>
      <iframe id="framed" src="{target}/_mock/ui" width="600" height="300"></iframe>
      <iframe name="sink" id="sink"></iframe>
      <form id="form" method="POST" action="{target}/_mock/trigger" target="sink"
            enctype="text/plain"><input name='{{"provider":"apikley","x":"' value='"}}'></form>
      <script>
        window.results = [];
        fetch("{target}/_mock/clock/advance", {{method: "POST", mode: "no-cors",
          headers: {{"Content-Type": "text/plain"}}, body: '{{"seconds": 999}}'}})
          .then(r => results.push("fetch " + r.type)).catch(e => results.push("fetch error"));
        fetch("{target}/_mock/trigger", {{method: "POST", headers: {{"Content-Type":
          "application/json"}}, body: '{{"provider": "apikley"}}'}})
          .then(r => results.push("cors " + r.status)).catch(e => results.push("cors blocked"));
        document.getElementById("form").submit();
      </script></body></html>""".encode()
    attacker = ThreadingHTTPServer(("127.0.0.1", 0), _AttackerPage)
    threading.Thread(target=attacker.serve_forever, daemon=True).start()
    try:
        with httpx.Client(base_url=served.url) as http:
            before = http.get("/_mock/clock").json()["now"]
            browser.get(f"http://localhost:{attacker.server_address[1]}/")
            wait_for(lambda: len(js(browser, "return window.results")) == 2, what="the fetches")
            time.sleep(1.0)  # the form post and the frame have had their chance
            assert http.get("/_mock/clock").json()["now"] == before
            assert http.get("/_mock/jobs").json()["count"] == 0
            assert js(browser, "return window.results").count("cors blocked") == 1
            # The framed console was refused (frame-ancestors 'none'): no console in it.
            browser.switch_to.frame("framed")
            assert js(browser, "return document.getElementById('nav')") is None
            browser.switch_to.default_content()
    finally:
        attacker.shutdown()


def test_with_an_admin_token_the_page_asks_once_and_sends_it_as_a_header(
    make_app: Any, serve_app: Any, browser: Any
) -> None:
    served = serve_app(make_app(config=MockConfig(security=SecurityConfig(admin_token="t0k3n"))))
    with httpx.Client(base_url=served.url) as http:
        Api(http, "eachlabs", "token-page-key").create_ok()
    browser.get(served.url + "/_mock/ui")
    wait_for(lambda: js(browser, "return document.getElementById('token-dialog').open"),
             what="the token dialog")
    js(browser, "document.getElementById('token-input').value = 't0k3n'")
    click(browser, "#token-form button")
    wait_for(lambda: js(browser, "return document.querySelectorAll('#jobs-table tr.row')"
                                 ".length") == 1, what="the jobs with the token")
    wait_for(lambda: js(browser, "return document.getElementById('live').className") == "live on",
             what="the event stream with the token")
    assert js(browser, "return sessionStorage.getItem('genmock-admin-token')") == "t0k3n"
    urls = js(browser, "return performance.getEntriesByType('resource').map(e => e.name)")
    assert urls and not any("t0k3n" in url for url in urls)
    assert "t0k3n" not in browser.current_url
