"""E-mail in: store raw (store), parse (parse, quotes), find the ticket (thread), decide (process),
and the IMAP poller (imap). The state changes themselves live in `workflows.inbound`."""
