"""The viewer's pages driven in headless Chromium (one browser for the module): what the runs
table lists, that the episode player plays, that the step page shows the exact prompt and
reply; a screenshot of each page is saved (see conftest ``artifacts``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.view.conftest import Viewer, latest_episode
from vlmforge.trace import TextPart

WAIT_S = 15


def wait(driver: Any, condition: Any) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_S, poll_frequency=0.05).until(condition)


def open_page(driver: Any, url: str, view: str) -> None:
    """Load ``url`` and wait until the page's view has rendered (or failed)."""
    driver.get(url)
    script = (
        "const a = document.getElementById('app');"
        "return a.dataset.view === arguments[0] || a.querySelector('.error') !== null;"
    )
    wait(driver, lambda d: d.execute_script(script, view))
    errors = driver.find_elements("css selector", "#app .error")
    assert not errors, errors[0].text


def no_console_errors(driver: Any) -> None:
    severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, severe


def shot(driver: Any, artifacts: Path, name: str) -> None:
    """The whole page (the window grown to the page's height for the shot)."""
    path = artifacts / f"view-{name}.png"
    size = driver.get_window_size()
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(size["width"], min(max(height + 140, 600), 2400))
    try:
        driver.save_screenshot(str(path))
    finally:
        driver.set_window_size(size["width"], size["height"])
    assert path.stat().st_size > 10_000  # a rendered page, not a blank one


def test_runs_table_lists_the_runs_of_the_database(
    browser: Any, viewer: Viewer, store: Any, artifacts: Path
) -> None:
    open_page(browser, viewer.url + "/", "viewRuns")
    rows = browser.find_elements("css selector", "#runs tbody tr")
    assert sorted(r.get_attribute("data-run") for r in rows) == sorted(r.name for r in store.runs())
    llm = browser.find_element("css selector", "#runs tbody tr[data-run='llm']").text
    assert "openai" in llm and "test-model" in llm
    shot(browser, artifacts, "runs")
    # the policy filter narrows the table
    browser.find_element("css selector", "#filter-policy option[value='random']").click()
    rows = browser.find_elements("css selector", "#runs tbody tr")
    assert [r.get_attribute("data-run") for r in rows] == ["random"]
    no_console_errors(browser)


def test_compare_page_uses_the_common_seeds(
    browser: Any, viewer: Viewer, store: Any, artifacts: Path
) -> None:
    open_page(browser, viewer.url + "/", "viewRuns")
    for run in store.runs():
        browser.find_element("css selector", f"input[data-run='{run.id}']").click()
    browser.find_element("id", "compare").click()
    wait(browser, lambda d: d.find_elements("id", "comparison"))
    text = browser.find_element("id", "app").text
    seeds = sorted(
        set.intersection(
            *(
                {e.seed for e in store.episodes([r.id]) if e.status.value in ("done", "failed")}
                for r in store.runs()
            )
        )
    )
    assert f"{len(seeds)} seeds finished by every run: {', '.join(map(str, seeds))}" in text
    shot(browser, artifacts, "compare")


def test_episode_page_plays_frames(
    browser: Any, viewer: Viewer, store: Any, artifacts: Path
) -> None:
    episode = latest_episode(store, "llm", 0)
    frames = [s.observation.images[-1] for s in store.steps(episode.id)]
    assert len(set(frames)) > 1  # the agent moved: there is something to see change
    open_page(browser, f"{viewer.url}/episodes/{episode.id}", "viewEpisode")
    frame = browser.find_element("id", "frame")
    wait(browser, lambda d: frame.get_attribute("data-step") == "0")
    assert frame.get_attribute("data-sha") == frames[0]
    assert browser.execute_script(
        "return arguments[0].complete && arguments[0].naturalWidth", frame
    )
    shot(browser, artifacts, "episode")
    browser.find_element("id", "play").click()
    wait(browser, lambda d: frame.get_attribute("data-sha") != frames[0])
    step = int(frame.get_attribute("data-step"))
    assert step > 0 and frame.get_attribute("data-sha") == frames[step]
    browser.find_element("id", "play").click()  # pause
    paused = int(frame.get_attribute("data-step"))
    browser.find_element("tag name", "body").send_keys("\ue014")  # arrow right
    wait(
        browser, lambda d: int(frame.get_attribute("data-step")) == min(paused + 1, len(frames) - 1)
    )
    # the timeline knows every step
    label = browser.find_element("id", "timeline-status")
    wait(browser, lambda d: label.text == f"{len(frames)} steps")
    no_console_errors(browser)


