"""Places a call with grpcio, reads it back, and watches its conversation to the end.

    pip install grpcio grpcio-tools
    python3 examples/python/client.py --key sk_... [--target localhost:50051] [--agent 1]
"""

import argparse
import sys
import uuid

import grpc

import stubs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="localhost:50051")
    parser.add_argument("--key", required=True, help="an API key (sk_...)")
    parser.add_argument("--agent", type=int, default=1)
    parser.add_argument("--phone", default="+919876543210")
    args = parser.parse_args()
    pb, rpc = stubs.load()
    auth = [("authorization", f"Bearer {args.key}")]

    with grpc.insecure_channel(args.target) as channel:
        calls = rpc.CallServiceStub(channel)
        request = pb.MakeCallRequest(
            agent_id=args.agent,
            idempotency_key=str(uuid.uuid4()),
            parameters=[pb.Parameter(name="customer_phone", value=args.phone)],
        )
        request.retry_context.collected_data.update({"intent": "payment_follow_up"})
        try:
            receipt = calls.MakeCall(request, metadata=auth, timeout=10).data
        except grpc.RpcError as error:
            sys.exit(f"MakeCall: {error.code().name}: {error.details()}")
        print(f"placed   trace_id={receipt.trace_id} conversation_id={receipt.conversation_id} "
              f"attempt={receipt.attempt_number} status={receipt.status}")

        attempt = calls.GetCall(pb.GetCallRequest(trace_id=receipt.trace_id), metadata=auth, timeout=10).data
        print(f"read     status={pb.CallStatus.Name(attempt.status)} customer_phone={attempt.customer_phone}")

        # Every change to the chain's attempts, until this attempt ends (the simulated dialer plays
        # it out in about a second).
        final = {pb.CALL_STATUS_COMPLETED, pb.CALL_STATUS_FAILED, pb.CALL_STATUS_NO_ANSWER,
                 pb.CALL_STATUS_BUSY, pb.CALL_STATUS_UNREACHABLE, pb.CALL_STATUS_CANCELED}
        watch = calls.WatchConversation(
            pb.WatchConversationRequest(conversation_id=receipt.conversation_id), metadata=auth, timeout=60)
        for update in watch:
            status = update.attempt.status
            print(f"watched  attempt={update.attempt.attempt_number} status={pb.CallStatus.Name(status)}")
            if update.attempt.trace_id == receipt.trace_id and status in final:
                watch.cancel()
                break
        else:
            sys.exit("the watch ended before the attempt did")


if __name__ == "__main__":
    main()
