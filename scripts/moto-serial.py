"""moto_server, one request at a time.

moto's Kinesis backend is not safe for concurrent requests: Shard.put_record
takes "the last sequence number + 1" without a lock ("this function is not
safe for concurrency", moto/kinesis/models.py), so two PutRecords handled at
once can give two records the same sequence number and one overwrites the
other. moto_server serves each request on its own thread; this runs the same
application with werkzeug's single-threaded server, so our client can keep
several requests in flight (they queue in the listen backlog) without moto
losing records. Usage: python moto-serial.py HOST PORT
"""

import signal
import sys

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(host, port, app, threaded=False, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
