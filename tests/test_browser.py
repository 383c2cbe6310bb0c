"""Browser tests: Playwright drives Debian's chromium against the running app (widget, console, XSS)."""
import os
import shutil

import pytest

import app
from tests.conftest import AGENT

CHROMIUM = os.environ.get("HELPLINE_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM):
        if os.environ.get("HELPLINE_REQUIRE_BROWSER"):
            pytest.fail(f"no chromium at {CHROMIUM}")
        pytest.skip(f"no chromium at {CHROMIUM} (.ci/run installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


def open_widget(page, url):
    page.goto(f"{url}/widget-demo")
    launcher = page.get_by_role("button", name="Open chat")
    launcher.focus()
    page.keyboard.press("Enter")            # the launcher is a real button: keyboard users can open it
    page.get_by_label("Your message").wait_for()


def console_login(browser, url, password=AGENT[1]):
    """A new page (its own cookies) with the agent logged in: the agents' app sends it to the login form first."""
    agent = browser.new_context().new_page()
    agent.set_default_timeout(30_000)
    agent.goto(f"{url}/agent/")
    agent.get_by_label("Agent name").fill(AGENT[0])
    agent.get_by_label("Password").fill(password)
    agent.get_by_role("button", name="Log in").click()
    if password == AGENT[1]:
        agent.get_by_text(f"Logged in as {AGENT[0]}").wait_for()
    return agent


def test_the_agents_app_is_behind_the_login_form(browser, served):
    """The customers' page has no agent tab; the agents' app opens only after the login form, and logging out
    closes it again (the session cookie cannot be read by the page's scripts)."""
    customer = browser.new_page()
    customer.goto(served.url)
    customer.get_by_role("tab", name="Chat").wait_for()
    assert customer.get_by_role("tab", name="Agent console").count() == 0
    wrong = console_login(browser, served.url, password="not the password")
    wrong.get_by_text("Wrong name or password.").wait_for()
    assert wrong.url.endswith("/login")
    agent = console_login(browser, served.url)
    assert agent.url.endswith("/agent/") and agent.evaluate("document.cookie") == ""   # HttpOnly
    agent.locator("#logout").click()
    agent.get_by_label("Agent name").wait_for()                  # back at the form
    agent.goto(f"{served.url}/agent/")
    agent.get_by_label("Agent name").wait_for()                  # the ended session opens nothing
    customer.close()
    agent.close()


def send(page, text):
    box = page.get_by_label("Your message")
    box.fill(text)
    box.press("Enter")


def test_widget_sends_a_message_and_shows_the_reply(page, served):
    open_widget(page, served.url)
    send(page, "where is my order?")
    page.locator(".hl-customer", has_text="where is my order?").wait_for()
    page.locator(".hl-bot").nth(1).wait_for()   # the greeting, then the bot's reply
    conversation_id = page.evaluate("sessionStorage.getItem('helpline.conversation')")
    assert conversation_id and app.helpline().store.conversation(conversation_id) is not None


def test_script_in_a_message_renders_as_text(page, served):
    open_widget(page, served.url)
    payload = "<script>window.__pwned = 1</script><img src=x onerror=\"window.__pwned = 2\"><b>bold</b>"
    send(page, payload)
    bubble = page.locator(".hl-customer").first
    bubble.wait_for()
    assert bubble.text_content() == payload
    page.locator(".hl-bot").nth(1).wait_for()
    assert page.evaluate("window.__pwned") is None
    assert page.locator(".hl-log b, .hl-log img, .hl-log script").count() == 0


def test_the_widget_asks_how_we_did_once_and_stores_the_rating(page, served, keyword_model):
    open_widget(page, served.url)
    send(page, "ok bye")                                   # the catalogue's goodbye ends the conversation
    group = page.get_by_role("group", name="Rate this conversation")
    group.wait_for()
    page.get_by_label("Comment on this conversation (optional)").fill("fast and friendly")
    page.get_by_role("button", name="4 of 5, happy").focus()
    page.keyboard.press("Enter")                           # keyboard-usable: the ratings are real buttons
    page.locator(".hl-note", has_text="Thank you for your rating.").wait_for()
    conversation_id = page.evaluate("sessionStorage.getItem('helpline.conversation')")
    stored = app.helpline().store.conversation(conversation_id)
    assert (stored.csat, stored.csat_comment) == (4, "fast and friendly")
    send(page, "bye again")                                # never asked twice
    page.locator(".hl-customer", has_text="bye again").wait_for()
    page.locator(".hl-bot").nth(2).wait_for()
    assert group.count() == 0


def test_a_handoff_reaches_the_console_and_the_agent_reply_the_widget(browser, served, keyword_model):
    customer = browser.new_page()
    customer.set_default_timeout(20_000)
    open_widget(customer, served.url)
    send(customer, "I want a human about my order")
    customer.locator(".hl-note", has_text="You are now talking to a person").wait_for()   # the policy handed off
    conversation_id = customer.evaluate("sessionStorage.getItem('helpline.conversation')")
    assert app.helpline().store.conversation(conversation_id).status == "waiting"

    agent = console_login(browser, served.url)
    agent.get_by_text(conversation_id).first.wait_for(state="attached")   # the conversation is in the queue
    agent.get_by_label("Conversation", exact=True).fill(conversation_id)
    reply = agent.get_by_label("Reply to the customer (Enter sends)")
    reply.fill("Hello, this is Ana. I'm looking at your order now.")
    reply.press("Enter")
    customer.locator(".hl-agent", has_text="this is Ana").wait_for()   # live, by polling
    assert customer.locator(".hl-bot").count() == 2     # the greeting and one reply: polling shows nothing twice
    if os.environ.get("HELPLINE_SCREENSHOTS"):
        agent.screenshot(path=os.path.join(os.environ["HELPLINE_SCREENSHOTS"], "console.png"), full_page=True)
        customer.screenshot(path=os.path.join(os.environ["HELPLINE_SCREENSHOTS"], "widget.png"))
    customer.close()
    agent.close()


class Switch:
    """An ASGI app chosen after its server's port is known (the two servers must know each other's address)."""

    def __init__(self):
        self.app, self.paths = None, []

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            self.paths.append(scope["path"])
        await self.app(scope, receive, send)


def test_the_widget_chats_from_another_sites_page(page, served):
    """A shop's page on another origin embeds widget.js from the Helpline server and chats through it (CORS)."""
    from starlette.responses import HTMLResponse

    from bot.serving.http_guards import WidgetCORS
    from tests.server import Server

    shop, helpline_app = Switch(), Switch()
    with Server(shop) as shop_server, Server(helpline_app) as helpline_server:
        helpline_app.app = WidgetCORS(app.build_app(), (shop_server.url,))
        shop.app = HTMLResponse(f"<!doctype html><html><head><title>Shop</title></head><body><h1>Shop</h1>"
                                f'<script src="{helpline_server.url}/widget.js" defer></script></body></html>')
        failures = []
        page.on("requestfailed", lambda request: failures.append(request.url))
        open_widget_at(page, shop_server.url + "/")
        send(page, "where is my order?")
        page.locator(".hl-bot").nth(1).wait_for()   # the greeting, then the reply from the other origin
        assert page.locator(".hl-note").count() == 0 and failures == []
        conversation_id = page.evaluate("sessionStorage.getItem('helpline.conversation')")
        stored = app.helpline().store.messages(conversation_id)
        assert [m.text for m in stored if m.role == "customer"] == ["where is my order?"]  # stored once


def open_widget_at(page, url):
    page.goto(url)
    page.get_by_role("button", name="Open chat").click()
    page.get_by_label("Your message").wait_for()


def test_customer_markdown_is_plain_text_in_the_console(browser, served):
    """An image or a link typed by a customer reaches the agent as text: no request to the image's server, no
    live link."""
    import httpx
    from starlette.responses import Response

    from tests.server import Server

    tracker = Switch()
    tracker.app = Response(b"GIF89a", media_type="image/gif")
    with Server(tracker) as tracker_server:
        text = f"![x]({tracker_server.url}/pixel.png) [Verify your account](http://evil.example/login)"
        turn = httpx.post(f"{served.url}/api/chat", json={"message": text}).json()
        app.helpline().desk.take_over(turn["conversation_id"])
        agent = console_login(browser, served.url)
        agent.get_by_label("Conversation", exact=True).fill(turn["conversation_id"])
        agent.get_by_role("button", name="Open").click()
        agent.get_by_text("[Verify your account]", exact=False).first.wait_for()
        agent.wait_for_timeout(500)
        assert tracker.paths == []  # the agent's browser never fetched the "image"
        assert agent.locator("a[href*='evil.example']").count() == 0
        assert agent.locator(f"img[src*='{tracker_server.url}']").count() == 0
        agent.close()


def test_the_analyze_tab_reads_an_upload_and_shows_the_report(browser, served, tmp_path):
    import json

    export = tmp_path / "export.jsonl"
    export.write_text("".join(json.dumps({"id": f"c{i}", "messages": [
        {"role": "customer", "text": "where is my refund"}, {"role": "bot", "text": "Sorry, I didn't understand."},
        {"role": "customer", "text": "still no refund?? third time"}]}) + "\n" for i in range(12)))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "messages": [{"role": "customer", "text": "hi"}]}\nnot json\n')
    agent = console_login(browser, served.url)
    agent.get_by_role("tab", name="Analyze").click()
    agent.locator("#analyze-upload input[type=file]").set_input_files(str(bad))
    agent.locator("#analyze-upload").get_by_text("bad.jsonl").wait_for()       # uploaded
    agent.get_by_role("button", name="Analyze", exact=True).click()
    agent.get_by_text("bad.jsonl:2: not valid JSON").first.wait_for()           # the file and the line
    agent.locator("#analyze-upload").get_by_role("button", name="Clear").click()
    agent.locator("#analyze-upload input[type=file]").set_input_files(str(export))
    agent.locator("#analyze-upload").get_by_text("export.jsonl").wait_for()
    agent.get_by_role("button", name="Analyze", exact=True).click()
    agent.get_by_text("12 conversations, 24 customer messages").wait_for(timeout=60_000)
    assert agent.locator(".hl-report img[src^='data:image/png']").count() == 2   # the plots, in the page
    agent.get_by_text("conversations.csv").first.wait_for()                    # and the downloads
    agent.screenshot(path=os.path.join(os.environ.get("HELPLINE_SCREENSHOTS") or str(tmp_path), "tab-analyze.png"),
                     full_page=True)
    agent.close()


@pytest.fixture(params=["fresh", "busy"])
def database_state(request, served, tmp_path):
    """The served app on a database as a new install has it (no conversation yet), or with a day's traffic."""
    import httpx

    if request.param == "fresh":
        previous = app.settings.db
        app.settings.db = f"sqlite:///{tmp_path / 'fresh.db'}"   # a new settings key rebuilds the serving stack
        app.helpline().store.add_agent(*AGENT, role="admin")
        yield request.param
        app.settings.db = previous
        return
    messages = ["where is my order", "I want a human", "this is the third time I ask!!", "my card was declined",
                "how do I change my PIN?", "still no refund. third time I'm asking.", "thanks, that helped"]
    for i in range(30):
        turn = httpx.post(f"{served.url}/api/chat", json={"message": messages[i % len(messages)]}).json()
        if i < 10:   # a third of them rated by their customers
            httpx.post(f"{served.url}/api/chat/{turn['conversation_id']}/csat", json={"rating": [5, 4, 2, 1, 3][i % 5]})
    yield request.param


def test_every_tab_renders_for_a_logged_in_agent(browser, served, database_state, tmp_path):
    """A screenshot of every tab on a fresh and on a busy database (into HELPLINE_SCREENSHOTS when set, e.g. as
    CI artifacts): each shows its content, the Model page fills itself when opened, and no error is shown."""
    folder = os.environ.get("HELPLINE_SCREENSHOTS") or str(tmp_path)
    shot = lambda name: os.path.join(folder, f"tab-{database_state}-{name}.png")  # noqa: E731
    agent = console_login(browser, served.url)
    agent.screenshot(path=shot("console"), full_page=True)
    agent.get_by_role("tab", name="Insights").click()       # drawn on opening, no Refresh click (issue 38)
    agent.get_by_text("Handoff rate" if database_state == "busy" else "No customer messages").wait_for()
    if database_state == "busy":   # volume, sentiment and handoff reasons all drawn
        agent.locator(".vega-embed").nth(5).wait_for()   # ... and the three CSAT charts
    agent.screenshot(path=shot("insights"), full_page=True)
    agent.get_by_role("tab", name="Model").click()
    agent.get_by_text("Model version").wait_for()          # loaded on opening, no Refresh click
    agent.get_by_text("Retrain progress").wait_for(state="attached")
    agent.screenshot(path=shot("model"), full_page=True)
    assert agent.locator(".toast-body, .error").count() == 0
    agent.goto(served.url)                                  # the customers' app
    agent.get_by_role("tab", name="Chat").wait_for()
    agent.screenshot(path=shot("chat"), full_page=True)
    agent.goto(f"{served.url}/logout")
    agent.screenshot(path=shot("login"), full_page=True)
    for name in ("console", "insights", "model", "chat", "login"):
        assert os.path.getsize(shot(name)) > 10_000
    agent.close()


def test_an_agent_clicks_a_suggestion_edits_it_and_the_widget_shows_it(browser, served, keyword_model):
    from playwright.sync_api import expect

    service = app.helpline()
    answer = "I can see your order and I'm checking it with the courier now."
    for _ in range(2):   # what agents replied before in the same situation
        earlier = service.handle("I want a human about my order").conversation_id
        service.desk.reply(earlier, answer)
    service.suggestions.refresh()
    customer = browser.new_page()
    customer.set_default_timeout(20_000)
    open_widget(customer, served.url)
    send(customer, "I want a human about my order")
    customer.locator(".hl-note", has_text="You are now talking to a person").wait_for()
    conversation_id = customer.evaluate("sessionStorage.getItem('helpline.conversation')")

    agent = console_login(browser, served.url)
    agent.get_by_label("Conversation", exact=True).fill(conversation_id)
    agent.get_by_role("button", name="Open", exact=True).click()
    agent.get_by_label("Handoff summary").wait_for()
    suggestion = agent.locator("button.suggestion", has_text=answer)
    suggestion.wait_for()
    suggestion.click()
    reply = agent.get_by_label("Reply to the customer (Enter sends)")
    expect(reply).to_have_value(answer)   # one click: the suggestion is in the reply box
    reply.fill(answer + " It should be with you tomorrow.")   # edited before sending
    reply.press("Enter")
    customer.locator(".hl-agent", has_text="It should be with you tomorrow.").wait_for()
    assert service.store.conversation(conversation_id).messages[-1].text.endswith("with you tomorrow.")
    customer.close()
    agent.close()
