"""Poll a mailbox over IMAP (imap-tools): store each message raw, then move it away.

A round fetches up to `MAIL_IMAP_BATCH` messages of `MAIL_IMAP_FOLDER` (without marking them
seen), commits their bytes with their processing intent, and only **after** that commit moves
them to `MAIL_IMAP_DONE_FOLDER`. A crash between the two leaves them in the folder, to be
fetched again next round, where the unique Message-ID turns them into duplicates: a message may
be fetched twice, never lost.
"""

from __future__ import annotations

import logging
import time

from flask import current_app
from imap_tools import MailBox, MailBoxUnencrypted, MailMessage

from .store import store_many

log = logging.getLogger(__name__)


class RawMessage(MailMessage):
    """imap-tools' message, keeping the bytes exactly as the server sent them."""

    def __init__(self, fetch_data: list) -> None:
        super().__init__(fetch_data)
        self.raw: bytes = self._get_message_data_parts(fetch_data)[0]


class _Box(MailBox):
    email_message_class = RawMessage


class _PlainBox(MailBoxUnencrypted):
    email_message_class = RawMessage


def open_mailbox():
    """A logged-in mailbox on the configured server and folder (TLS unless turned off)."""
    config = current_app.config
    box_class = _Box if config["MAIL_IMAP_TLS"] else _PlainBox
    box = box_class(config["MAIL_IMAP_HOST"], config["MAIL_IMAP_PORT"], timeout=60)
    return box.login(config["MAIL_IMAP_USER"], config["MAIL_IMAP_PASSWORD"],
                     initial_folder=config["MAIL_IMAP_FOLDER"])


def poll_once(budget_seconds: float = 45.0) -> int:
    """One cron round: batches of `MAIL_IMAP_BATCH` (fetch, commit, then move) until the
    folder is empty or `budget_seconds` have passed. Returns how many messages were taken."""
    config = current_app.config
    if not config["MAIL_IMAP_HOST"]:
        return 0
    done_folder, batch = config["MAIL_IMAP_DONE_FOLDER"], config["MAIL_IMAP_BATCH"]
    deadline, taken = time.monotonic() + budget_seconds, 0
    with open_mailbox() as box:
        if not box.folder.exists(done_folder):
            box.folder.create(done_folder)
        while time.monotonic() < deadline:
            messages = list(box.fetch(limit=batch, mark_seen=False, bulk=True))
            if messages:
                store_many([m.raw for m in messages], source="imap")  # committed here
                box.move([m.uid for m in messages], done_folder)  # only then moved
                taken += len(messages)
            if len(messages) < batch:
                break
    if taken:
        log.info("imap: %d message(s) stored and moved to %s", taken, done_folder)
    return taken
