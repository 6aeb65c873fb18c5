"""Rift from Python: the task flow, a typed error, and a replay of the task's notifications.

    pip install -r clients/python/requirements.txt
    RIFT_ADDR=127.0.0.1:50051 python clients/python/example.py
"""

import itertools
import os

from rift_client import RiftClient, RiftError

target = os.environ.get("RIFT_ADDR", "127.0.0.1:50051")
with RiftClient(target, token=os.environ.get("RIFT_TOKEN")) as rift:
    print(rift.analyze("101", ["data1", "data2", "data3"]).summary)
    print(rift.narrate("101").narrative)
    print(rift.progress("101").status.name)

    try:
        rift.narrate("never-analyzed")
    except RiftError as error:
        print(error.code.name, error.reason)

    # "0": everything retained, then live; a notification's id resumes right after it.
    with rift.subscribe("101", after="0") as events:
        for event in itertools.islice(events, 3):
            print(event.id, event.agent, event.action)
