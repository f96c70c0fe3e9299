"""The change log: group-committed appends, dispatch in order, doc loading, catch-up
queries, compaction.

One module per part:
- `sql`: helpers shared with the server's own modules (times, chunks, upserts);
- `items`: what travels through the log (appends, refusals, contacts, server writes);
- `writer`: the one writer and its group commit;
- `follower`: dispatch in sequence order, and other instances' commits read back;
- `reader`: the typed reads the hub and the sessions use;
- `devices`: the device registry;
- `compaction`: snapshots of old rows, through the writer;
- `store`: `Log`, the parts as one service.
"""

from .compaction import Compactor
from .items import (
    Append,
    CommitHook,
    Contact,
    DeviceState,
    DispatchHook,
    DocMeta,
    Item,
    NewDoc,
    Refusal,
    Write,
)
from .reader import Reader, Reads, load_states
from .sql import SEQ, chunks, mark_reset, merge, now_ms, upsert
from .store import Log

__all__ = [
    "SEQ",
    "Append",
    "CommitHook",
    "Compactor",
    "Contact",
    "DeviceState",
    "DispatchHook",
    "DocMeta",
    "Item",
    "Log",
    "NewDoc",
    "Reader",
    "Reads",
    "Refusal",
    "Write",
    "chunks",
    "load_states",
    "mark_reset",
    "merge",
    "now_ms",
    "upsert",
]
