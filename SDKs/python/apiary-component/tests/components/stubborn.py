#!/usr/bin/env python3
"""A pub/sub whose PullMessages generator never looks at `subscription.active`:
the graceful stop must still end the process (exit 0, socket removed).

    python3 stubborn.py --socket PATH
"""

import argparse
import sys
import threading

from apiary_component import PubSub, serve

FOREVER = threading.Event()  # never set


class Stubborn(PubSub):
    def pull_messages(self, subscription):
        print(f"pulling {subscription.topic}", file=sys.stderr, flush=True)
        while True:  # ignores subscription.active on purpose
            FOREVER.wait(0.05)
            if False:
                yield None


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--socket", required=True)
    serve("stubborn", Stubborn, socket_path=parser.parse_args().socket, stop_timeout=0.5)