@pytest.mark.parametrize("index", [2, 3])
def test_step_page_shows_the_exact_prompt_and_reply(
    browser: Any, viewer: Viewer, store: Any, artifacts: Path, index: int
) -> None:
    episode = latest_episode(store, "llm", 0)
    step = next(s for s in store.steps(episode.id) if s.index == index)
    open_page(browser, f"{viewer.url}/steps/{episode.id}/{index}", "viewStep")
    prompt_texts = [
        p.get_attribute("textContent")
        for p in browser.find_elements("css selector", "#prompt pre.text")
    ]
    expected: list[str] = []
    for message in step.prompt:
        if isinstance(message.content, str):
            expected.append(message.content)
        elif message.content:
            expected += [p.text for p in message.content if isinstance(p, TextPart)]
    assert prompt_texts == expected
    assert step.prompt[0].role == "system" and prompt_texts[0] == step.prompt[0].content
    images = browser.find_elements("css selector", "#prompt img")
    assert len(images) == sum(len(m.image_hashes()) for m in step.prompt) > 0
    for img in images:
        wait(
            browser,
            lambda d, img=img: d.execute_script(
                "return arguments[0].complete && arguments[0].naturalWidth > 0", img
            ),
        )
    reply = browser.find_element("id", "reply").get_attribute("textContent")
    assert step.reply is not None
    if step.reply.tool_calls:
        for call in step.reply.tool_calls:
            assert f"{call.function.name}({call.function.arguments})" in reply
    assert step.reply.text() in reply
    tokens = step.lm_call.usage if step.lm_call else None
    page = browser.find_element("id", "app").text
    assert tokens is not None and f"{tokens.prompt_tokens} / {tokens.completion_tokens}" in page
    if step.invalid:
        assert step.invalid[0].detail in browser.find_element("id", "invalid").text
    tools = browser.find_element("css selector", "#tools pre").get_attribute("textContent")
    assert json.loads(tools) == store.get_run(episode.run_id).tools != []
    shot(browser, artifacts, f"step-{index}")
    no_console_errors(browser)


def test_filter_preview_shows_what_the_config_keeps(
    browser: Any, viewer: Viewer, store: Any, artifacts: Path
) -> None:
    open_page(browser, viewer.url + "/filter", "viewFilter")
    failed = latest_episode(store, "llm", 2)
    assert failed.status.value == "failed"
    row = browser.find_element("css selector", f"#preview tr[data-episode='{failed.id}']")
    assert "dropped by status" in row.text
    kept = latest_episode(store, "llm", 0)
    row = browser.find_element("css selector", f"#preview tr[data-episode='{kept.id}']")
    invalid = [s.index for s in store.steps(kept.id) if s.invalid_decision]
    assert invalid and f"{kept.steps - len(invalid)} / {kept.steps}" in row.text
    assert "decision-quality: removed" in row.text
    assert "output_dir" in browser.find_element("id", "not-used").text
    shot(browser, artifacts, "filter")


def test_training_page_draws_the_curves(
    browser: Any, viewer: Viewer, train_dir: Path, artifacts: Path
) -> None:
    open_page(browser, viewer.url + "/training", "viewTraining")
    loss = json.loads((train_dir / "loss_curve.json").read_text())
    points = browser.find_elements("css selector", "svg[data-title='loss'] circle.point")
    assert len(points) == len(loss["train"]) + len(loss["eval"])
    reward = json.loads((train_dir / "reward_curve.json").read_text())["iterations"]
    points = browser.find_elements("css selector", "svg[data-title='episode reward'] circle")
    assert len(points) == len(reward)
    shot(browser, artifacts, "training")


def test_the_exported_report_works_offline(
    browser: Any, report: Path, store: Any, artifacts: Path
) -> None:
    episode = latest_episode(store, "llm", 0)
    step = next(s for s in store.steps(episode.id) if s.index == 2)
    open_page(browser, f"{report.as_uri()}#/", "viewRuns")
    rows = browser.find_elements("css selector", "#runs tbody tr")
    assert sorted(r.get_attribute("data-run") for r in rows) == ["llm", "random"]
    for box in browser.find_elements("css selector", "#runs input[type='checkbox']"):
        box.click()
    browser.find_element("id", "compare").click()
    wait(browser, lambda d: d.find_elements("css selector", "#comparison thead th"))
    heads = [th.text for th in browser.find_elements("css selector", "#comparison thead th")]
    assert heads == ["", "llm", "random"]
    open_page(browser, f"{report.as_uri()}#/", "viewRuns")
    browser.find_element("css selector", f"#runs a[href='#/runs/{episode.run_id}']").click()
    wait(browser, lambda d: d.find_elements("css selector", "#episodes a"))
    shot(browser, artifacts, "export")
    browser.get(f"{report.as_uri()}#/steps/{episode.id}/2")
    wait(browser, lambda d: d.find_elements("css selector", "#prompt pre.text"))
    texts = [
        p.get_attribute("textContent")
        for p in browser.find_elements("css selector", "#prompt pre.text")
    ]
    assert texts[0] == step.prompt[0].content
    assert step.reply is not None and step.reply.text() in browser.find_element("id", "reply").text
    tools = browser.find_element("css selector", "#tools pre").get_attribute("textContent")
    assert json.loads(tools) == store.get_run(episode.run_id).tools
    for img in browser.find_elements("css selector", "#prompt img"):
        assert img.get_attribute("src").startswith("data:image/png;base64,")
        assert browser.execute_script("return arguments[0].naturalWidth > 0", img)
    browser.get(f"{report.as_uri()}#/episodes/{episode.id}")
    frame = wait(browser, lambda d: d.find_element("id", "frame"))
    wait(browser, lambda d: frame.get_attribute("data-step") == "0")
    browser.find_element("id", "play").click()
    wait(browser, lambda d: frame.get_attribute("data-step") not in ("0", None))
    no_console_errors(browser)
