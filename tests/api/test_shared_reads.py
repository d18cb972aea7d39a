"""kbsync_api.routes.SharedReads: concurrent polls of one execution share one read of it."""

import asyncio
import threading

from kbsync_api.routes import SharedReads


class CountingRead:
    """A blocking read that waits to be released, counting its calls."""

    def __init__(self):
        self.calls = 0
        self.release = threading.Event()

    def __call__(self, value):
        self.calls += 1
        self.release.wait(5)
        return f"{value} #{self.calls}"


def test_concurrent_reads_of_one_key_share_one_call_and_later_ones_read_again():
    async def scenario():
        reads, read = SharedReads(), CountingRead()
        waiting = [asyncio.ensure_future(reads.read("id-1", read, "id-1")) for _ in range(20)]
        other = asyncio.ensure_future(reads.read("id-2", read, "id-2"))
        await asyncio.sleep(0.05)
        read.release.set()
        shared = await asyncio.gather(*waiting)
        assert len(set(shared)) == 1
        assert (await other).startswith("id-2")
        assert read.calls == 2
        assert (await reads.read("id-1", read, "id-1")) == "id-1 #3"

    asyncio.run(scenario())


def test_a_waiter_that_goes_away_does_not_cancel_the_others_read():
    async def scenario():
        reads, read = SharedReads(), CountingRead()
        leaving = asyncio.ensure_future(reads.read("id", read, "id"))
        staying = asyncio.ensure_future(reads.read("id", read, "id"))
        await asyncio.sleep(0.05)
        leaving.cancel()
        read.release.set()
        assert await staying == "id #1"

    asyncio.run(scenario())
