"""500 concurrent unary calls, then 500 open WatchConversation streams, on one grpcio channel.

The server advertises its stream limit (--grpc-max-streams, 1024), so a client with this much
fan-out queues rather than fails. Exits non-zero unless every call and every stream succeeds.

    python3 examples/python/fanout.py --key sk_... [--target localhost:50051] [--agent 1] [--count 500]

The key's tenant needs room for the calls: no per-number or concurrent-call limit, e.g.
`switchboard tenants create --name fanout --number-rate-limit 0 --max-concurrent-calls 0`.
"""

import argparse
import asyncio
import sys

import grpc

import stubs


async def run(args, pb, rpc):
    auth = [("authorization", f"Bearer {args.key}")]
    async with grpc.aio.insecure_channel(args.target) as channel:
        calls = rpc.CallServiceStub(channel)

        def request(number):
            return pb.MakeCallRequest(
                agent_id=args.agent,
                # +1555 and a distinct 7-digit number: no per-number limit is shared.
                parameters=[pb.Parameter(name="customer_phone", value=f"+1555{number:07d}")],
            )

        results = await asyncio.gather(
            *(calls.MakeCall(request(n), metadata=auth, timeout=60) for n in range(args.count)),
            return_exceptions=True)
        failed = [r for r in results if isinstance(r, Exception)]
        print(f"unary:  {len(results) - len(failed)} of {args.count} OK")
        if failed:
            codes = {}
            for error in failed:
                name = error.code().name if isinstance(error, grpc.RpcError) else type(error).__name__
                codes[name] = codes.get(name, 0) + 1
            sys.exit(f"unary calls failed: {codes}")

        # Open one watch per conversation; each must deliver its first update while all are open.
        streams = [calls.WatchConversation(
            pb.WatchConversationRequest(conversation_id=r.data.conversation_id), metadata=auth, timeout=60)
            for r in results]
        firsts = await asyncio.gather(*(stream.read() for stream in streams), return_exceptions=True)
        opened = [f for f in firsts if not isinstance(f, Exception) and f is not grpc.aio.EOF]
        for stream in streams:
            stream.cancel()
        print(f"watch:  {len(opened)} of {args.count} streams open at once delivered their first update")
        if len(opened) != args.count:
            errors = [f for f in firsts if isinstance(f, Exception)][:3]
            sys.exit(f"watch streams failed: {errors}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="localhost:50051")
    parser.add_argument("--key", required=True)
    parser.add_argument("--agent", type=int, default=1)
    parser.add_argument("--count", type=int, default=500)
    args = parser.parse_args()
    pb, rpc = stubs.load()
    asyncio.run(run(args, pb, rpc))


if __name__ == "__main__":
    main()
