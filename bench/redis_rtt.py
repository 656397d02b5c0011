"""One Redis round trip on loopback: sync redis-py against redis.asyncio, and the job codec.

The figures behind WIRING.md's "sync or asyncio" decision: what one GET costs
from a synchronous client (the domain is synchronous), from ``redis.asyncio``
awaited one at a time in an event loop (what an async handler would pay), and
what many async calls in flight give in throughput; plus what encoding and
decoding one job with ``store.codec.JobCodec`` costs (every poll decodes one).

Starts its own redis-server (Debian's package) on a free loopback port.

    .venv/bin/python bench/redis_rtt.py [--ops 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import redis
import redis.asyncio as aredis
from _common import load_average
from store_ops import start_redis

from mockserver.domain.lifecycle import Job, Plan, WebhookTarget
from mockserver.providers import registry
from mockserver.store.codec import JobCodec


def _summary(samples: list[float]) -> str:
    samples.sort()
    median = statistics.median(samples) * 1e6
    p99 = samples[int(len(samples) * 0.99)] * 1e6
    return f"median {median:7.1f} us  p99 {p99:7.1f} us"


def sync_gets(url: str, count: int) -> list[float]:
    client = redis.Redis.from_url(url)
    client.set("rtt", b"x" * 600)
    times = []
    for _ in range(count):
        start = time.perf_counter()
        client.get("rtt")
        times.append(time.perf_counter() - start)
    client.close()
    return times


async def async_gets(url: str, count: int) -> list[float]:
    client = aredis.Redis.from_url(url)
    await client.set("rtt", b"x" * 600)
    times = []
    for _ in range(count):
        start = time.perf_counter()
        await client.get("rtt")
        times.append(time.perf_counter() - start)
    await client.aclose()
    return times


async def async_throughput(url: str, count: int, in_flight: int) -> float:
    client = aredis.Redis.from_url(url, max_connections=in_flight)

    async def worker(n: int) -> None:
        for _ in range(n):
            await client.get("rtt")

    start = time.perf_counter()
    await asyncio.gather(*(worker(count // in_flight) for _ in range(in_flight)))
    elapsed = time.perf_counter() - start
    await client.aclose()
    return count / elapsed


async def thread_throughput(url: str, count: int, in_flight: int) -> float:
    """The synchronous client called through ``asyncio.to_thread`` (a sync domain off the loop)."""
    client = redis.Redis.from_url(url, max_connections=in_flight)

    async def worker(n: int) -> None:
        for _ in range(n):
            await asyncio.to_thread(client.get, "rtt")

    start = time.perf_counter()
    await asyncio.gather(*(worker(count // in_flight) for _ in range(in_flight)))
    elapsed = time.perf_counter() - start
    client.close()
    return count / elapsed


def codec_costs(count: int) -> tuple[str, str, int]:
    codec = JobCodec(registry.job_field_types())
    job = Job(id="5b1f0c2e-8a55-4f0e-9a7c-1f2d3e4a5b6c", provider="wavespeed",
              model_id="wavespeed-ai/wan-2.2/image-to-video", key="sk-test",
              input={"prompt": "a cat walking on the beach at sunset, cinematic",
                     "image": "https://example.com/frame.png", "duration": 5},
              created_at=1000.0, plan=Plan(3.5, 31.5),
              webhook=WebhookTarget("https://hooks.example.com/wavespeed"),
              price={"amount": "0.40", "currency": "USD", "label": "5s 720p"},
              base_url="http://127.0.0.1:8000/wavespeed", media_base_url="http://127.0.0.1:8000",
              admitted=(1 << 32) | 1, size=900)
    data = codec.encode(job)
    encode, decode = [], []
    for _ in range(count):
        start = time.perf_counter()
        codec.encode(job)
        middle = time.perf_counter()
        codec.decode(data)
        encode.append(middle - start)
        decode.append(time.perf_counter() - middle)
    return _summary(encode), _summary(decode), len(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ops", type=int, default=20_000)
    count = parser.parse_args().ops
    with tempfile.TemporaryDirectory() as directory:
        process, url = start_redis(Path(directory))
        try:
            print(f"load {load_average()}; {count} GETs of 600 bytes each, loopback")
            print(f"sync redis-py GET        {_summary(sync_gets(url, count))}")
            print(f"redis.asyncio GET        {_summary(asyncio.run(async_gets(url, count)))}")
            for in_flight in (1, 16, 64):
                rate = asyncio.run(async_throughput(url, count, in_flight))
                print(f"redis.asyncio {in_flight:2d} in flight {rate:10.0f} GET/s")
            for in_flight in (1, 16):
                rate = asyncio.run(thread_throughput(url, count, in_flight))
                print(f"sync via to_thread {in_flight:2d} in flight {rate:6.0f} GET/s")
            sync_rate = count / sum(sync_gets(url, count))
            print(f"sync redis-py 1 in flight {sync_rate:9.0f} GET/s")
        finally:
            process.terminate()
            process.wait(timeout=10)
    encode, decode, size = codec_costs(count)
    print(f"JobCodec encode           {encode}  ({size} bytes)")
    print(f"JobCodec decode           {decode}")


if __name__ == "__main__":
    main()
