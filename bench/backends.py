"""The channel backends of the dispatch benchmark: in memory, and keeping nothing.

The tests' in-memory backends (``clinic.notifications.backends.Locmem*``) keep every message in
an outbox for the test to read. A benchmark worker sends 50,000 messages over a run, and a worker
process holding 25,000 of them paid for them in its garbage collector: a full collection walks
every object it holds, and two of them stalled a dispatch round by ~90 ms each (traced with
``gc.callbacks``), a cost that grows with the run's history, not with the round it measures. A
provider's backend keeps nothing once a message is handed over; neither do these. They do the
same work per message as the tests' ones otherwise: the e-mail is rendered (``message()``: the
header checks and MIME encoding any e-mail backend does), the text message and the push get a
provider id.
"""

import uuid

from django.core.mail.backends.base import BaseEmailBackend

from clinic.notifications import DeliveryResult
from clinic.notifications.backends import BasePushBackend, BaseSMSBackend


class RenderingEmailBackend(BaseEmailBackend):
    """Renders each message, as the in-memory backend does, and forgets it."""

    def send_messages(self, messages):
        count = 0
        for message in messages:
            message.message()
            count += 1
        return count


class AcceptingSMSBackend(BaseSMSBackend):
    def send(self, to, text):
        return DeliveryResult(provider_message_id=f"bench-{uuid.uuid4().hex}")


class AcceptingPushBackend(BasePushBackend):
    def send(self, token, platform, title, body, data):
        return DeliveryResult(provider_message_id=f"bench-{uuid.uuid4().hex}")
