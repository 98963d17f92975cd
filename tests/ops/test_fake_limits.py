"""The fakes' rate limits answer as the platforms do, on the fake's own clock (jumped here)."""
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.telegram_api import FakeTelegramAPI

TOKEN = "123:ABC"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def send(http: aiohttp.ClientSession, api: FakeTelegramAPI, chat_id: int | str, text: str) -> tuple[int, dict]:
    async with http.post(f"{api.base_url}{TOKEN}/sendMessage", json={"chat_id": chat_id, "text": text}) as r:
        return r.status, await r.json()


async def test_telegram_group_gets_20_a_minute_then_429_with_retry_after(http: aiohttp.ClientSession):
    clock = Clock()
    api = await FakeTelegramAPI(token=TOKEN, limits=True, clock=clock).start()
    try:
        for n in range(20):
            clock.now += 0.5
            assert (await send(http, api, -100, f"post {n}"))[0] == 200
        status, body = await send(http, api, -100, "one too many")
        assert status == 429 and body["error_code"] == 429
        assert body["parameters"]["retry_after"] == 51  # the first post leaves the minute 50.5 s later
        assert (await send(http, api, -200, "another group"))[0] == 200
        clock.now += 51
        assert (await send(http, api, -100, "after the wait"))[0] == 200
        assert api.log.most_in_window(-100, 60) == 20
        assert api.log.most_in_window(-100, 60, tried=True) == 21  # the refused send arrived too
        assert [r.rule for r in api.too_many] == ["group"]
        assert api.log.missing([(-100, "post 0"), (-100, "one too many")]) == [("-100", "one too many")]
    finally:
        await api.close()


async def test_telegram_private_chat_bursts_3_and_overall_30_per_second(http: aiohttp.ClientSession):
    clock = Clock()
    api = await FakeTelegramAPI(token=TOKEN, limits=True, clock=clock).start()
    try:
        statuses = [(await send(http, api, 555, f"hi {n}"))[0] for n in range(4)]
        assert statuses == [200, 200, 200, 429]
        clock.now += 1.0
        statuses = [(await send(http, api, 1000 + n, "hi"))[0] for n in range(31)]
        assert statuses == [200] * 30 + [429]
        assert [r.rule for r in api.too_many] == ["private", "overall"]
    finally:
        await api.close()


async def test_telegram_refused_chat_and_duplicates(http: aiohttp.ClientSession):
    api = await FakeTelegramAPI(token=TOKEN).start()  # limits off: only the switch refuses
    try:
        api.refuse_chat(-100)
        status, body = await send(http, api, -100, "won")
        assert status == 429 and body["parameters"]["retry_after"] == 30
        for _ in range(5):
            assert (await send(http, api, 555, "same"))[0] == 200
        api.lift_chat(-100)
        assert (await send(http, api, -100, "won"))[0] == 200
        assert api.log.duplicates() == {("555", "same"): 4}
        assert api.delivered(-100) == ["won"]
    finally:
        await api.close()


async def test_slack_channel_gets_a_burst_then_429_with_retry_after_header(http: aiohttp.ClientSession):
    clock = Clock()
    api = await FakeSlackApi(limits=True, clock=clock).start()
    try:
        async def post(channel: str) -> tuple[int, str | None]:
            async with http.post(f"{api.api_url}chat.postMessage", json={"channel": channel, "text": "x"}) as r:
                return r.status, r.headers.get("Retry-After")

        assert [await post("C1") for _ in range(4)] == [(200, None)] * 3 + [(429, "1")]
        assert await post("C2") == (200, None)
        clock.now += 1.0
        assert await post("C1") == (200, None)
        assert len(api.posts("chat.postMessage")) == 5 and len(api.log.rejections) == 1
    finally:
        await api.stop()
