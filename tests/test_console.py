"""The console sink into a pipe: plain status lines, none written twice in a row."""

from __future__ import annotations

import asyncio
import io

from twitchwatch.gateway.sinks.console import ConsoleSink


async def test_into_a_pipe_a_status_line_is_written_once_until_it_changes() -> None:
    state = {"line": "01:00:00  100 samples/s  frames lost 0"}
    out = io.StringIO()  # not a terminal: plain lines
    async with ConsoleSink(lambda: state["line"], out=out, plain_every_s=0.0):
        for _ in range(5):  # the status task runs on every turn of the loop
            await asyncio.sleep(0)
        state["line"] = "01:00:10  100 samples/s  frames lost 1"
        for _ in range(5):
            await asyncio.sleep(0)
    # the periodic lines and the final one: each different line once, in order
    assert out.getvalue().splitlines() == ["01:00:00  100 samples/s  frames lost 0",
                                           "01:00:10  100 samples/s  frames lost 1"]
