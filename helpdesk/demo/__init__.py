"""Demo data: the reference rows a working helpdesk needs, and a fast, deterministic dataset.

`seed()` never builds ORM objects per ticket: on an empty database it gives out the ids itself,
builds plain rows and inserts them in chunks (executemany), then resets PostgreSQL's sequences.

The copy (teams, staff, customers' names, what they write, how agents answer) lives in the TOML
files of `data/`, read by `copy`; the modules here only draw from it:

- `loader`: `seed`, `seed_reference`, `has_data`, the demo logins
- `reference`: teams, categories, SLA policies, calendar, templates, routing rules
- `people`: staff and customers · `plan`: the dice, the clock, the id counters, agents' room
- `tickets`: drawn, routed, scheduled · `threads`: their messages · `rows`: their table rows
- `bulk`: chunked inserts, sequences, the progress bar
"""

from .bulk import BULK_TABLES, CHUNK
from .loader import DEMO_LOGINS, DEMO_PASSWORD, has_data, seed, seed_reference

__all__ = ["BULK_TABLES", "CHUNK", "DEMO_LOGINS", "DEMO_PASSWORD", "has_data", "seed",
           "seed_reference"]
